import { describe, expect, it } from 'vitest'
import {
  createLatencyHistogram, latencyPercentilesMs, mergeSerializedHistograms, recordLatencyNs, serializedPercentile,
  serializedPercentilesMs, serializeHistogram, SERIALIZATION_GRID,
} from '../../src/bench/histogram.js'

function histogramOf(values: readonly number[]) {
  const h = createLatencyHistogram()
  for (const v of values) recordLatencyNs(h, v)
  return h
}

const range = (from: number, to: number, step = 1): number[] => Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => from + i * step)

describe('latency histogram', () => {
  it('live percentiles in ms', () => {
    const h = histogramOf(range(1_000, 1_000_000, 1_000)) // 1 µs .. 1 ms, 1000 values
    const p = latencyPercentilesMs(h)
    expect(p.count).toBe(1000)
    expect(p.p50).toBeGreaterThan(0.499)
    expect(p.p50).toBeLessThan(0.502)
    expect(p.p99).toBeGreaterThan(0.989)
    expect(p.p99).toBeLessThan(0.992)
    expect(p.max).toBeCloseTo(1, 2)
    expect(latencyPercentilesMs(createLatencyHistogram()).count).toBe(0)
  })

  it('clamps zero and accepts bigint durations', () => {
    const h = createLatencyHistogram()
    recordLatencyNs(h, 0)
    recordLatencyNs(h, 5n)
    expect(h.count).toBe(2)
    expect(h.min).toBe(1)
    expect(h.max).toBe(5)
  })

  it('the grid is strictly increasing and ends at 100', () => {
    for (let i = 1; i < SERIALIZATION_GRID.length; i++) expect(SERIALIZATION_GRID[i]).toBeGreaterThan(SERIALIZATION_GRID[i - 1])
    expect(SERIALIZATION_GRID[SERIALIZATION_GRID.length - 1]).toBe(100)
    expect(SERIALIZATION_GRID).toContain(99.9)
    expect(SERIALIZATION_GRID).toContain(99.999)
  })

  it('serialized form survives JSON and gives the live percentiles exactly at grid points', () => {
    const values = range(1, 20_000).map((i) => Math.round(1_000 * Math.exp((i % 997) / 150))) // skewed, 20k values
    const h = histogramOf(values)
    const plain = JSON.parse(JSON.stringify(serializeHistogram(h))) as ReturnType<typeof serializeHistogram>
    expect(plain.count).toBe(20_000)
    expect(plain.buckets.reduce((sum, [, n]) => sum + n, 0)).toBe(20_000)
    for (const q of [1, 50, 75, 90, 99, 99.9, 99.99]) expect(serializedPercentile(plain, q)).toBe(h.percentile(q))
    expect(serializedPercentile(plain, 100)).toBe(h.max)
    expect(plain.mean).toBeCloseTo(h.mean, 6)
    for (let i = 1; i < plain.buckets.length; i++) expect(plain.buckets[i][0]).toBeGreaterThan(plain.buckets[i - 1][0])
  })

  it('merging plain histograms agrees with one histogram of all values', () => {
    const a = range(1_000, 1_000_000, 1_000)
    const b = range(1_001_000, 3_000_000, 1_000)
    const merged = mergeSerializedHistograms([serializeHistogram(histogramOf(a)), serializeHistogram(histogramOf(b))])
    const all = histogramOf([...a, ...b])
    expect(merged.count).toBe(3000)
    expect(merged.min).toBe(all.min)
    expect(merged.max).toBe(all.max)
    expect(merged.mean).toBeCloseTo(all.mean, 3)
    // Exact only at each source's grid points; within 1% elsewhere on this spread of values.
    for (const q of [10, 33, 50, 90, 99, 99.9]) {
      expect(Math.abs(serializedPercentile(merged, q) / all.percentile(q) - 1)).toBeLessThan(0.01)
    }
    const ms = serializedPercentilesMs(merged)
    expect(ms.p50).toBeGreaterThan(1.49)
    expect(ms.p50).toBeLessThan(1.52)
  })

  it('empty histograms serialize and merge to empty', () => {
    const empty = serializeHistogram(createLatencyHistogram())
    expect(empty.count).toBe(0)
    expect(mergeSerializedHistograms([empty, empty]).count).toBe(0)
    expect(serializedPercentilesMs(empty)).toEqual({ count: 0, p50: 0, p99: 0, p999: 0, max: 0 })
    const one = serializeHistogram(histogramOf([42]))
    expect(mergeSerializedHistograms([empty, one])).toEqual(one)
  })
})
