/**
 * One node, whatever its front door: everything the wire server (broker/) and the embedded
 * API (client/) need besides sockets: config, topic registry, the partition engine, producer
 * ids and Kafka's group coordinator. Topic creation and deletion live here so the wire
 * handlers and the embedded admin share one path.
 */
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { RinglogConfig } from '../config.js'
import { CONSUMER_OFFSETS_TOPIC, INTERNAL_TOPICS, TRANSACTION_STATE_CONFIGS, TRANSACTION_STATE_TOPIC, transactionStateReplicationFactor } from './internal-topics.js'
import { ProducerIdAllocator } from './producer-ids.js'
import { InvalidPartitionsError, MAX_PARTITIONS, TopicRegistry, validateTopicName, type TopicInfo } from './topic-registry.js'
import type { LogEngine } from '../engine/log-engine.js'
import { createLogEngine, type PartitionRouter } from '../engine/main/router.js'
import { InvalidConfigError, InvalidRequestError, TopicAlreadyExistsError, UnknownTopicOrPartitionError } from '../errors.js'
import { GroupCoordinator } from '../groups/group-coordinator.js'
import { ConsumerOffsetsLog } from '../groups/consumer-offsets-log.js'
import { migrateOffsetsStore } from '../groups/offsets-migration.js'
import { internalTopicIo, offsetsTopicIo, type OffsetsTopicHost } from './offsets-topic-io.js'
import { TransactionCoordinator } from '../transactions/transaction-coordinator.js'
import { TxnMarkerWriter } from './transaction-markers.js'
import { partitionForGroup } from '../protocol/consumer-offsets-records.js'
import { mkdirDurable } from '../storage/durable-dirs.js'
import { GROUP_OFFSETS_DIR, META_DIR } from '../storage/file-names.js'
import { nodeStorageFs } from '../storage/storage-fs.js'
import { partitionSettingsFor, validateTopicConfigs } from './topic-settings.js'
import type { ClusterView } from './cluster-view.js'


/**
 * Smallest segment.bytes a topic may set: 1 MiB, Kafka's own minimum since 4.0 (KIP-1030; it
 * was 14 bytes). Each segment keeps a descriptor open, so 128-byte segments let one topic of
 * small batches exhaust the open-files limit.
 */
export const MIN_SEGMENT_BYTES = 1024 * 1024

/** Suffix of a deleted topic's partition directory until it is removed (Kafka's own). */
export const DELETED_DIR_SUFFIX = '-delete'

/** Removes the renamed directories of deletes a crash interrupted (see deleteTopic). */
function removeDeletedDirs(dataDir: string): void {
  for (const entry of readdirSync(dataDir, { withFileTypes: true })) {
    if (entry.isDirectory() && entry.name.endsWith(DELETED_DIR_SUFFIX)) rmSync(join(dataDir, entry.name), { recursive: true, force: true })
  }
}

function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r')
  try { fsyncSync(fd) } finally { closeSync(fd) }
}

export interface CreateTopicOptions {
  /** The node creates one of Kafka's internal topics for itself (clients may not). */
  internal?: boolean
}

