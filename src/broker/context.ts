/**
 * Everything a broker (or the embedded API) needs besides sockets: config, topic registry,
 * the partition engine, producer ids, and a slot for the group coordinator. Topic creation
 * and deletion live here so the wire handlers and the embedded admin share one path.
 */
import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { RinglogConfig } from '../config.js'
import { ProducerIdAllocator } from '../cluster/producer-ids.js'
import { InvalidPartitionsError, MAX_PARTITIONS, TopicRegistry, validateTopicName, type TopicInfo } from '../cluster/topic-registry.js'
import type { LogEngine, PartitionSettings } from '../engine/log-engine.js'
import { createLogEngine } from '../engine/router.js'
import { TopicAlreadyExistsError, UnknownTopicOrPartitionError } from '../errors.js'
import { GroupCoordinator } from '../groups/group-coordinator.js'
import { OffsetsStore } from '../groups/offsets-store.js'
import { partitionSettingsFromConfigs, validateTopicConfigs } from './topic-settings.js'

export interface BrokerContext {
  readonly config: RinglogConfig
  readonly topics: TopicRegistry
  readonly engine: LogEngine
  readonly producerIds: ProducerIdAllocator
  /** Kafka's group coordinator, set by whoever wires the group APIs; closed with the context. */
  groups?: GroupCoordinator
  /** True while `createTopic(name)` runs (its partitions are opening; not yet in the registry). */
  isCreating(name: string): boolean
  /** Opens every partition, then records the topic (so a listed topic is always usable). */
  createTopic(name: string, partitions: number, configs?: Record<string, string>): Promise<TopicInfo>
  /** Removes the topic from the registry, then drops (deletes) its partitions. */
  deleteTopic(name: string): Promise<TopicInfo>
  /** Replaces the topic's config overrides (validated) and applies them to its open partitions. */
  setTopicConfigs(name: string, configs: Record<string, string>): Promise<TopicInfo>
  /** Opens partitions up to `count`, then records the new count (CreatePartitions). */
  addPartitions(name: string, count: number): Promise<TopicInfo>
  /** Runs `hook` during close, after the group coordinator and before the engine closes. */
  onClose(hook: () => Promise<void> | void): void
  /** Closes groups, hooks and the engine (flush + checkpoints). Idempotent. */
  close(): Promise<void>
}

export interface OpenBrokerContextOptions {
  /** Replaces the worker-thread engine (tests use an in-memory double). */
  engine?: (config: RinglogConfig, defaults: PartitionSettings) => LogEngine
}

/** The broker-wide partition defaults (topic configs override them per topic). */
export function brokerPartitionDefaults(config: RinglogConfig): PartitionSettings {
  return {
    segmentBytes: config.segmentBytes,
    segmentMs: config.segmentMs,
    retentionMs: config.retentionMs,
    retentionBytes: config.retentionBytes,
    maxMessageBytes: config.maxMessageBytes,
  }
}

interface EngineWithBulkOpen extends LogEngine {
  openPartitions(list: readonly { topic: string; partition: number; settings?: PartitionSettings }[]): Promise<void>
}

function hasBulkOpen(engine: LogEngine): engine is EngineWithBulkOpen {
  return typeof (engine as Partial<EngineWithBulkOpen>).openPartitions === 'function'
}

