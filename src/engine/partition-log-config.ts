/**
 * The one mapping from a partition's settings (node defaults overridden by topic configs,
 * see core/topic-settings.ts) and the flush policy to the storage log's config. The worker
 * that owns the partition and the recovery pool both open logs with it, so a partition is
 * recovered with the same segment and size limits it is later served with.
 */
import type { FlushPolicy, LogConfig } from '../storage/log-config.js'
import type { PartitionSettings } from './log-engine.js'

export function logConfigFor(settings: PartitionSettings, flush: FlushPolicy): Partial<LogConfig> {
  return {
    flush,
    ...(settings.segmentBytes !== undefined && { segmentBytes: settings.segmentBytes }),
    ...(settings.segmentMs !== undefined && { segmentMs: settings.segmentMs }),
    ...(settings.retentionMs !== undefined && { retentionMs: settings.retentionMs }),
    ...(settings.retentionBytes !== undefined && { retentionBytes: settings.retentionBytes }),
    ...(settings.maxMessageBytes !== undefined && { maxMessageBytes: settings.maxMessageBytes }),
    ...(settings.compact !== undefined && { compact: settings.compact }),
    ...(settings.deleteByRetention !== undefined && { deleteByRetention: settings.deleteByRetention }),
    ...(settings.deleteRetentionMs !== undefined && { deleteRetentionMs: settings.deleteRetentionMs }),
    ...(settings.minCleanableDirtyRatio !== undefined && { minCleanableDirtyRatio: settings.minCleanableDirtyRatio }),
    ...(settings.minCompactionLagMs !== undefined && { minCompactionLagMs: settings.minCompactionLagMs }),
  }
}
