import { describe, expect, it } from 'vitest'
import { AppendWaiters } from '../../src/cluster/append-waiters.js'

/** Log ends the test moves by hand, read by the waiters' immediate check. */
function ends(): { of: (topic: string, partition: number) => number; set: (topic: string, partition: number, end: number) => void } {
  const map = new Map<string, number>()
  return { of: (t, p) => map.get(`${t}/${p}`) ?? 0, set: (t, p, e) => { map.set(`${t}/${p}`, e) } }
}

const settled = async (promise: Promise<void>): Promise<boolean> => {
  let done = false
  void promise.then(() => { done = true })
  for (let i = 0; i < 5; i++) await Promise.resolve()
  return done
}

describe('AppendWaiters (parked follower fetches on the leader)', () => {
  const waits = Array.from({ length: 50 }, (_, p) => ({ topic: 't', partition: p, offset: 10 }))

  it('wakes a fetch when any of its partitions ends past the offset, and leaves no entry behind', async () => {
    const log = ends()
    const waiters = new AppendWaiters()
    const parked = waiters.wait(waits, 60_000, log.of)
    expect(waiters.entries).toBe(50)
    waiters.wake('t', 7, 10) // not past offset 10
    expect(await settled(parked)).toBe(false)
    waiters.wake('t', 7, 11)
    expect(await settled(parked)).toBe(true)
    expect(waiters.entries).toBe(0)
  })

  it('answers at once when a log end already passes an offset; wakes on abort and at the timeout', async () => {
    const log = ends()
    const waiters = new AppendWaiters()
    log.set('t', 3, 11)
    expect(await settled(waiters.wait(waits, 60_000, log.of))).toBe(true)
    expect(waiters.entries).toBe(0)
    log.set('t', 3, 0)
    const abort = new AbortController()
    const aborted = waiters.wait(waits, 60_000, log.of, abort.signal)
    abort.abort()
    expect(await settled(aborted)).toBe(true)
    await waiters.wait(waits, 5, log.of)
    expect(waiters.entries).toBe(0)
  })

  it('keeps the other fetches parked when one wakes, and wakeAll ends them all', async () => {
    const log = ends()
    const waiters = new AppendWaiters()
    const a = waiters.wait([{ topic: 't', partition: 0, offset: 10 }, { topic: 't', partition: 1, offset: 4 }], 60_000, log.of)
    const b = waiters.wait([{ topic: 't', partition: 1, offset: 10 }], 60_000, log.of)
    waiters.wake('t', 1, 5)
    expect(await settled(a)).toBe(true)
    expect(await settled(b)).toBe(false)
    expect(waiters.entries).toBe(1)
    waiters.wakeAll()
    expect(await settled(b)).toBe(true)
    expect(waiters.entries).toBe(0)
  })
})
