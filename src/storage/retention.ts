/**
 * Which closed segments retention removes: a prefix of the oldest ones, never the active
 * segment. By time, a segment goes once its newest timestamp (or, for batches without
 * timestamps, its file time) is older than retention.ms; by size, the oldest go while the log
 * would still be at least retention.bytes without them. The result is the longer prefix.
 */
import type { LogConfig } from './log-config.js'

export interface RetentionSegment {
  size: number
  /** Largest batch timestamp, or negative when none carried one. */
  maxTimestamp: number
}

export function countSegmentsToDelete(
  segments: readonly RetentionSegment[],
  config: Pick<LogConfig, 'retentionMs' | 'retentionBytes'>,
  now: number,
  lastModifiedMs: (index: number) => number,
): number {
  const closed = segments.length - 1
  let byTime = 0
  if (config.retentionMs >= 0) {
    while (byTime < closed) {
      const s = segments[byTime]
      const newest = s.maxTimestamp >= 0 ? s.maxTimestamp : lastModifiedMs(byTime)
      if (now - newest <= config.retentionMs) break
      byTime++
    }
  }
  let bySize = 0
  if (config.retentionBytes >= 0) {
    let excess = -config.retentionBytes
    for (const s of segments) excess += s.size
    while (bySize < closed && excess - segments[bySize].size >= 0) {
      excess -= segments[bySize].size
      bySize++
    }
  }
  return Math.max(byTime, bySize)
}
