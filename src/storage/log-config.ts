/**
 * Per-partition log settings, named after Kafka's topic configs (segment.bytes, segment.ms,
 * retention.ms, retention.bytes, max.message.bytes, index.interval.bytes, flush.*).
 */
import { InvalidRequestError } from '../errors.js'

import { DEFAULT_CONFIG, MAX_SEGMENT_BYTES, MIN_SEGMENT_BYTES, STANDALONE_LOG_FLUSH, type FlushPolicy } from '../config.js'

/** The one flush policy type lives in src/config.ts (what an acknowledgement means under each). */
export type { FlushPolicy }

export interface LogConfig {
  /** Roll to a new segment when the active one would grow past this (segment.bytes). */
  segmentBytes: number
  /** Roll when the active segment's first batch is older than this (segment.ms). */
  segmentMs: number
  /** Delete closed segments whose newest timestamp is older than this; -1 keeps forever (retention.ms). */
  retentionMs: number
  /** Delete the oldest closed segments while the log is larger than this; -1 is off (retention.bytes). */
  retentionBytes: number
  /** Largest accepted batch, log overhead included (max.message.bytes). */
  maxMessageBytes: number
  /** Bytes of log between two offset-index entries (index.interval.bytes). */
  indexIntervalBytes: number
  flush: FlushPolicy
  /** How long a retired segment's files and fd stay usable for readers (file.delete.delay.ms). */
  fileDeleteDelayMs: number
  /** cleanup.policy has `compact`: the log cleaner keeps the last record per key. */
  compact: boolean
  /** cleanup.policy has `delete`: retention.ms / retention.bytes remove old segments. */
  deleteByRetention: boolean
  /** How long a tombstone (null value) outlives the records it removed (delete.retention.ms). */
  deleteRetentionMs: number
  /** Clean once dirty bytes / all cleanable bytes reach this (min.cleanable.dirty.ratio). */
  minCleanableDirtyRatio: number
  /** A record is cleaned only once it is at least this old (min.compaction.lag.ms). */
  minCompactionLagMs: number
}

/** The partition limits default to the node's (config.ts), the flush policy to STANDALONE_LOG_FLUSH there; the rest are storage-only. */
export const DEFAULT_LOG_CONFIG: Readonly<LogConfig> = Object.freeze({
  segmentBytes: DEFAULT_CONFIG.segmentBytes,
  segmentMs: DEFAULT_CONFIG.segmentMs,
  retentionMs: DEFAULT_CONFIG.retentionMs,
  retentionBytes: DEFAULT_CONFIG.retentionBytes,
  maxMessageBytes: DEFAULT_CONFIG.maxMessageBytes,
  indexIntervalBytes: 4096,
  flush: STANDALONE_LOG_FLUSH,
  fileDeleteDelayMs: 60_000,
  compact: false,
  deleteByRetention: true,
  deleteRetentionMs: 86_400_000,
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
})


function requireInteger(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidRequestError(`log config ${name} must be an integer in [${min}, ${max}], got ${value}`)
  }
}

/** Fills defaults and rejects values the log cannot honour. */
export function resolveLogConfig(partial: Partial<LogConfig> = {}): LogConfig {
  const config: LogConfig = { ...DEFAULT_LOG_CONFIG, ...partial }
  requireInteger('segmentBytes', config.segmentBytes, MIN_SEGMENT_BYTES, MAX_SEGMENT_BYTES)
  requireInteger('segmentMs', config.segmentMs, 1)
  requireInteger('retentionMs', config.retentionMs, -1)
  requireInteger('retentionBytes', config.retentionBytes, -1)
  requireInteger('maxMessageBytes', config.maxMessageBytes, 0, MAX_SEGMENT_BYTES)
  requireInteger('indexIntervalBytes', config.indexIntervalBytes, 0)
  requireInteger('fileDeleteDelayMs', config.fileDeleteDelayMs, 0)
  requireInteger('deleteRetentionMs', config.deleteRetentionMs, 0)
  requireInteger('minCompactionLagMs', config.minCompactionLagMs, 0)
  if (!(config.minCleanableDirtyRatio >= 0 && config.minCleanableDirtyRatio <= 1)) {
    throw new InvalidRequestError(`log config minCleanableDirtyRatio must be in [0, 1], got ${config.minCleanableDirtyRatio}`)
  }
  const { flush } = config
  if (flush !== 'always' && flush !== 'never') {
    if (typeof flush !== 'object' || flush === null) throw new InvalidRequestError(`log config flush must be 'always', 'never' or { intervalMs }`)
    requireInteger('flush.intervalMs', flush.intervalMs, 0)
  }
  return config
}
