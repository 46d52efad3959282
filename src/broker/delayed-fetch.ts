/**
 * Long-poll parking for Fetch (maxWaitMs / minBytes), on the coordinator thread: a parked fetch
 * costs one engine.waitForData per partition (an Atomics.waitAsync on the partition's
 * high-watermark counter, no worker round trip) and wakes when any of them moves, when the
 * deadline passes, or when the connection/server goes away.
 */
import type { LogEngine } from '../engine/log-engine.js'

export interface FetchWait {
  topic: string
  partition: number
  /** Wake when the high watermark (with `committed`: the last stable offset) passes this offset. */
  offset: number
  committed?: boolean
}

/** Resolves when new data may be there, after `timeoutMs`, or on abort; never rejects. */
export function waitForAnyData(engine: LogEngine, waits: readonly FetchWait[], timeoutMs: number, signal: AbortSignal): Promise<void> {
  if (timeoutMs <= 0 || signal.aborted) return Promise.resolve()
  return new Promise<void>((resolve) => {
    let done = false
    const finish = (): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      signal.removeEventListener('abort', finish)
      resolve()
    }
    const timer = setTimeout(finish, timeoutMs)
    signal.addEventListener('abort', finish, { once: true })
    for (const w of waits) {
      let waiting: Promise<void>
      try {
        waiting = engine.waitForData(w.topic, w.partition, w.offset, timeoutMs, w.committed === true)
      } catch {
        // A partition dropped meanwhile: answering now reports it.
        finish()
        return
      }
      waiting.then(finish, finish)
    }
  })
}
