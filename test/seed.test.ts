import { afterEach, describe, expect, it } from 'vitest'
import { seededRandom, testSeed } from './seed.js'

describe('test seeds', () => {
  const saved = process.env.RINGLOG_SEED
  afterEach(() => {
    if (saved === undefined) delete process.env.RINGLOG_SEED
    else process.env.RINGLOG_SEED = saved
  })

  it('a seed gives the same sequence every time, another seed another one', () => {
    const draw = (seed: number): number[] => {
      const random = seededRandom(seed)
      return Array.from({ length: 20 }, () => random.int(1000))
    }
    expect(draw(42)).toEqual(draw(42))
    expect(draw(43)).not.toEqual(draw(42))
    for (const n of draw(7)) expect(n >= 0 && n < 1000 && Number.isInteger(n)).toBe(true)
  })

  it('RINGLOG_SEED replays a seed and rejects a value that is not one', () => {
    process.env.RINGLOG_SEED = '123456'
    expect(testSeed()).toBe(123456)
    for (const bad of ['abc', '-1', '1.5', String(2 ** 32)]) {
      process.env.RINGLOG_SEED = bad
      expect(() => testSeed()).toThrow(/RINGLOG_SEED/)
    }
    delete process.env.RINGLOG_SEED
    const fresh = testSeed()
    expect(Number.isInteger(fresh) && fresh >= 0 && fresh < 2 ** 32).toBe(true)
  })
})
