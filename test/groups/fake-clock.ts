import type { GroupClock, TimerHandle } from '../../src/groups/clock.js'

/** Manual time for the group coordinator: timers fire only inside advance(), in due order. */
export class FakeClock implements GroupClock {
  private time = 1_000_000
  private nextId = 1
  private readonly timers = new Map<number, { at: number; callback: () => void }>()

  now(): number { return this.time }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    const id = this.nextId++
    this.timers.set(id, { at: this.time + Math.max(0, delayMs), callback })
    return id
  }

  clearTimer(handle: TimerHandle): void { this.timers.delete(handle as number) }

  get pendingTimers(): number { return this.timers.size }

  /** Moves time forward, firing due timers (including ones they schedule) in order. */
  advance(ms: number): void {
    const target = this.time + ms
    for (let guard = 0; guard < 100_000; guard++) {
      let nextId = -1
      let nextAt = Infinity
      for (const [id, t] of this.timers) if (t.at < nextAt || (t.at === nextAt && id < nextId)) { nextId = id; nextAt = t.at }
      if (nextId === -1 || nextAt > target) break
      const timer = this.timers.get(nextId)!
      this.timers.delete(nextId)
      this.time = nextAt
      timer.callback()
    }
    this.time = target
  }
}

/** Lets resolved promises' continuations run. */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** Tracks whether a promise has settled yet, without awaiting it. */
export function track<T>(promise: Promise<T>): { readonly done: boolean; readonly value: T | undefined; promise: Promise<T> } {
  const state = { done: false, value: undefined as T | undefined, promise }
  promise.then((v) => { state.done = true; state.value = v })
  return state
}
