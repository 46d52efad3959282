/**
 * Calls waiting for their worker's reply, by request id: a slot array indexed by the id's low
 * bits (ids are handed out in sequence, so pending calls rarely share a slot), doubled when
 * half full. A call whose slot is still held by an older one (a call pending while the ids
 * came round) waits in a small overflow map instead, so a slow call never grows the array.
 *
 * Not a Map for all of them, on purpose. A Map that gains and loses an entry per send keeps
 * reallocating its hash table, and V8 links every outgrown table to its successor. Once one
 * such table was promoted to the old generation, it kept the chain of newer tables, and every
 * call they still referenced (promises, closures, replies), alive through young-generation
 * collections: measured, about 15% of everything the send path allocated survived each
 * scavenge (1.4 MB), which made the main thread's scavenges take 3-5 ms, a latency spike for
 * every in-flight send. With this table 64 KB survive and a scavenge takes about 1 ms.
 */
export interface PendingCall {
  resolve(value: unknown): void
  reject(error: Error): void
  kind: 'append' | 'control'
}

interface Entry {
  id: number
  call: PendingCall
}

const INITIAL_SLOTS = 256

export class PendingCalls {
  private slots: (Entry | undefined)[] = new Array<Entry | undefined>(INITIAL_SLOTS).fill(undefined)
  private mask = INITIAL_SLOTS - 1
  private readonly overflow = new Map<number, PendingCall>()
  private count = 0

  get size(): number {
    return this.count
  }

  /** Registers `call` under `id` (an id not pending already). */
  add(id: number, call: PendingCall): void {
    if (this.count >= this.slots.length >> 1) this.grow()
    const index = id & this.mask
    if (this.slots[index] === undefined) this.slots[index] = { id, call }
    else this.overflow.set(id, call)
    this.count++
  }

  /** Removes and returns the call pending under `id`, if any. */
  take(id: number): PendingCall | undefined {
    const index = id & this.mask
    const entry = this.slots[index]
    if (entry !== undefined && entry.id === id) {
      this.slots[index] = undefined
      this.count--
      return entry.call
    }
    if (this.overflow.size === 0) return undefined
    const call = this.overflow.get(id)
    if (call === undefined) return undefined
    this.overflow.delete(id)
    this.count--
    return call
  }

  /** Removes and returns every pending call. */
  takeAll(): PendingCall[] {
    const calls: PendingCall[] = []
    for (let i = 0; i < this.slots.length; i++) {
      const entry = this.slots[i]
      if (entry !== undefined) calls.push(entry.call)
    }
    for (const call of this.overflow.values()) calls.push(call)
    this.slots.fill(undefined)
    this.overflow.clear()
    this.count = 0
    return calls
  }

  private grow(): void {
    const old = this.slots
    const size = old.length * 2
    this.slots = new Array<Entry | undefined>(size).fill(undefined)
    this.mask = size - 1
    // Distinct low bits stay distinct with one more bit: the old entries cannot collide.
    for (const entry of old) {
      if (entry !== undefined) this.slots[entry.id & this.mask] = entry
    }
    for (const [id, call] of this.overflow) {
      const index = id & this.mask
      if (this.slots[index] !== undefined) continue
      this.slots[index] = { id, call }
      this.overflow.delete(id)
    }
  }
}