export interface NodeContext {
  readonly config: RinglogConfig
  readonly topics: TopicRegistry
  readonly engine: LogEngine
  readonly producerIds: ProducerIdAllocator
  /** Kafka's group coordinator; closed with the context. */
  readonly groups: GroupCoordinator
  /** Cluster mode (config.etcd set): the metadata cache and leader checks; undefined single-node. */
  readonly cluster: ClusterView | undefined
  /** Kafka's transaction coordinator (state in `__transaction_state`); closed with the context. */
  readonly transactions: TransactionCoordinator
  /** True while `createTopic(name)` runs (its partitions are opening; not yet in the registry). */
  isCreating(name: string): boolean
  /** Opens every partition, then records the topic (so a listed topic is always usable). */
  /**
   * Kafka's internal topic names (`__consumer_offsets`, `__transaction_state`) are refused unless
   * `options.internal` says the node itself creates them.
   */
  createTopic(name: string, partitions: number, configs?: Record<string, string>, options?: CreateTopicOptions): Promise<TopicInfo>
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

/**
 * Opens the data dir, the registry, the engine and every partition of every known topic. `warn`
 * gets a cluster node's inter-broker connection failures (stderr lines if not given).
 */
export async function openNodeContext(config: RinglogConfig, warn?: (message: string) => void): Promise<NodeContext> {
  const dataDir = resolve(config.dataDir)
  mkdirDurable(nodeStorageFs, dataDir)
  removeDeletedDirs(dataDir)
  const metaDir = join(dataDir, META_DIR)
  const topics = TopicRegistry.open(metaDir)
  const producerIds = ProducerIdAllocator.open(metaDir)
  const engine: PartitionRouter = createLogEngine({
    dataDir, flush: config.flush, maxWorkers: config.maxWorkers,
    scrubIntervalMs: config.scrubIntervalMs, scrubBytesPerSecond: config.scrubRateMb * 1e6,
    slowSyncMs: config.slowFdatasyncMs,
  })
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
  // Committed offsets and group metadata are records in __consumer_offsets (created on first use).
  const holder: { context?: Context } = {}
  const offsets = new ConsumerOffsetsLog(offsetsTopicIo({
    config, topics, engine,
    get cluster() { return holder.context?.cluster },
    createTopic: (name, partitions, configs, options) => holder.context!.createTopic(name, partitions, configs, options),
  }))
  const groups = new GroupCoordinator({
    offsets,
    config: {
      initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
      minSessionTimeoutMs: config.groupMinSessionTimeoutMs,
      maxSessionTimeoutMs: config.groupMaxSessionTimeoutMs,
      offsetsRetentionMs: config.offsetsRetentionMinutes * 60_000,
    },
  })
  const transactionHost: OffsetsTopicHost = {
    config, topics, engine,
    get cluster() { return holder.context?.cluster },
    createTopic: (name, partitions, configs, options) => holder.context!.createTopic(name, partitions, configs, options),
  }
  // Markers to partitions other brokers lead go to them (WriteTxnMarkers), over connections closed with the node.
  const markers = new TxnMarkerWriter({ engine, topics, groups, get cluster() { return holder.context?.cluster } })
  const transactions = openTransactionCoordinator(config, transactionHost, producerIds, groups, markers)
  const context = new Context({ ...config, dataDir }, topics, engine, producerIds, groups, transactions)
  holder.context = context
  context.onClose(() => markers.close())
  if (!config.etcd) {
    // A single node coordinates every group: load every partition, then move a pre-topic store in.
    try {
      for (let p = 0; p < offsetsTopicIo(context).partitions; p++) await offsets.load(p)
      await migrateOffsetsStore(join(metaDir, GROUP_OFFSETS_DIR), offsets)
      // ...and every transactional id: prepared transactions found in the log complete now.
      for (let p = 0; p < transactionStateIo(context).partitions; p++) await transactions.load(p)
    } catch (error) {
      await context.close().catch(() => undefined)
      throw error
    }
  }
  if (config.etcd) {
    // Cluster mode only: etcd and cluster/ are never loaded by a single-node broker.
    const { ClusterNode } = await import('./cluster-node.js')
    const cluster = await ClusterNode.start(context, context.config, warn).catch(async (error: unknown) => {
      await context.close().catch(() => undefined)
      await offsets.close()
      throw error
    })
    context.cluster = cluster
    // The coordinator of a group is the leader of its offsets partition: follow the leaderships.
    cluster.onLeadership((topic, partition, leader) => {
      if (topic === TRANSACTION_STATE_TOPIC) {
        if (!leader) return transactions.unload(partition)
        transactions.load(partition).catch((error: unknown) => {
          process.stderr.write(`ringlog cluster: loading ${topic}-${partition} failed: ${error instanceof Error ? error.message : String(error)}\n`)
          transactions.unload(partition)
        })
        return
      }
      if (topic !== CONSUMER_OFFSETS_TOPIC) return
      if (!leader) return offsets.unload(partition)
      offsets.load(partition).catch((error: unknown) => {
        process.stderr.write(`ringlog cluster: loading ${topic}-${partition} failed: ${error instanceof Error ? error.message : String(error)}\n`)
        offsets.unload(partition)
      })
    })
    context.onClose(() => cluster.close())
  }
  context.onClose(() => offsets.close())
  return context
}

/** `__transaction_state` on this node (created on first use, like `__consumer_offsets`). */
function transactionStateIo(host: OffsetsTopicHost): ReturnType<typeof internalTopicIo> {
  return internalTopicIo(host, {
    topic: TRANSACTION_STATE_TOPIC,
    partitions: (config) => config.transactionStateLogNumPartitions,
    replicationFactor: transactionStateReplicationFactor,
    configs: () => TRANSACTION_STATE_CONFIGS,
  })
}

function openTransactionCoordinator(config: RinglogConfig, host: OffsetsTopicHost, producerIds: ProducerIdAllocator, groups: GroupCoordinator, markers: TxnMarkerWriter): TransactionCoordinator {
  return new TransactionCoordinator({
    io: transactionStateIo(host),
    writeMarker: (topic, partition, marker) => markers.write(topic, partition, marker),
    allocateProducerId: async () => (host.cluster ? host.cluster.allocateProducerId() : producerIds.allocate()),
    commitOffsets: (groupId, offsets) => groups.commitTransactionalOffsets(groupId, offsets),
    // AddOffsetsToTxn puts the group's offsets partition in the transaction: its marker commits the offsets.
    offsetsPartition: (groupId) => ({ topic: CONSUMER_OFFSETS_TOPIC, partition: partitionForGroup(groupId, offsetsTopicIo(host).partitions) }),
    partitionExists: (topic, partition) => {
      const count = host.cluster ? host.cluster.topic(topic)?.partitions.length : host.topics.get(topic)?.partitions
      return partition >= 0 && partition < (count ?? 0)
    },
    coordinatorEpoch: (partition) => host.cluster?.topic(TRANSACTION_STATE_TOPIC)?.partitions[partition]?.leaderEpoch ?? 0,
    maxTimeoutMs: config.transactionMaxTimeoutMs,
    abortCheckIntervalMs: config.transactionAbortCheckIntervalMs,
    onBackgroundError: (transactionalId, error) => {
      process.stderr.write(`ringlog transactions: completing "${transactionalId}" failed, will retry: ${error instanceof Error ? error.message : String(error)}\n`)
    },
  })
}

class Context implements NodeContext {
  private readonly creating = new Set<string>()
  /** Partitions that creates under way will open (checked against the engine's capacity). */
  private claimedPartitions = 0
  private readonly closeHooks: (() => Promise<void> | void)[] = []
  private closing: Promise<void> | undefined
  cluster: ClusterView | undefined = undefined

