/**
 * Fixed-rate offering: record i is due at start + i/rate. Due records are collected into a
 * batch (their due times are the stamps) that is handed to `emit` when full or when its
 * oldest record waited `lingerMs`, as a producer with linger.ms would. A late loop (timers,
 * GC, a busy machine) catches up by emitting everything that fell due, never by dropping:
 * latency measured from due times then includes the lateness (no coordinated omission).
 */
import { setTimeout as sleep } from 'node:timers/promises'

export interface PacerOptions {
  /** Records per second. */
  rate: number
  lingerMs: number
  /** Largest batch handed to `emit`. */
  maxBatch: number
  /** hrtime ns of record 0's due time, default now. */
  startNs?: bigint
  /** Asked with the records offered so far; false ends the run (the partial batch is emitted). */
  shouldContinue(recordsOffered: number): boolean
  /** Takes a batch's due times; the array is reused after it returns. Stop early by returning false. */
  emit(stamps: readonly bigint[]): boolean | void
}

/** Offers records until `shouldContinue` says stop; resolves with the number offered. */
export async function runPacer(options: PacerOptions): Promise<number> {
  const { rate, lingerMs, maxBatch } = options
  if (!(rate > 0)) throw new RangeError(`rate must be > 0, got ${rate}`)
  const intervalNs = 1e9 / rate
  const startNs = options.startNs ?? process.hrtime.bigint()
  const stamps: bigint[] = []
  let offered = 0
  let stopped = false
  const flush = (): void => {
    if (stamps.length === 0) return
    if (options.emit(stamps) === false) stopped = true
    stamps.length = 0
  }
  while (!stopped && options.shouldContinue(offered)) {
    const nowNs = process.hrtime.bigint()
    const elapsedNs = Number(nowNs - startNs)
    let due = Math.floor(elapsedNs / intervalNs) + 1 - offered
    if (due > 0) {
      while (due-- > 0 && !stopped && options.shouldContinue(offered)) {
        stamps.push(startNs + BigInt(Math.round(offered * intervalNs)))
        offered++
        if (stamps.length >= maxBatch) flush()
      }
      continue
    }
    const oldestWaitedMs = stamps.length > 0 ? Number(nowNs - stamps[0]) / 1e6 : 0
    if (stamps.length > 0 && oldestWaitedMs >= lingerMs) {
      flush()
      continue
    }
    // Records falling due while we sleep are packed on wake-up with their own due times, so
    // with a partial batch open we only need to wake when it fills or its linger runs out
    // (fewer wake-ups, same stamps). Timers cannot wait less than ~1 ms.
    const untilNextMs = (offered * intervalNs - elapsedNs) / 1e6
    const untilWakeMs = stamps.length === 0
      ? untilNextMs
      : Math.min(lingerMs - oldestWaitedMs, untilNextMs + ((maxBatch - stamps.length - 1) * intervalNs) / 1e6)
    await sleep(Math.max(1, untilWakeMs))
  }
  flush()
  return offered
}
