/**
 * acks=all waits on the leader's main thread, woken by the HW the leader computes there from
 * its followers' fetch offsets (ClusterNode.updateHighWatermark). Waiting on the worker's
 * published HW instead cost each acknowledgement a round trip through the partition worker
 * (about 1 ms at the median of an OffsetCommit on three brokers).
 */

interface Waiter { offset: number; wake: () => void }

export class HighWatermarkWaiters {
  private readonly byPartition = new Map<string, Set<Waiter>>()

  /** Resolves once `wake(key, hw)` reports a HW past `offset`, by `poke(key)`, or after `timeoutMs`. Never rejects. */
  wait(key: string, offset: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.byPartition.get(key)
      if (!set) this.byPartition.set(key, set = new Set())
      const partitionSet = set
      const waiter: Waiter = {
        offset,
        wake: () => {
          clearTimeout(timer)
          partitionSet.delete(waiter)
          if (partitionSet.size === 0 && this.byPartition.get(key) === partitionSet) this.byPartition.delete(key)
          resolve()
        },
      }
      const timer = setTimeout(waiter.wake, Math.max(0, timeoutMs))
      partitionSet.add(waiter)
    })
  }

  /** The partition's HW is now `highWatermark`: wakes the waits for offsets below it. */
  wake(key: string, highWatermark: number): void {
    const set = this.byPartition.get(key)
    if (set) for (const waiter of set) if (highWatermark > waiter.offset) waiter.wake()
  }

  /** Wakes every wait of the partition so it looks again (its ISR or leadership changed). */
  poke(key: string): void {
    const set = this.byPartition.get(key)
    if (set) for (const waiter of [...set]) waiter.wake()
  }

  /** Wakes every wait (the node is closing). */
  wakeAll(): void {
    for (const set of [...this.byPartition.values()]) for (const waiter of [...set]) waiter.wake()
  }

  /** Waits held now (tests: none left once every wait woke). */
  get size(): number {
    let n = 0
    for (const set of this.byPartition.values()) n += set.size
    return n
  }
}