  constructor(
    readonly config: RinglogConfig,
    readonly topics: TopicRegistry,
    readonly engine: LogEngine,
    readonly producerIds: ProducerIdAllocator,
    readonly groups: GroupCoordinator,
    readonly transactions: TransactionCoordinator,
  ) {}

  isCreating(name: string): boolean {
    return this.creating.has(name)
  }

  /**
   * Every limit is checked before any work: the name, the configs, the partition count against
   * the documented maximum and against the partitions the engine can still hold (less those
   * that creates under way have claimed). A create that still fails midway (a disk error, out
   * of descriptors) undoes itself: the partitions it opened are dropped and the directories it
   * made removed, so nothing of it stays open or on disk.
   */
  async createTopic(name: string, partitions: number, configs: Record<string, string> = {}, options: CreateTopicOptions = {}): Promise<TopicInfo> {
    validateTopicName(name)
    if (INTERNAL_TOPICS.has(name) && options.internal !== true) throw new InvalidRequestError(`"${name}" is one of Kafka's internal topics; ringlog keeps that state itself and does not create it`)
    validateTopicConfigs(configs)
    const segmentBytes = configs['segment.bytes']
    if (segmentBytes !== undefined && Number(segmentBytes) < MIN_SEGMENT_BYTES) {
      throw new InvalidConfigError(`segment.bytes must be at least ${MIN_SEGMENT_BYTES} (1 MiB, Kafka 4.0's minimum), got ${segmentBytes}`)
    }
    if (this.topics.get(name) || this.creating.has(name)) throw new TopicAlreadyExistsError(`topic "${name}" already exists`)
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
      throw new InvalidPartitionsError(`partition count must be 1-${MAX_PARTITIONS}, got ${partitions}`)
    }
    const capacity = this.engine.partitionCapacity?.()
    if (capacity !== undefined && partitions > capacity - this.claimedPartitions) {
      throw new InvalidPartitionsError(`this broker can open ${Math.max(0, capacity - this.claimedPartitions)} more partitions, not ${partitions} (its workers' partition slots are taken)`)
    }
    const settings = partitionSettingsFor(this.config, configs)
    this.creating.add(name)
    this.claimedPartitions += partitions
    const dirs = Array.from({ length: partitions }, (_, p) => join(this.config.dataDir, `${name}-${p}`))
    const preexisting = dirs.map((dir) => existsSync(dir))
    try {
      const opened = await Promise.allSettled(dirs.map((_, p) => this.engine.openPartition(name, p, settings)))
      const failed = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      if (failed) {
        await this.undoCreate(name, opened, dirs, preexisting)
        throw failed.reason
      }
      try {
        return this.topics.create(name, partitions, configs)
      } catch (error) {
        await this.undoCreate(name, opened, dirs, preexisting)
        throw error
      }
    } finally {
      this.claimedPartitions -= partitions
      this.creating.delete(name)
    }
  }

