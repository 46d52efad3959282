/**
 * Latency recording with Node's built-in HDR histogram (`perf_hooks.createHistogram`,
 * ~29 ns per record, values in nanoseconds), and a plain-data form that can cross
 * threads, processes and JSON files and be merged.
 *
 * Node does not expose an HDR histogram's bucket counts, so the plain form is built from
 * the histogram's own percentiles on a fixed grid (dense in the tail: every 1% up to 90,
 * then 0.5%, 0.1%, 0.01% and 0.001% steps up to 99.999) turned into (value, count) pairs.
 * Percentiles of a serialized histogram are exact at the grid points (to HDR's 3
 * significant digits); percentiles of a merge are exact at each source's grid resolution.
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks'

export interface SerializedHistogram {
  /** Always 'ns'. */
  unit: 'ns'
  count: number
  min: number
  max: number
  /** Exact mean of all recorded values (kept separately: the buckets only approximate it). */
  mean: number
  /** [value ns, count] pairs, ascending by value; counts sum to `count`. */
  buckets: Array<[number, number]>
}

export interface LatencyPercentilesMs {
  count: number
  p50: number
  p99: number
  p999: number
  max: number
}

function buildGrid(): number[] {
  const grid: number[] = []
  const add = (from: number, to: number, step: number): void => {
    const steps = Math.round((to - from) / step)
    for (let i = 0; i <= steps; i++) {
      const q = Number((from + i * step).toFixed(3))
      if (grid.length === 0 || q > grid[grid.length - 1]) grid.push(q)
    }
  }
  add(1, 90, 1)
  add(90, 99, 0.5)
  add(99, 99.9, 0.1)
  add(99.9, 99.99, 0.01)
  add(99.99, 99.999, 0.001)
  grid.push(100)
  return grid
}

/** The quantile grid (percent) the plain form samples; 100 is the maximum. */
export const SERIALIZATION_GRID: readonly number[] = Object.freeze(buildGrid())

/** A histogram for latencies in nanoseconds (1 ns .. ~1 hour, 3 significant digits). */
export function createLatencyHistogram(): RecordableHistogram {
  return createHistogram({ lowest: 1, highest: 3_600_000_000_000, figures: 3 })
}

/** Records a duration in nanoseconds; clamps to >= 1 (HDR refuses 0) and to the histogram's range. */
export function recordLatencyNs(histogram: RecordableHistogram, ns: number | bigint): void {
  const value = typeof ns === 'bigint' ? Number(ns) : ns
  histogram.record(Math.min(3_600_000_000_000, Math.max(1, Math.round(value))))
}

export function emptySerializedHistogram(): SerializedHistogram {
  return { unit: 'ns', count: 0, min: 0, max: 0, mean: 0, buckets: [] }
}

export function serializeHistogram(histogram: RecordableHistogram): SerializedHistogram {
  const count = histogram.count
  if (count === 0) return emptySerializedHistogram()
  const buckets: Array<[number, number]> = []
  let previousCumulative = 0
  for (const q of SERIALIZATION_GRID) {
    const cumulative = q === 100 ? count : Math.round((count * q) / 100)
    const inBucket = cumulative - previousCumulative
    if (inBucket <= 0) continue
    const value = q === 100 ? histogram.max : histogram.percentile(q)
    const last = buckets[buckets.length - 1]
    if (last && last[0] === value) last[1] += inBucket
    else buckets.push([value, inBucket])
    previousCumulative = cumulative
  }
  return { unit: 'ns', count, min: histogram.min, max: histogram.max, mean: histogram.mean, buckets }
}

/** Merges plain histograms (from several workers, processes or repetitions) into one. */
export function mergeSerializedHistograms(parts: readonly SerializedHistogram[]): SerializedHistogram {
  const nonEmpty = parts.filter((h) => h.count > 0)
  if (nonEmpty.length === 0) return emptySerializedHistogram()
  const byValue = new Map<number, number>()
  let count = 0
  let weightedMean = 0
  for (const part of nonEmpty) {
    count += part.count
    weightedMean += part.mean * part.count
    for (const [value, n] of part.buckets) byValue.set(value, (byValue.get(value) ?? 0) + n)
  }
  const buckets = [...byValue.entries()].sort((a, b) => a[0] - b[0])
  return {
    unit: 'ns',
    count,
    min: Math.min(...nonEmpty.map((h) => h.min)),
    max: Math.max(...nonEmpty.map((h) => h.max)),
    mean: weightedMean / count,
    buckets,
  }
}

/**
 * Percentile (0..100) of a plain histogram with HDR's definition: the smallest recorded
 * value whose cumulative count reaches round(q% of all values), at least 1. 0 when empty.
 */
export function serializedPercentile(histogram: SerializedHistogram, q: number): number {
  if (histogram.count === 0) return 0
  if (q >= 100) return histogram.max
  // Same rounding as hdr_value_at_percentile, so grid percentiles round-trip exactly.
  const target = Math.max(1, Math.round((histogram.count * q) / 100))
  let cumulative = 0
  for (const [value, n] of histogram.buckets) {
    cumulative += n
    if (cumulative >= target) return value
  }
  return histogram.max
}

const NS_PER_MS = 1e6

export function serializedPercentilesMs(histogram: SerializedHistogram): LatencyPercentilesMs {
  return {
    count: histogram.count,
    p50: serializedPercentile(histogram, 50) / NS_PER_MS,
    p99: serializedPercentile(histogram, 99) / NS_PER_MS,
    p999: serializedPercentile(histogram, 99.9) / NS_PER_MS,
    max: histogram.max / NS_PER_MS,
  }
}

/** p50/p99/p999/max in milliseconds straight from a live histogram. */
export function latencyPercentilesMs(histogram: RecordableHistogram): LatencyPercentilesMs {
  if (histogram.count === 0) return { count: 0, p50: 0, p99: 0, p999: 0, max: 0 }
  return {
    count: histogram.count,
    p50: histogram.percentile(50) / NS_PER_MS,
    p99: histogram.percentile(99) / NS_PER_MS,
    p999: histogram.percentile(99.9) / NS_PER_MS,
    max: histogram.max / NS_PER_MS,
  }
}
