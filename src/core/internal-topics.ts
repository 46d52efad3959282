/**
 * Kafka's internal topics as ringlog keeps them: `__consumer_offsets` holds committed offsets and
 * group metadata (Kafka's record formats, protocol/consumer-offsets-records.ts), created on first
 * use with `offsets.topic.num.partitions` partitions (50) and replication factor
 * `offsets.topic.replication.factor` (0 here: min(3, live brokers), the broker count Kafka's
 * default of 3 needs). A group lives in partition abs(groupId.hashCode()) % partitions.
 */
import type { RinglogConfig } from '../config.js'

import { CONSUMER_OFFSETS_TOPIC } from '../protocol/consumer-offsets-records.js'

export { CONSUMER_OFFSETS_TOPIC, partitionForGroup } from '../protocol/consumer-offsets-records.js'
export const TRANSACTION_STATE_TOPIC = '__transaction_state'
export const INTERNAL_TOPICS: ReadonlySet<string> = new Set([CONSUMER_OFFSETS_TOPIC, TRANSACTION_STATE_TOPIC])

/** Kafka's defaults for the offsets topic. */
export const DEFAULT_OFFSETS_TOPIC_PARTITIONS = 50
export const DEFAULT_OFFSETS_TOPIC_REPLICATION_FACTOR = 3

/**
 * Topic configs of `__consumer_offsets`: compacted (last value per key wins), never deleted by
 * time or size, segments small enough for the cleaner to reach (Kafka's 100 MiB). With one
 * replica a commit is acknowledged only after an fdatasync covers it whatever the node's flush
 * policy (flush.messages=1; commits share the partition's group commit). With more, a commit is
 * durable the way Kafka makes it durable: acks=all, on every ISR member (Kafka's offsets topic
 * sets no flush.messages); each replica then flushes under the node's flush policy, so an fdatasync
 * per commit on every replica stays off the commit's path.
 */
export function consumerOffsetsConfigs(replicationFactor: number): Record<string, string> {
  return {
    'cleanup.policy': 'compact',
    ...(replicationFactor <= 1 ? { 'flush.messages': '1' } : {}),
    'retention.ms': '-1',
    'retention.bytes': '-1',
    'segment.bytes': String(100 * 1024 * 1024),
  }
}

export function offsetsTopicPartitions(config: Pick<RinglogConfig, 'offsetsTopicNumPartitions'>): number {
  return config.offsetsTopicNumPartitions
}

/** The configured factor, or min(3, live brokers) when it is 0 (the default). */
export function offsetsTopicReplicationFactor(config: Pick<RinglogConfig, 'offsetsTopicReplicationFactor'>, liveBrokers: number): number {
  const configured = config.offsetsTopicReplicationFactor
  return configured > 0 ? configured : Math.max(1, Math.min(DEFAULT_OFFSETS_TOPIC_REPLICATION_FACTOR, liveBrokers))
}

/**
 * Topic configs of `__transaction_state`: compacted like the offsets topic (the newest record of
 * a transactional id is its state), never deleted by time or size, Kafka's 100 MiB segments.
 */
export const TRANSACTION_STATE_CONFIGS: Readonly<Record<string, string>> = {
  'cleanup.policy': 'compact',
  'retention.ms': '-1',
  'retention.bytes': '-1',
  'segment.bytes': String(100 * 1024 * 1024),
}

/** The configured factor of `__transaction_state`, or min(3, live brokers) when it is 0 (the default). */
export function transactionStateReplicationFactor(config: Pick<RinglogConfig, 'transactionStateLogReplicationFactor'>, liveBrokers: number): number {
  const configured = config.transactionStateLogReplicationFactor
  return configured > 0 ? configured : Math.max(1, Math.min(DEFAULT_OFFSETS_TOPIC_REPLICATION_FACTOR, liveBrokers))
}