  /** Drops what a failed create opened and removes the partition directories it made. */
  private async undoCreate(name: string, opened: readonly PromiseSettledResult<void>[], dirs: readonly string[], preexisting: readonly boolean[]): Promise<void> {
    await Promise.allSettled(opened.map((r, p) => (r.status === 'fulfilled' ? this.engine.dropPartition(name, p) : Promise.resolve())))
    dirs.forEach((dir, p) => { if (!preexisting[p]) rmSync(dir, { recursive: true, force: true }) })
  }

  /**
   * As Kafka: the partition directories are first renamed aside (`<topic>-<p>.<stamp>-delete`,
   * made durable), then the topic leaves the registry, then the partitions close and the
   * renamed directories go. A crash anywhere in between leaves no directory under the topic's
   * own names (so a re-created topic starts empty, never with the old records), and start-up
   * removes whatever `-delete` directories remain. The workers' open files stay valid across
   * the rename.
   */
  async deleteTopic(name: string): Promise<TopicInfo> {
    const info = this.topics.get(name)
    if (!info) throw new UnknownTopicOrPartitionError(`unknown topic "${name}"`)
    const stamp = Date.now().toString(36)
    const renamed: string[] = []
    for (let p = 0; p < info.partitions; p++) {
      const dir = join(this.config.dataDir, `${name}-${p}`)
      if (!existsSync(dir)) continue
      const aside = `${dir}.${stamp}${DELETED_DIR_SUFFIX}`
      renameSync(dir, aside)
      renamed.push(aside)
    }
    fsyncDirectory(this.config.dataDir)
    const topic = this.topics.delete(name)
    await Promise.all(Array.from({ length: topic.partitions }, (_, p) => this.engine.dropPartition(name, p).catch((error: unknown) => {
      if (!(error instanceof UnknownTopicOrPartitionError)) throw error
    })))
    for (const dir of renamed) rmSync(dir, { recursive: true, force: true })
    return topic
  }

  async setTopicConfigs(name: string, configs: Record<string, string>): Promise<TopicInfo> {
    this.topics.require(name)
    validateTopicConfigs(configs)
    const topic = this.topics.setConfigs(name, configs)
    const settings = partitionSettingsFor(this.config, configs)
    await Promise.all(Array.from({ length: topic.partitions }, (_, p) => this.engine.reconfigurePartition(name, p, settings)))
    return topic
  }

  async addPartitions(name: string, count: number): Promise<TopicInfo> {
    const current = this.topics.require(name)
    if (!Number.isInteger(count) || count <= current.partitions || count > MAX_PARTITIONS) {
      throw new InvalidPartitionsError(`topic "${name}" has ${current.partitions} partitions; the new count must be larger and at most ${MAX_PARTITIONS}, got ${count}`)
    }
    const settings = partitionSettingsFor(this.config, current.configs)
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
    this.transactions.close()
    this.groups.close()
    for (const hook of this.closeHooks) await hook()
    await this.engine.close()
  }
}