/** Opens the data dir, the registry, the engine and every partition of every known topic. */
export async function openBrokerContext(config: RinglogConfig, options: OpenBrokerContextOptions = {}): Promise<BrokerContext> {
  const dataDir = resolve(config.dataDir)
  mkdirSync(dataDir, { recursive: true })
  const metaDir = join(dataDir, 'meta')
  const topics = TopicRegistry.open(metaDir)
  const producerIds = ProducerIdAllocator.open(metaDir)
  const defaults = brokerPartitionDefaults(config)
  const engine = options.engine
    ? options.engine({ ...config, dataDir }, defaults)
    : createLogEngine({ dataDir, flush: config.flush, maxWorkers: config.maxWorkers, defaults })
  const all = topics.list().flatMap((t) => {
    const settings = partitionSettingsFromConfigs(t.configs)
    return Array.from({ length: t.partitions }, (_, partition) => ({ topic: t.name, partition, settings }))
  })
  try {
    if (hasBulkOpen(engine)) await engine.openPartitions(all)
    else await Promise.all(all.map((p) => engine.openPartition(p.topic, p.partition, p.settings)))
  } catch (error) {
    await engine.close().catch(() => undefined)
    throw error
  }
  const context = new Context({ ...config, dataDir }, topics, engine, producerIds)
  // Committed offsets are fdatasync'd before OffsetCommit is answered, whatever the flush policy.
  const offsets = await OffsetsStore.open({ dir: join(metaDir, 'group-offsets') }).catch(async (error: unknown) => {
    await engine.close().catch(() => undefined)
    throw error
  })
  context.groups = new GroupCoordinator({
    offsets,
    config: {
      initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
      minSessionTimeoutMs: config.groupMinSessionTimeoutMs,
      maxSessionTimeoutMs: config.groupMaxSessionTimeoutMs,
      offsetsRetentionMs: config.offsetsRetentionMinutes * 60_000,
    },
  })
  context.onClose(() => offsets.close())
  return context
}

class Context implements BrokerContext {
  groups?: GroupCoordinator
  private readonly creating = new Set<string>()
  private readonly closeHooks: (() => Promise<void> | void)[] = []
  private closing: Promise<void> | undefined

  constructor(
    readonly config: RinglogConfig,
    readonly topics: TopicRegistry,
    readonly engine: LogEngine,
    readonly producerIds: ProducerIdAllocator,
  ) {}

  isCreating(name: string): boolean {
    return this.creating.has(name)
  }

  async createTopic(name: string, partitions: number, configs: Record<string, string> = {}): Promise<TopicInfo> {
    validateTopicName(name)
    validateTopicConfigs(configs)
    if (this.topics.get(name) || this.creating.has(name)) throw new TopicAlreadyExistsError(`topic "${name}" already exists`)
    this.creating.add(name)
    try {
      if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
        throw new InvalidPartitionsError(`partition count must be 1-${MAX_PARTITIONS}, got ${partitions}`)
      }
      const settings = partitionSettingsFromConfigs(configs)
      await Promise.all(Array.from({ length: partitions }, (_, p) => this.engine.openPartition(name, p, settings)))
      return this.topics.create(name, partitions, configs)
    } finally {
      this.creating.delete(name)
    }
  }

  async deleteTopic(name: string): Promise<TopicInfo> {
    if (!this.topics.get(name)) throw new UnknownTopicOrPartitionError(`unknown topic "${name}"`)
    const topic = this.topics.delete(name)
    await Promise.all(Array.from({ length: topic.partitions }, (_, p) => this.engine.dropPartition(name, p).catch((error: unknown) => {
      if (!(error instanceof UnknownTopicOrPartitionError)) throw error
    })))
    return topic
  }

  async setTopicConfigs(name: string, configs: Record<string, string>): Promise<TopicInfo> {
    this.topics.require(name)
    validateTopicConfigs(configs)
    const topic = this.topics.setConfigs(name, configs)
    const settings = partitionSettingsFromConfigs(configs)
    await Promise.all(Array.from({ length: topic.partitions }, (_, p) => this.engine.reconfigurePartition(name, p, settings)))
    return topic
  }

  async addPartitions(name: string, count: number): Promise<TopicInfo> {
    const current = this.topics.require(name)
    if (!Number.isInteger(count) || count <= current.partitions || count > MAX_PARTITIONS) {
      throw new InvalidPartitionsError(`topic "${name}" has ${current.partitions} partitions; the new count must be larger and at most ${MAX_PARTITIONS}, got ${count}`)
    }
    const settings = partitionSettingsFromConfigs(current.configs)
    await Promise.all(Array.from({ length: count - current.partitions }, (_, i) => this.engine.openPartition(name, current.partitions + i, settings)))
    return this.topics.setPartitions(name, count)
  }

  onClose(hook: () => Promise<void> | void): void {
    this.closeHooks.push(hook)
  }

  close(): Promise<void> {
    this.closing ??= this.closeOnce()
    return this.closing
  }

  private async closeOnce(): Promise<void> {
    this.groups?.close()
    for (const hook of this.closeHooks) await hook()
    await this.engine.close()
  }
}
