/**
 * The configs DescribeConfigs lists, under Kafka's names, with Kafka's defaults, types and
 * sources: a topic's (its overrides, else the broker's setting, else Kafka's default) and the
 * broker's (from the ringlog config it started with; all static, so read-only).
 */
import type { RinglogConfig } from '../config.js'

/** DescribeConfigs resource types (Kafka's ConfigResource.Type). */
export const ResourceType = { topic: 2, broker: 4 } as const

/** DescribeConfigs configSource (Kafka's DescribeConfigsResponse.ConfigSource). */
export const ConfigSource = { dynamicTopic: 1, staticBroker: 4, default: 5 } as const

/** DescribeConfigs configType (v3+). */
export const ConfigType = { boolean: 1, string: 2, int: 3, long: 5, double: 6, list: 7 } as const

export interface ConfigSynonym { name: string; value: string; source: number }

export interface DescribedConfig {
  name: string
  value: string
  readOnly: boolean
  source: number
  type: number
  /** Where else the value could come from, highest precedence first (includeSynonyms). */
  synonyms: ConfigSynonym[]
}

const INT64_MAX = '9223372036854775807'

interface TopicConfigDef {
  type: number
  kafkaDefault: string
  /** The broker config that sets it for every topic, when ringlog has one. */
  broker?: { name: string; value: (config: RinglogConfig) => number }
}

/** Kafka 3.8's topic configs (the ones topic-settings.ts accepts). */
const TOPIC_CONFIGS: Record<string, TopicConfigDef> = {
  'cleanup.policy': { type: ConfigType.list, kafkaDefault: 'delete' },
  'compression.type': { type: ConfigType.string, kafkaDefault: 'producer' },
  'delete.retention.ms': { type: ConfigType.long, kafkaDefault: '86400000' },
  'file.delete.delay.ms': { type: ConfigType.long, kafkaDefault: '60000' },
  'flush.messages': { type: ConfigType.long, kafkaDefault: INT64_MAX },
  'flush.ms': { type: ConfigType.long, kafkaDefault: INT64_MAX },
  'follower.replication.throttled.replicas': { type: ConfigType.list, kafkaDefault: '' },
  'index.interval.bytes': { type: ConfigType.int, kafkaDefault: '4096' },
  'leader.replication.throttled.replicas': { type: ConfigType.list, kafkaDefault: '' },
  'local.retention.bytes': { type: ConfigType.long, kafkaDefault: '-2' },
  'local.retention.ms': { type: ConfigType.long, kafkaDefault: '-2' },
  'max.compaction.lag.ms': { type: ConfigType.long, kafkaDefault: INT64_MAX },
  'max.message.bytes': { type: ConfigType.int, kafkaDefault: '1048588', broker: { name: 'message.max.bytes', value: (c) => c.maxMessageBytes } },
  'message.downconversion.enable': { type: ConfigType.boolean, kafkaDefault: 'true' },
  'message.format.version': { type: ConfigType.string, kafkaDefault: '3.0-IV1' },
  'message.timestamp.after.max.ms': { type: ConfigType.long, kafkaDefault: INT64_MAX },
  'message.timestamp.before.max.ms': { type: ConfigType.long, kafkaDefault: INT64_MAX },
  'message.timestamp.difference.max.ms': { type: ConfigType.long, kafkaDefault: INT64_MAX },
  'message.timestamp.type': { type: ConfigType.string, kafkaDefault: 'CreateTime' },
  'min.cleanable.dirty.ratio': { type: ConfigType.double, kafkaDefault: '0.5' },
  'min.compaction.lag.ms': { type: ConfigType.long, kafkaDefault: '0' },
  'min.insync.replicas': { type: ConfigType.int, kafkaDefault: '1' },
  'preallocate': { type: ConfigType.boolean, kafkaDefault: 'false' },
  'remote.storage.enable': { type: ConfigType.boolean, kafkaDefault: 'false' },
  'retention.bytes': { type: ConfigType.long, kafkaDefault: '-1', broker: { name: 'log.retention.bytes', value: (c) => c.retentionBytes } },
  'retention.ms': { type: ConfigType.long, kafkaDefault: '604800000', broker: { name: 'log.retention.ms', value: (c) => c.retentionMs } },
  'segment.bytes': { type: ConfigType.int, kafkaDefault: '1073741824', broker: { name: 'log.segment.bytes', value: (c) => c.segmentBytes } },
  'segment.index.bytes': { type: ConfigType.int, kafkaDefault: '10485760' },
  'segment.jitter.ms': { type: ConfigType.long, kafkaDefault: '0' },
  'segment.ms': { type: ConfigType.long, kafkaDefault: '604800000', broker: { name: 'log.roll.ms', value: (c) => c.segmentMs } },
  'unclean.leader.election.enable': { type: ConfigType.boolean, kafkaDefault: 'false' },
}

