/**
 * The one mapping from the node config plus a topic's Kafka configs (CreateTopics `configs`,
 * kept in the topic registry) to the partition settings the engine understands: the
 * node-wide values (config.ts, where their defaults live) overridden by the topic's. Every Kafka topic config name is accepted and stored so
 * tools that set them do not fail; only the ones below change behaviour:
 * segment.bytes, segment.ms, retention.ms, retention.bytes, max.message.bytes,
 * message.timestamp.type (LogAppendTime), flush.messages=1 (acks=-1 waits for an fdatasync under
 * every node flush policy), cleanup.policy (compact, delete or both), delete.retention.ms,
 * min.cleanable.dirty.ratio, min.compaction.lag.ms (the log cleaner, storage/log-cleaner.ts).
 */
import { InvalidConfigError } from '../errors.js'
import type { RinglogConfig } from '../config.js'
import type { PartitionSettings } from '../engine/log-engine.js'

// Defined in the error table; re-exported for the importers of this module.
export { InvalidConfigError }

const NUMERIC: Record<string, keyof PartitionSettings> = {
  'segment.bytes': 'segmentBytes',
  'segment.ms': 'segmentMs',
  'retention.ms': 'retentionMs',
  'retention.bytes': 'retentionBytes',
  'max.message.bytes': 'maxMessageBytes',
  'delete.retention.ms': 'deleteRetentionMs',
  'min.compaction.lag.ms': 'minCompactionLagMs',
}

/** cleanup.policy's list items (Kafka 3.9: a non-empty list of these, comma-separated). */
const CLEANUP_POLICIES = new Set(['compact', 'delete'])

/** The items of a cleanup.policy value, or undefined when it is not a valid one. */
function cleanupPolicyItems(value: string): Set<string> | undefined {
  const items = value.split(',').map((item) => item.trim())
  if (items.length === 0 || items.some((item) => !CLEANUP_POLICIES.has(item))) return undefined
  return new Set(items)
}

/** Kafka 3.8 topic-level config names (accepted and stored; the ones above take effect). */
const KNOWN_TOPIC_CONFIGS = new Set([
  ...Object.keys(NUMERIC), 'message.timestamp.type', 'cleanup.policy', 'compression.type', 'delete.retention.ms',
  'file.delete.delay.ms', 'flush.messages', 'flush.ms', 'index.interval.bytes', 'max.compaction.lag.ms',
  'message.timestamp.difference.max.ms', 'message.timestamp.before.max.ms', 'message.timestamp.after.max.ms',
  'min.cleanable.dirty.ratio', 'min.compaction.lag.ms', 'min.insync.replicas', 'preallocate',
  'segment.index.bytes', 'segment.jitter.ms', 'unclean.leader.election.enable', 'message.downconversion.enable',
  'message.format.version', 'local.retention.ms', 'local.retention.bytes', 'remote.storage.enable',
  'follower.replication.throttled.replicas', 'leader.replication.throttled.replicas',
])

/** Throws InvalidConfigError for an unknown name or a bad value of a config that takes effect. */
export function validateTopicConfigs(configs: Readonly<Record<string, string>>): void {
  for (const [name, value] of Object.entries(configs)) {
    if (!KNOWN_TOPIC_CONFIGS.has(name)) throw new InvalidConfigError(`unknown topic config "${name}"`)
    if (name in NUMERIC) {
      const n = Number(value)
      if (!Number.isSafeInteger(n) || (n < 0 && !(n === -1 && name.startsWith('retention.')))) {
        throw new InvalidConfigError(`${name} must be a non-negative integer${name.startsWith('retention.') ? ' or -1' : ''}, got "${value}"`)
      }
    }
    if (name === 'cleanup.policy' && cleanupPolicyItems(value) === undefined) {
      throw new InvalidConfigError(`cleanup.policy must be a list of compact and delete, got "${value}"`)
    }
    if (name === 'min.cleanable.dirty.ratio') {
      const ratio = value.trim() === '' ? Number.NaN : Number(value)
      if (!(ratio >= 0 && ratio <= 1)) throw new InvalidConfigError(`min.cleanable.dirty.ratio must be a number from 0 to 1, got "${value}"`)
    }
    if (name === 'message.timestamp.type' && value !== 'CreateTime' && value !== 'LogAppendTime') {
      throw new InvalidConfigError(`message.timestamp.type must be CreateTime or LogAppendTime, got "${value}"`)
    }
  }
}

/** A partition's settings: the node's values, overridden by the topic configs that take effect. */
export function partitionSettingsFor(config: RinglogConfig, topicConfigs: Readonly<Record<string, string>>): PartitionSettings {
  return { ...nodePartitionDefaults(config), ...partitionSettingsFromConfigs(topicConfigs) }
}

/** The node-wide partition values (topic configs override them per topic). */
export function nodePartitionDefaults(config: RinglogConfig): PartitionSettings {
  return {
    segmentBytes: config.segmentBytes,
    segmentMs: config.segmentMs,
    retentionMs: config.retentionMs,
    retentionBytes: config.retentionBytes,
    maxMessageBytes: config.maxMessageBytes,
  }
}

/** Only what the topic configs set (validated by validateTopicConfigs). */
export function partitionSettingsFromConfigs(configs: Readonly<Record<string, string>>): PartitionSettings {
  const settings: PartitionSettings = {}
  for (const [name, key] of Object.entries(NUMERIC)) {
    const value = configs[name]
    if (value !== undefined) (settings as Record<string, number>)[key] = Number(value)
  }
  if (configs['message.timestamp.type'] === 'LogAppendTime') settings.logAppendTime = true
  const policy = configs['cleanup.policy'] !== undefined ? cleanupPolicyItems(configs['cleanup.policy']) : undefined
  if (policy) {
    settings.compact = policy.has('compact')
    settings.deleteByRetention = policy.has('delete')
  }
  if (configs['min.cleanable.dirty.ratio'] !== undefined) settings.minCleanableDirtyRatio = Number(configs['min.cleanable.dirty.ratio'])
  // Kafka's "fsync after every message"; other values are accepted and stored but change nothing.
  if (configs['flush.messages'] === '1') settings.flushEveryAppend = true
  return settings
}
