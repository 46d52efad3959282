/**
 * Parked follower fetches on the leader, waiting for its log end to move (Kafka's delayed fetch
 * for a follower completes on new data, not on a HW move). One waiter per fetch, with a single
 * timer and promise, entered in the set of every partition the fetch names and taken out of all
 * of them as soon as it wakes: a follower's fetch names every partition it replicates from this
 * leader, and per-partition promises and timers, each alive until maxWaitMs, were most of the
 * leader's garbage per acks=all round trip (minor GC pauses were the commit latency tail).
 */

/** One partition of a parked fetch: wake once the leader's log end passes `offset`. */
export interface AppendWait { topic: string; partition: number; offset: number }

import { partitionKey } from './partition-keys.js'

interface Entry { offset: number; wake: () => void }

const keyOf = partitionKey

export class AppendWaiters {
  private readonly byPartition = new Map<string, Set<Entry>>()

  /**
   * Resolves once `wake(topic, partition, end)` reports an end past any wait's offset, on
   * abort, or after `timeoutMs`; at once when `logEnd` already passes one. Never rejects.
   */
  wait(waits: readonly AppendWait[], timeoutMs: number, logEnd: (topic: string, partition: number) => number, signal?: AbortSignal): Promise<void> {
    if (timeoutMs <= 0 || signal?.aborted) return Promise.resolve()
    for (const w of waits) if (logEnd(w.topic, w.partition) > w.offset) return Promise.resolve()
    return new Promise((resolve) => {
      const entered: [string, Set<Entry>, Entry][] = []
      let done = false
      const wake = (): void => {
        if (done) return
        done = true
        clearTimeout(timer)
        signal?.removeEventListener('abort', wake)
        for (const [key, set, entry] of entered) {
          set.delete(entry)
          if (set.size === 0 && this.byPartition.get(key) === set) this.byPartition.delete(key)
        }
        resolve()
      }
      const timer = setTimeout(wake, timeoutMs)
      signal?.addEventListener('abort', wake, { once: true })
      for (const w of waits) {
        const key = keyOf(w.topic, w.partition)
        let set = this.byPartition.get(key)
        if (!set) this.byPartition.set(key, set = new Set())
        const entry: Entry = { offset: w.offset, wake }
        set.add(entry)
        entered.push([key, set, entry])
      }
    })
  }

  /** The leader's log end of a partition is now `logEnd`: wakes the fetches waiting past less. */
  wake(topic: string, partition: number, logEnd: number): void {
    const set = this.byPartition.get(keyOf(topic, partition))
    if (set) for (const entry of set) if (logEnd > entry.offset) entry.wake()
  }

  /** Wakes every parked fetch (the node is closing). */
  wakeAll(): void {
    for (const set of [...this.byPartition.values()]) for (const entry of set) entry.wake()
  }

  /** Partition entries held now, over all parked fetches (tests: none left once every fetch woke). */
  get entries(): number {
    let n = 0
    for (const set of this.byPartition.values()) n += set.size
    return n
  }
}
