/**
 * One node, whatever its front door: everything the wire server (broker/) and the embedded
 * API (client/) need besides sockets: config, topic registry, the partition engine, producer
 * ids and Kafka's group coordinator. Topic creation and deletion live here so the wire
 * handlers and the embedded admin share one path.
 */
import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { RinglogConfig } from '../config.js'
import { ProducerIdAllocator } from './producer-ids.js'
import { InvalidPartitionsError, MAX_PARTITIONS, TopicRegistry, validateTopicName, type TopicInfo } from './topic-registry.js'
import type { LogEngine } from '../engine/log-engine.js'
import { createLogEngine, type PartitionRouter } from '../engine/main/router.js'
import { TopicAlreadyExistsError, UnknownTopicOrPartitionError } from '../errors.js'
import { GroupCoordinator } from '../groups/group-coordinator.js'
import { OffsetsStore } from '../groups/offsets-store.js'
import { GROUP_OFFSETS_DIR, META_DIR } from '../storage/file-names.js'
import { partitionSettingsFor, validateTopicConfigs } from './topic-settings.js'

export interface NodeContext {
  readonly config: RinglogConfig
  readonly topics: TopicRegistry
  readonly engine: LogEngine
  readonly producerIds: ProducerIdAllocator
  /** Kafka's group coordinator; closed with the context. */
  readonly groups: GroupCoordinator
  /** True while `createTopic(name)` runs (its partitions are opening; not yet in the registry). */
  isCreating(name: string): boolean
  /** Opens every partition, then records the topic (so a listed topic is always usable). */
  createTopic(name: string, partitions: number, configs?: Record<string, string>): Promise<TopicInfo>
  /** Removes the topic from the registry, then drops (deletes) its partitions. */
  deleteTopic(name: string): Promise<TopicInfo>
  /** Runs `hook` during close, after the group coordinator and before the engine closes. */
  onClose(hook: () => Promise<void> | void): void
  /** Closes groups, hooks and the engine (flush + checkpoints). Idempotent. */
  close(): Promise<void>
}

/** Opens the data dir, the registry, the engine and every partition of every known topic. */
export async function openNodeContext(config: RinglogConfig): Promise<NodeContext> {
  const dataDir = resolve(config.dataDir)
  mkdirSync(dataDir, { recursive: true })
  const metaDir = join(dataDir, META_DIR)
  const topics = TopicRegistry.open(metaDir)
  const producerIds = ProducerIdAllocator.open(metaDir)
  const engine: PartitionRouter = createLogEngine({ dataDir, flush: config.flush, maxWorkers: config.maxWorkers })
  const all = topics.list().flatMap((t) => {
    const settings = partitionSettingsFor(config, t.configs)
    return Array.from({ length: t.partitions }, (_, partition) => ({ topic: t.name, partition, settings }))
  })
  try {
    await engine.openPartitions(all)
  } catch (error) {
    await engine.close().catch(() => undefined)
    throw error
  }
  // Committed offsets are fdatasync'd before OffsetCommit is answered, whatever the flush policy.
  const offsets = await OffsetsStore.open({ dir: join(metaDir, GROUP_OFFSETS_DIR) }).catch(async (error: unknown) => {
    await engine.close().catch(() => undefined)
    throw error
  })
  const groups = new GroupCoordinator({
    offsets,
    config: {
      initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
      minSessionTimeoutMs: config.groupMinSessionTimeoutMs,
      maxSessionTimeoutMs: config.groupMaxSessionTimeoutMs,
      offsetsRetentionMs: config.offsetsRetentionMinutes * 60_000,
    },
  })
  const context = new Context({ ...config, dataDir }, topics, engine, producerIds, groups)
  context.onClose(() => offsets.close())
  return context
}

class Context implements NodeContext {
  private readonly creating = new Set<string>()
  private readonly closeHooks: (() => Promise<void> | void)[] = []
  private closing: Promise<void> | undefined

  constructor(
    readonly config: RinglogConfig,
    readonly topics: TopicRegistry,
    readonly engine: LogEngine,
    readonly producerIds: ProducerIdAllocator,
    readonly groups: GroupCoordinator,
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
      const settings = partitionSettingsFor(this.config, configs)
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

  onClose(hook: () => Promise<void> | void): void {
    this.closeHooks.push(hook)
  }

  close(): Promise<void> {
    this.closing ??= this.closeOnce()
    return this.closing
  }

  private async closeOnce(): Promise<void> {
    this.groups.close()
    for (const hook of this.closeHooks) await hook()
    await this.engine.close()
  }
}
