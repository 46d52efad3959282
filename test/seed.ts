/**
 * A replayable random source for a test that makes random choices (kill points, fuzz cases).
 * The seed comes from RINGLOG_SEED when set (replay), otherwise it is drawn fresh; a failing
 * test carries `seed=<n>` in its failure message, and replays with
 * `RINGLOG_SEED=<n> npx vitest run <file>`.
 */
import { onTestFailed } from 'vitest'

export interface SeededRandom {
  readonly seed: number
  /** Uniform in [0, 1). */
  next(): number
  /** Uniform integer in [0, bound). */
  int(bound: number): number
}

/** mulberry32: small, fast, and the same sequence on every platform for a given seed. */
export function seededRandom(seed: number): SeededRandom {
  let state = seed >>> 0
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return { seed, next, int: (bound) => Math.floor(next() * bound) }
}

/** RINGLOG_SEED if set, else a fresh seed; a bad value is an error, not a silent fresh seed. */
export function testSeed(): number {
  const fromEnv = process.env.RINGLOG_SEED
  if (fromEnv === undefined || fromEnv === '') return Math.floor(Math.random() * 2 ** 32)
  const seed = Number(fromEnv)
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new Error(`RINGLOG_SEED must be an integer in [0, 2^32), got ${fromEnv}`)
  return seed
}

/**
 * Call inside a test: returns its random source and makes a failure name the seed, in the
 * failure message itself (so it survives any reporter) and on stderr.
 */
export function randomForTest(): SeededRandom {
  const seed = testSeed()
  onTestFailed(({ task }) => {
    for (const error of task.result?.errors ?? []) error.message = `seed=${seed} ${error.message}`
    process.stderr.write(`seed=${seed}: replay with RINGLOG_SEED=${seed} npx vitest run ${task.file.name}\n`)
  })
  return seededRandom(seed)
}