/** Topic configs whose value is a comma-separated list (IncrementalAlterConfigs APPEND/SUBTRACT). */
export function isListTopicConfig(name: string): boolean {
  return TOPIC_CONFIGS[name]?.type === ConfigType.list
}

/** Every topic config with its effective value for a topic with these overrides. */
export function describeTopicConfigs(config: RinglogConfig, overrides: Readonly<Record<string, string>>): DescribedConfig[] {
  return Object.entries(TOPIC_CONFIGS).map(([name, def]) => {
    const synonyms: ConfigSynonym[] = []
    const override = overrides[name]
    if (override !== undefined) synonyms.push({ name, value: override, source: ConfigSource.dynamicTopic })
    if (def.broker) {
      const brokerValue = String(def.broker.value(config))
      if (brokerValue !== def.kafkaDefault) synonyms.push({ name: def.broker.name, value: brokerValue, source: ConfigSource.staticBroker })
      synonyms.push({ name: def.broker.name, value: def.kafkaDefault, source: ConfigSource.default })
    } else {
      synonyms.push({ name, value: def.kafkaDefault, source: ConfigSource.default })
    }
    return { name, value: synonyms[0].value, readOnly: false, source: synonyms[0].source, type: def.type, synonyms }
  })
}

interface BrokerConfigDef { type: number; kafkaDefault: string; value: (config: RinglogConfig) => string }

/** The broker configs ringlog has, under Kafka's names (set at start: static, read-only). */
const BROKER_CONFIGS: Record<string, BrokerConfigDef> = {
  'broker.id': { type: ConfigType.int, kafkaDefault: '-1', value: (c) => String(c.nodeId) },
  'num.partitions': { type: ConfigType.int, kafkaDefault: '1', value: (c) => String(c.numPartitions) },
  'auto.create.topics.enable': { type: ConfigType.boolean, kafkaDefault: 'true', value: (c) => String(c.autoCreateTopics) },
  'default.replication.factor': { type: ConfigType.int, kafkaDefault: '1', value: () => '1' },
  'log.dirs': { type: ConfigType.string, kafkaDefault: '/tmp/kafka-logs', value: (c) => c.dataDir },
  'log.segment.bytes': { type: ConfigType.int, kafkaDefault: '1073741824', value: (c) => String(c.segmentBytes) },
  'log.roll.ms': { type: ConfigType.long, kafkaDefault: '604800000', value: (c) => String(c.segmentMs) },
  'log.retention.ms': { type: ConfigType.long, kafkaDefault: '604800000', value: (c) => String(c.retentionMs) },
  'log.retention.bytes': { type: ConfigType.long, kafkaDefault: '-1', value: (c) => String(c.retentionBytes) },
  'message.max.bytes': { type: ConfigType.int, kafkaDefault: '1048588', value: (c) => String(c.maxMessageBytes) },
  'socket.request.max.bytes': { type: ConfigType.int, kafkaDefault: '104857600', value: (c) => String(c.socketRequestMaxBytes) },
  'group.initial.rebalance.delay.ms': { type: ConfigType.int, kafkaDefault: '3000', value: (c) => String(c.groupInitialRebalanceDelayMs) },
  'group.min.session.timeout.ms': { type: ConfigType.int, kafkaDefault: '6000', value: (c) => String(c.groupMinSessionTimeoutMs) },
  'group.max.session.timeout.ms': { type: ConfigType.int, kafkaDefault: '1800000', value: (c) => String(c.groupMaxSessionTimeoutMs) },
  'offsets.retention.minutes': { type: ConfigType.int, kafkaDefault: '10080', value: (c) => String(c.offsetsRetentionMinutes) },
  'max.incremental.fetch.session.cache.slots': { type: ConfigType.int, kafkaDefault: '1000', value: (c) => String(c.maxIncrementalFetchSessionCacheSlots) },
}

export function describeBrokerConfigs(config: RinglogConfig): DescribedConfig[] {
  return Object.entries(BROKER_CONFIGS).map(([name, def]) => {
    const value = def.value(config)
    const synonyms: ConfigSynonym[] = value === def.kafkaDefault
      ? [{ name, value, source: ConfigSource.default }]
      : [{ name, value, source: ConfigSource.staticBroker }, { name, value: def.kafkaDefault, source: ConfigSource.default }]
    return { name, value, readOnly: true, source: synonyms[0].source, type: def.type, synonyms }
  })
}
