import { describe, expect, it } from 'vitest'
import { HighWatermarkWaiters } from '../../src/cluster/high-watermark-waiters.js'

const settled = async (promise: Promise<void>): Promise<boolean> => {
  let done = false
  void promise.then(() => { done = true })
  for (let i = 0; i < 5; i++) await Promise.resolve()
  return done
}

describe('HighWatermarkWaiters (acks=all waits on the leader thread)', () => {
  it('wakes a wait only once the HW passes its offset, on its own partition; leaves nothing behind', async () => {
    const waiters = new HighWatermarkWaiters()
    const wait = waiters.wait('t/0', 10, 60_000)
    const other = waiters.wait('t/1', 10, 60_000)
    expect(waiters.size).toBe(2)
    waiters.wake('t/0', 10) // HW 10: offset 10 not yet below it
    expect(await settled(wait)).toBe(false)
    waiters.wake('t/1', 11)
    expect(await settled(wait)).toBe(false)
    expect(await settled(other)).toBe(true)
    waiters.wake('t/0', 11)
    expect(await settled(wait)).toBe(true)
    expect(waiters.size).toBe(0)
  })

  it('poke wakes every wait of a partition (ISR or leadership changed); wakeAll every wait', async () => {
    const waiters = new HighWatermarkWaiters()
    const a = waiters.wait('t/0', 5, 60_000)
    const b = waiters.wait('t/0', 9, 60_000)
    const c = waiters.wait('t/2', 9, 60_000)
    waiters.poke('t/0')
    expect(await settled(a)).toBe(true)
    expect(await settled(b)).toBe(true)
    expect(await settled(c)).toBe(false)
    waiters.wakeAll()
    expect(await settled(c)).toBe(true)
    expect(waiters.size).toBe(0)
  })

  it('resolves at its timeout', async () => {
    const waiters = new HighWatermarkWaiters()
    await waiters.wait('t/0', 1, 5)
    expect(waiters.size).toBe(0)
  })
})
