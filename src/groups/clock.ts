/**
 * Time and timers for the group coordinator, injected so tests can drive session
 * timeouts and rebalance delays with fake time instead of sleeping.
 */
export type TimerHandle = unknown

export interface GroupClock {
  now(): number
  /** Runs `callback` once after `delayMs`. */
  setTimer(callback: () => void, delayMs: number): TimerHandle
  clearTimer(handle: TimerHandle): void
  /** Optional: lets a background timer (retention checks) not keep the process alive. */
  unrefTimer?(handle: TimerHandle): void
}

export const realClock: GroupClock = {
  now: () => Date.now(),
  setTimer: (callback, delayMs) => setTimeout(callback, Math.max(0, delayMs)),
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
  unrefTimer: (handle) => { (handle as NodeJS.Timeout).unref() },
}
