import { describe, expect, it } from 'vitest'
import {
  compareSamples, erfc, mannWhitneyExactCounts, mannWhitneyU, mean, median, normalSf, percentile, ratioOfMedians, seededRandom, stddev,
} from '../../src/bench/stats.js'

// Reference values computed with NumPy 2.4 / SciPy 1.17 (numpy.percentile default "linear",
// scipy.stats.mannwhitneyu) and copied here; SciPy is not a project dependency.

describe('location and spread', () => {
  it('mean, median and sample stddev of known arrays', () => {
    expect(mean([2, 4, 4, 4, 5, 5, 7, 9])).toBe(5)
    expect(stddev([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(2.138089935299395, 12)
    expect(stddev([3])).toBe(0)
    expect(median([5, 1, 3])).toBe(3)
    expect(median([4, 1, 3, 2])).toBe(2.5)
  })

  it('rejects empty samples', () => {
    expect(() => mean([])).toThrow(RangeError)
    expect(() => percentile([], 50)).toThrow(RangeError)
  })
})

describe('percentile (linear interpolation, type 7)', () => {
  it('matches numpy.percentile on known arrays', () => {
    const xs = [50, 15, 40, 20, 35] // unsorted on purpose
    const expected: Array<[number, number]> = [[0, 15], [5, 16], [30, 23], [40, 29], [50, 35], [100, 50]]
    for (const [p, value] of expected) expect(percentile(xs, p)).toBeCloseTo(value, 12)
    expect(percentile([1, 2, 3, 4], 25)).toBeCloseTo(1.75, 12)
    expect(percentile([1, 2, 3, 4], 75)).toBeCloseTo(3.25, 12)
    expect(percentile([7], 50)).toBe(7)
  })

  it('rejects a percentile outside 0..100', () => {
    expect(() => percentile([1, 2], 101)).toThrow(RangeError)
    expect(() => percentile([1, 2], Number.NaN)).toThrow(RangeError)
  })
})

describe('normal tail', () => {
  it('erfc matches scipy.special.erfc across both branches', () => {
    const reference: Array<[number, number]> = [
      [0, 1], [0.5, 0.4795001221869535], [1, 0.15729920705028516], [2, 0.004677734981047266], [2.4, 0.0006885138966450789],
      [2.6, 0.000236034416529349], [3, 2.2090496998585445e-5], [5, 1.5374597944280347e-12], [8, 1.1224297172982928e-29], [-1, 1.8427007929497148],
    ]
    for (const [x, value] of reference) expect(Math.abs(erfc(x) - value) / value).toBeLessThan(1e-12)
    expect(normalSf(1.96)).toBeCloseTo(0.024997895148220435, 14)
    expect(normalSf(-1)).toBeCloseTo(0.8413447460685429, 14)
  })
})

describe('Mann-Whitney U', () => {
  it('exact null distribution: counts of small cases and their total C(m+n, m)', () => {
    // m = n = 2: arrangements of U = 0..4 are 1, 1, 2, 1, 1 (6 in all).
    expect(mannWhitneyExactCounts(2, 2)).toEqual([1, 1, 2, 1, 1])
    const counts = mannWhitneyExactCounts(10, 12)
    expect(counts.reduce((a, b) => a + b, 0)).toBe(646646)
    expect(counts[0]).toBe(1)
    expect(counts[60]).toBe(counts[120 - 60]) // symmetric
  })

  it('exact p-values match scipy (method="exact") for all alternatives', () => {
    const cases: Array<{ x: number[]; y: number[]; u: number; p: Record<'two-sided' | 'less' | 'greater', number> }> = [
      { x: [1.1, 2.2, 3.3, 4.4], y: [5.5, 6.6, 7.7, 8.8, 9.9], u: 0, p: { 'two-sided': 0.015873015873015872, less: 0.007936507936507936, greater: 1 } },
      { x: [19, 22, 16, 29, 24], y: [20, 11, 17, 12], u: 17, p: { 'two-sided': 0.1111111111111111, less: 0.9682539682539683, greater: 0.05555555555555555 } },
      {
        x: [3.1, 5.2, 4.4, 6.0, 2.7, 5.9], y: [4.1, 3.3, 2.2, 1.0, 3.9, 2.5, 0.7], u: 36,
        p: { 'two-sided': 0.03496503496503496, less: 0.9889277389277389, greater: 0.01748251748251748 },
      },
    ]
    for (const c of cases) {
      for (const alternative of ['two-sided', 'less', 'greater'] as const) {
        const result = mannWhitneyU(c.x, c.y, { alternative })
        expect(result.method).toBe('exact')
        expect(result.u).toBe(c.u)
        expect(result.p).toBeCloseTo(c.p[alternative], 14)
      }
    }
  })

  it('normal approximation with tie and continuity correction matches scipy (method="asymptotic")', () => {
    const x = [1, 2, 2, 3, 3, 3, 4, 5, 7, 8, 8, 9]
    const y = [2, 3, 4, 4, 5, 6, 6, 6, 7, 9, 10, 11, 12]
    const expected = { 'two-sided': 0.11923200717996765, less: 0.059616003589983826, greater: 0.9465921158526599 }
    for (const alternative of ['two-sided', 'less', 'greater'] as const) {
      const result = mannWhitneyU(x, y, { alternative })
      expect(result.method).toBe('normal') // ties force the approximation
      expect(result.u).toBe(49)
      expect(result.p).toBeCloseTo(expected[alternative], 12)
    }
  })

  it('large samples: auto uses the normal approximation, exact still available', () => {
    const x = Array.from({ length: 30 }, (_, i) => 2 * i)
    const y = Array.from({ length: 30 }, (_, i) => 10 + 2 * i + 0.5)
    const auto = mannWhitneyU(x, y)
    expect(auto.method).toBe('normal')
    expect(auto.u).toBe(300)
    expect(auto.p).toBeCloseTo(0.027086318388295935, 12)
    expect(mannWhitneyU(x, y, { method: 'exact' }).p).toBeCloseTo(0.02633196030257917, 12)
  })

  it('identical samples (all ties) give p = 1', () => {
    const result = mannWhitneyU([1, 1, 1], [1, 1, 1])
    expect(result.u).toBe(4.5)
    expect(result.p).toBe(1)
  })
})

describe('ratio of medians and sample comparison', () => {
  it('seeded PRNG is deterministic and uniform-looking', () => {
    const a = seededRandom(42)
    const b = seededRandom(42)
    const draws = Array.from({ length: 1000 }, () => a())
    expect(draws).toEqual(Array.from({ length: 1000 }, () => b()))
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0)
    expect(Math.max(...draws)).toBeLessThan(1)
    expect(mean(draws)).toBeGreaterThan(0.45)
    expect(mean(draws)).toBeLessThan(0.55)
  })

  it('point estimate is the ratio of medians, the CI brackets it and is reproducible', () => {
    const baseline = [100, 102, 98, 101, 99, 103]
    const current = [70, 72, 69, 71, 73, 68]
    const estimate = ratioOfMedians(baseline, current, { seed: 7 })
    expect(estimate.ratio).toBeCloseTo(70.5 / 100.5, 12)
    expect(estimate.low).toBeLessThanOrEqual(estimate.ratio)
    expect(estimate.high).toBeGreaterThanOrEqual(estimate.ratio)
    expect(estimate.high).toBeLessThan(0.75)
    expect(ratioOfMedians(baseline, current, { seed: 7 })).toEqual(estimate)
  })

  it('compareSamples: U of the current sample, and the smallest reachable p', () => {
    const result = compareSamples([10, 11, 12, 13, 14], [5, 6, 7, 8, 9])
    expect(result.u).toBe(0)
    expect(result.p).toBeCloseTo(2 / 252, 12)
    expect(result.minAchievableP).toBeCloseTo(2 / 252, 12)
    expect(compareSamples([1, 2, 3], [4, 5, 6]).minAchievableP).toBeCloseTo(0.1, 12)
  })
})
