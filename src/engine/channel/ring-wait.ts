import { isMainThread } from 'node:worker_threads'

/**
 * Futex-style waits on one Int32Array word, shared by both ends of a ring.
 *
 * Two facts shape this file (docs/ARCHITECTURE.md, "Threads"):
 * - a pending `Atomics.waitAsync` does not keep Node 20's event loop alive, so every
 *   async wait holds a ref'd timer until it settles (callers cannot forget it);
 * - `Atomics.wait` would freeze the coordinator's event loop, so the blocking wait
 *   refuses to run on the main thread.
 */

export type WaitOutcome = 'ok' | 'not-equal' | 'timed-out'

type WaitAsyncResult =
  | { async: false; value: 'not-equal' | 'timed-out' }
  | { async: true; value: Promise<'ok' | 'timed-out'> }

// ES2024's Atomics.waitAsync exists in Node 20 (V8) but not in this project's ES2023 lib typings.
const waitAsyncNative = (Atomics as unknown as {
  waitAsync(array: Int32Array, index: number, value: number, timeout?: number): WaitAsyncResult
}).waitAsync

/** The longest single timer Node accepts; a keep-alive only needs to exist, never to fire usefully. */
const KEEP_ALIVE_PERIOD_MS = 2 ** 31 - 1

let keepAliveCount = 0
let keepAliveTimer: ReturnType<typeof setInterval> | undefined

function holdEventLoop(): void {
  if (keepAliveCount++ === 0) keepAliveTimer = setInterval(() => {}, KEEP_ALIVE_PERIOD_MS)
}

function releaseEventLoop(): void {
  if (--keepAliveCount === 0 && keepAliveTimer !== undefined) {
    clearInterval(keepAliveTimer)
    keepAliveTimer = undefined
  }
}

/** Async wait while `array[index] === expected`; keeps the event loop alive while pending. */
export async function waitAsyncHeld(array: Int32Array, index: number, expected: number, timeoutMs: number): Promise<WaitOutcome> {
  const result = waitAsyncNative(array, index, expected, normalizeTimeout(timeoutMs))
  if (!result.async) return result.value
  holdEventLoop()
  try {
    return await result.value
  } finally {
    releaseEventLoop()
  }
}

/** Blocking wait; only legal inside a worker thread. */
export function waitBlocking(array: Int32Array, index: number, expected: number, timeoutMs: number): WaitOutcome {
  assertBlockingAllowed()
  return Atomics.wait(array, index, expected, normalizeTimeout(timeoutMs))
}

export function assertBlockingAllowed(): void {
  if (isMainThread) {
    throw new Error('blocking ring waits (Atomics.wait) are only allowed in worker threads; use the async variant on the main thread')
  }
}

function normalizeTimeout(timeoutMs: number): number {
  if (!(timeoutMs >= 0)) return 0
  return timeoutMs
}

/** How many async waits currently hold the event loop open (tests check that none leak). */
export function pendingAsyncWaits(): number {
  return keepAliveCount
}
