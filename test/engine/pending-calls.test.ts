import { describe, expect, it } from 'vitest'
import { PendingCalls, type PendingCall } from '../../src/engine/main/pending-calls.js'

function call(tag: number): PendingCall & { tag: number } {
  return { tag, kind: 'append', resolve: () => undefined, reject: () => undefined }
}

describe('PendingCalls', () => {
  it('takes each call once, by its own id, and nothing for unknown or reused ids', () => {
    const pending = new PendingCalls()
    const a = call(1)
    pending.add(7, a)
    expect(pending.size).toBe(1)
    expect(pending.take(7 + 256)).toBeUndefined() // same slot, other id
    expect(pending.take(8)).toBeUndefined()
    expect(pending.take(7)).toBe(a)
    expect(pending.take(7)).toBeUndefined()
    expect(pending.size).toBe(0)
  })

  it('grows when more calls are pending than slots, and when an old call blocks a slot the ids come round to', () => {
    const pending = new PendingCalls()
    const calls = new Map<number, PendingCall>()
    // 5000 in flight at once, then a long-lived one while 100k more come and go.
    for (let id = 1; id <= 5000; id++) { const c = call(id); calls.set(id, c); pending.add(id, c) }
    expect(pending.size).toBe(5000)
    for (let id = 1; id <= 5000; id++) expect(pending.take(id)).toBe(calls.get(id))
    const stuck = call(-1)
    pending.add(0xfffffff0, stuck)
    for (let id = 1; id <= 100_000; id++) {
      const c = call(id)
      pending.add(id, c)
      expect(pending.take(id)).toBe(c)
    }
    expect(pending.size).toBe(1)
    expect(pending.take(0xfffffff0)).toBe(stuck)
    // The long-lived call did not make the table grow with the ids that went past it.
    expect((pending as unknown as { slots: unknown[] }).slots.length).toBeLessThanOrEqual(16384)
    // Calls parked in the overflow (their slot held) are found and handed over too.
    const holder = call(-2)
    pending.add(10, holder)
    const parked = call(-3)
    pending.add(10 + 16384 * 4, parked)
    expect(pending.size).toBe(2)
    expect(pending.takeAll()).toEqual(expect.arrayContaining([holder, parked]))
  })

  it('hands every pending call over at once (a dead worker fails them all)', () => {
    const pending = new PendingCalls()
    for (let id = 1; id <= 300; id++) pending.add(id * 3, call(id))
    const all = pending.takeAll() as (PendingCall & { tag: number })[]
    expect(all.map((c) => c.tag).sort((x, y) => x - y)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1))
    expect(pending.size).toBe(0)
    expect(pending.take(3)).toBeUndefined()
  })
})
