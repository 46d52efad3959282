import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { childScriptArgv } from '../node-argv.js'
import { randomForTest } from '../seed.js'
import { PartitionLog } from '../../src/storage/partition-log.js'

const CHILD = fileURLToPath(new URL('./log-kill-child.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
// Kill rounds: RINGLOG_KILL_ROUNDS (npm run test:soak raises it) or the quick default.
const ROUNDS = Number(process.env.RINGLOG_KILL_ROUNDS ?? 6)

const root = mkdtempSync(join(tmpdir(), 'ringlog-kill-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

/** Runs the child until its first acknowledgement, lets it append `appendMs` longer, SIGKILLs it, returns its acknowledged lines. */
function runAndKill(dir: string, seed: number, appendMs: number): Promise<{ acked: Map<number, string>; killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, childScriptArgv(CHILD, [dir, String(seed)]), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    let killTimer: NodeJS.Timeout | undefined
    const guard = setTimeout(() => { child.kill('SIGKILL') }, 20_000)
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk
      // The random kill point is measured from the first acknowledgement, so a slow start-up on a
      // loaded machine cannot make a round end before anything was acknowledged.
      if (!killTimer && /^\d+ /m.test(out)) killTimer = setTimeout(() => { child.kill('SIGKILL') }, appendMs)
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { err += chunk })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      clearTimeout(guard)
      if (killTimer) clearTimeout(killTimer)
      if (signal !== 'SIGKILL') { reject(new Error(`child exited on its own (code ${code}): ${err}`)); return }
      const acked = new Map<number, string>()
      // Only whole lines count: the kill may cut the last one.
      const lines = out.split('\n').slice(0, -1)
      for (const line of lines) {
        if (line === 'ready') continue
        const [offset, hash] = line.split(' ')
        acked.set(Number(offset), hash)
      }
      resolve({ acked, killed: true })
    })
  })
}

describe('log survives SIGKILL', () => {
  it(`keeps every acknowledged batch byte for byte over ${ROUNDS} kill rounds`, async () => {
    const dir = join(root, 'crash-0')
    const acked = new Map<number, string>()
    const random = randomForTest()
    let rounds = 0
    for (let round = 0; round < ROUNDS; round++) {
      // The child's own choices (batch sizes) follow a per-round seed drawn from the test's.
      const seed = random.int(2 ** 32)
      const appendMs = 100 + random.int(200)
      const result = await runAndKill(dir, seed, appendMs)
      for (const [offset, hash] of result.acked) acked.set(offset, hash)
      expect(result.acked.size).toBeGreaterThan(0)

      const log = await PartitionLog.open(dir, { flush: 'always', segmentBytes: 64 * 1024, indexIntervalBytes: 1024 })
      try {
        for (const [offset, hash] of acked) {
          const slice = log.read(offset, 1, { maxOffset: log.logEndOffset })
          expect(slice.baseOffsetOfFirstBatch).toBe(offset)
          const bytes = log.readBytes(slice)
          expect(createHash('sha256').update(bytes).digest('hex')).toBe(hash)
        }
        expect(log.logEndOffset).toBeGreaterThan(Math.max(...acked.keys()))
      } finally {
        await log.close()
      }
      rounds++
    }
    expect(rounds).toBe(ROUNDS)
    expect(acked.size).toBeGreaterThan(ROUNDS * 10)
  }, Math.max(240_000, ROUNDS * 12_000))
})
