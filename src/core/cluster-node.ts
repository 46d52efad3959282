/**
 * Cluster mode of a node (loaded by node-context.ts only when `etcd` is configured): registers
 * the broker, runs a controller candidate, keeps a metadata cache (brokers, topics, partition
 * states, the controller) from etcd watches, opens the local replicas of every partition
 * assigned here and applies role changes from the partition states: a leader stamps its epoch,
 * switches the partition to replicated HW mode and tracks its followers; a follower hands the
 * partition to the replica fetcher of its leader (which truncates first, KIP-279).
 */
import { ErrorCode } from '../protocol/error-codes.js'
import type { RinglogConfig } from '../config.js'
import { BrokerRegistration } from '../cluster/broker-registration.js'
import { ClusterMetadata, type LiveBroker } from '../cluster/cluster-metadata.js'
import { controlledShutdown } from '../cluster/controlled-shutdown.js'
import { Controller } from '../cluster/controller.js'
import { forgetPartitionKeys, partitionKey } from '../cluster/partition-keys.js'
import { HighWatermarkWaiters } from '../cluster/high-watermark-waiters.js'
import { AppendWaiters, type AppendWait } from '../cluster/append-waiters.js'
import { LeaderReplica } from '../cluster/leader-replica.js'
import { parseControllerRecord, type PartitionState, type TopicRecord } from '../cluster/metadata-layout.js'
import { PrefixWatch } from '../cluster/prefix-watch.js'
import { ClusterProducerIdAllocator } from '../cluster/producer-id-blocks.js'
import { ReplicaFetcher } from '../cluster/replica-fetcher.js'
import { ScrubRepairer } from '../cluster/scrub-repair.js'
import { createClusterTopic } from '../cluster/topic-creation.js'
import { addClusterPartitions } from '../cluster/partition-addition.js'
import { alterClusterTopicConfigs } from '../cluster/topic-config-alteration.js'
import { InvalidReplicationFactorError, UnknownTopicOrPartitionError } from '../errors.js'
import type { ClusterBrokerView, ClusterEvent, ClusterTopicView, ClusterView, ListenerEndpoint } from './cluster-view.js'
import { InterBrokerConnector, interBrokerSettingsOf } from '../kafka-client/inter-broker-connection.js'
import { advertisedEndpoints, resolveListeners } from '../security/listeners.js'
import type { LogEngine } from '../engine/log-engine.js'
import type { TopicInfo, TopicRegistry } from './topic-registry.js'
import { partitionSettingsFor, validateTopicConfigs } from './topic-settings.js'

/** How long SIGTERM waits for the controller to move this broker's leaderships. */
const CONTROLLED_SHUTDOWN_TIMEOUT_MS = 5_000
/** Bound on waiting for this broker's cache to show a topic it just created. */
const CREATE_VISIBLE_TIMEOUT_MS = 10_000
const MIN_INSYNC_CONFIG = 'min.insync.replicas'

const keyOf = partitionKey

function sameConfigs(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a)
  return keys.length === Object.keys(b).length && keys.every((k) => b[k] === a[k])
}

/** The cluster's topic id (base64url of 16 bytes) as the UUID string the local registry uses. */
function topicIdAsUuid(id: string): string {
  const hex = Buffer.from(id, 'base64url').toString('hex').padEnd(32, '0').slice(0, 32)
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
}

/** What cluster mode needs of its node (not NodeContext itself: node-context.ts loads this file). */
export interface ClusterNodeHost {
  readonly topics: TopicRegistry
  readonly engine: LogEngine
  /** The single-node delete: drops the local partitions of a topic etcd no longer has. */
  deleteTopic(name: string): Promise<TopicInfo>
}

/** Events kept for the first listener (a broker joining with thousands of partitions logs the last ones). */
const MAX_EARLY_EVENTS = 10_000

/** A partition's leadership moved to this broker (`leader`) or away from it. */
export type LeadershipListener = (topic: string, partition: number, leader: boolean) => void

type Role = { kind: 'leader'; epoch: number } | { kind: 'follower'; epoch: number; leader: number }

export class ClusterNode implements ClusterView {
  readonly nodeId: number
  private brokerCache = new Map<number, LiveBroker>()
  private topicCache = new Map<string, TopicRecord>()
  private stateCache = new Map<string, PartitionState>()
  private controller = -1
  private readonly opened = new Set<string>()
  private readonly roles = new Map<string, Role>()
  private readonly leaders = new Map<string, LeaderReplica>()
  private readonly fetchers = new Map<number, ReplicaFetcher>()
  private readonly appendWaiters = new AppendWaiters()
  private readonly hwWaiters = new HighWatermarkWaiters()
  private readonly isrWrites = new Set<string>()
  private readonly watches: PrefixWatch<unknown, unknown>[] = []
  private syncing: Promise<void> | undefined
  /**
   * False until every watch has delivered its initial state. A sync before that would see no
   * topics in etcd yet and delete every local partition as "deleted in etcd" (a restarted
   * broker lost its whole log this way).
   */
  private watchesLoaded = false
  private syncWanted = false
  private isrTimer: NodeJS.Timeout | undefined
  private closing: Promise<void> | undefined
  /** Set once controlled shutdown starts: this broker takes no new follower role from then on. */
  private handingOff: Promise<void> | undefined
  /** Brokers with a controlled shutdown under way (`shutdown/<id>`): a leader does not take them back into an ISR. */
  private shuttingDownBrokers = new Set<number>()
  private candidate: Controller | undefined
  private registration: BrokerRegistration | undefined
  /**
   * How this node's replica fetchers, marker writers and repairs connect to the other brokers:
   * the listener they connect to (`settings.protocol`), this broker's TLS files and SASL login.
   */
  readonly interBroker: InterBrokerConnector
  private topicsSeen: (() => void)[] = []
  private readonly producerIds: ClusterProducerIdAllocator
  private readonly leadershipListeners: LeadershipListener[] = []
  private readonly eventListeners: ((event: ClusterEvent) => void)[] = []
  /**
   * Events from before the first listener (the leaderships taken while joining, before the
   * broker could subscribe), handed to it when it comes; bounded, the oldest dropped first.
   */
  private earlyEvents: ClusterEvent[] | undefined = []
  /** Mends ranges the scrubber finds damaged with the leader's copy (cluster/scrub-repair.ts). */
  private readonly scrubRepairer: ScrubRepairer

  private constructor(private readonly context: ClusterNodeHost, private readonly config: RinglogConfig, private readonly metadata: ClusterMetadata, warn?: (message: string) => void) {
    this.nodeId = config.nodeId
    this.interBroker = new InterBrokerConnector(interBrokerSettingsOf(config), warn)
    this.producerIds = new ClusterProducerIdAllocator(metadata)
    this.scrubRepairer = new ScrubRepairer({
      nodeId: this.nodeId,
      engine: context.engine,
      leaderOf: (topic, partition) => this.stateCache.get(keyOf(topic, partition))?.leader ?? -1,
      address: (id) => this.interBrokerAddress(id),
      connector: this.interBroker,
      resignLeadership: (topic, partition) => this.resignLeadership(topic, partition),
      log: (message) => process.stderr.write(`ringlog cluster: ${message}\n`),
    })
  }

  /** Tells `listener` of every partition this broker leads now and of each later change. */
  onLeadership(listener: LeadershipListener): void {
    this.leadershipListeners.push(listener)
    for (const key of this.leaders.keys()) {
      const slash = key.lastIndexOf('/')
      listener(key.slice(0, slash), Number(key.slice(slash + 1)), true)
    }
  }

  onEvent(listener: (event: ClusterEvent) => void): void {
    this.eventListeners.push(listener)
    const early = this.earlyEvents
    this.earlyEvents = undefined
    for (const event of early ?? []) listener(event)
  }

  private emitEvent(event: ClusterEvent): void {
    if (this.earlyEvents) {
      if (this.earlyEvents.length >= MAX_EARLY_EVENTS) this.earlyEvents.shift()
      this.earlyEvents.push(event)
    }
    for (const listener of this.eventListeners) listener(event)
  }

  private emitLeadership(topic: string, partition: number, leader: boolean): void {
    for (const listener of this.leadershipListeners) listener(topic, partition, leader)
  }

  allocateProducerId(): Promise<number> {
    return this.producerIds.allocate()
  }

  /**
   * Joins the cluster: registers, starts the controller candidate and the watches, applies the
   * current state. `warn` gets the inter-broker connection failures (stderr lines if not given).
   */
  static async start(context: ClusterNodeHost, config: RinglogConfig, warn?: (message: string) => void): Promise<ClusterNode> {
    const metadata = new ClusterMetadata({ endpoints: config.etcd.split(',').map((e) => e.trim()).filter((e) => e !== ''), cluster: config.clusterName })
    const node = new ClusterNode(context, config, metadata, warn)
    try {
      await node.join()
    } catch (error) {
      await node.close().catch(() => undefined)
      throw error
    }
    return node
  }

  private async join(): Promise<void> {
    const { metadata, config } = this
    const report = (error: unknown): void => { process.stderr.write(`ringlog cluster: ${error instanceof Error ? error.message : String(error)}\n`) }
    this.watches.push(await metadata.watchBrokers((brokers) => { this.brokerCache = new Map(brokers); this.scheduleSync() }, report) as PrefixWatch<unknown, unknown>)
    this.watches.push(await metadata.watchTopics((topics) => {
      this.topicCache = new Map([...topics].map(([name, entry]) => [name, entry.value]))
      this.scheduleSync()
    }, report) as PrefixWatch<unknown, unknown>)
    this.watches.push(await metadata.watchPartitions((states) => {
      this.stateCache = new Map([...states].map(([key, entry]) => [key, entry.value]))
      this.scheduleSync()
    }, report) as PrefixWatch<unknown, unknown>)
    this.watches.push(await metadata.watchShutdownRequests((requests) => { this.shuttingDownBrokers = new Set(requests.keys()) }, report) as PrefixWatch<unknown, unknown>)
    const controllerKey = metadata.layout.controller
    this.watches.push(await PrefixWatch.open<string, number>(metadata.etcd, controllerKey, {
      keyOf: (k) => (k === controllerKey ? k : undefined),
      parse: (k, text) => parseControllerRecord(k, text).brokerId,
      onChange: (entries) => { this.controller = entries.get(controllerKey)?.value ?? -1 },
      onError: report,
    }) as PrefixWatch<unknown, unknown>)
    this.context.engine.on?.('scrubDamage', (damage) => this.scrubRepairer.onDamage(damage))
    // --port 0 or listeners: the real ports are known only once the server is bound (registerListeners).
    if (config.port !== 0 && config.listeners.length === 0) await this.registerAt(advertisedEndpoints(resolveListeners(config), config, (l) => l.port))
    const tick = Math.max(50, Math.min(1_000, Math.floor(config.replicaLagTimeMaxMs / 2)))
    this.isrTimer = setInterval(() => this.maintainIsrs(), tick)
    this.watchesLoaded = true
    this.scheduleSync()
    await this.syncing
  }

  /**
   * Registers this broker with every listener's endpoint and starts its controller candidate.
   * With `--port 0` or listeners the server calls it once bound, so etcd (and every client
   * Metadata names this broker to) gets the real ports, never 0.
   */
  async registerListeners(endpoints: readonly ListenerEndpoint[]): Promise<void> {
    if (this.registration || this.closing) return
    await this.registerAt(endpoints)
  }

  private async registerAt(endpoints: readonly ListenerEndpoint[]): Promise<void> {
    const { metadata, config } = this
    const report = (error: unknown): void => { process.stderr.write(`ringlog cluster: ${error instanceof Error ? error.message : String(error)}\n`) }
    // host:port is the inter-broker listener's, what a reader of the older one-address registration uses.
    const interBroker = endpoints.find((e) => e.listener === this.interBroker.settings.protocol) ?? endpoints[0]
    this.registration = await BrokerRegistration.register(metadata, config.nodeId,
      { host: interBroker.host, port: interBroker.port, endpoints: endpoints.map((e) => ({ ...e })) },
      { ttlSeconds: config.leaseTtlSeconds })
    this.registration.on('error', report)
    this.candidate = Controller.start(metadata, { brokerId: config.nodeId, ttlSeconds: config.leaseTtlSeconds })
    this.candidate.on('error', report)
  }

  /** Where this node's inter-broker connections reach broker `id` (see ClusterBrokerView.host). */
  private interBrokerAddress(id: number): { host: string; port: number } | undefined {
    const broker = this.brokerCache.get(id)
    return broker && this.viewOf(broker)
  }

  private viewOf(broker: LiveBroker): ClusterBrokerView {
    const endpoints = broker.endpoints ?? null
    const interBroker = endpoints?.find((e) => e.listener === this.interBroker.settings.protocol)
    return { id: broker.id, host: interBroker?.host ?? broker.host, port: interBroker?.port ?? broker.port, endpoints }
  }

  // Metadata cache (ClusterView)

  brokers(): ClusterBrokerView[] {
    return [...this.brokerCache.values()].map((b) => this.viewOf(b)).sort((a, b) => a.id - b.id)
  }

  controllerId(): number { return this.controller }

  topics(): ClusterTopicView[] {
    return [...this.topicCache.keys()].sort().map((name) => this.topic(name)!)
  }

  topic(name: string): ClusterTopicView | undefined {
    const record = this.topicCache.get(name)
    if (!record) return undefined
    return {
      name,
      topicId: topicIdAsUuid(record.topicId),
      configs: record.configs,
      partitions: record.replicas.map((replicas, partition) => {
        const state = this.stateCache.get(keyOf(name, partition))
        return { partition, leader: state?.leader ?? -1, leaderEpoch: state?.leaderEpoch ?? -1, replicas, isr: state?.isr ?? [] }
      }),
    }
  }

  checkLeader(topic: string, partition: number, currentLeaderEpoch: number): number {
    const record = this.topicCache.get(topic)
    if (!record || partition < 0 || partition >= record.replicas.length) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    const role = this.roles.get(keyOf(topic, partition))
    const state = this.stateCache.get(keyOf(topic, partition))
    if (currentLeaderEpoch >= 0 && state) {
      if (currentLeaderEpoch < state.leaderEpoch) return ErrorCode.FENCED_LEADER_EPOCH
      if (currentLeaderEpoch > state.leaderEpoch) return ErrorCode.UNKNOWN_LEADER_EPOCH
    }
    if (role?.kind !== 'leader' || !this.leaders.has(keyOf(topic, partition))) return ErrorCode.NOT_LEADER_OR_FOLLOWER
    return ErrorCode.NONE
  }

  checkMinInsync(topic: string, partition: number): number {
    const leader = this.leaders.get(keyOf(topic, partition))
    if (!leader) return ErrorCode.NOT_LEADER_OR_FOLLOWER
    return leader.isr.length < this.minInsync(topic) ? ErrorCode.NOT_ENOUGH_REPLICAS : ErrorCode.NONE
  }

  private minInsync(topic: string): number {
    const configured = Number(this.topicCache.get(topic)?.configs[MIN_INSYNC_CONFIG])
    return Number.isInteger(configured) && configured > 0 ? configured : this.config.minInsyncReplicas
  }

  onFollowerFetch(topic: string, partition: number, replicaId: number, fetchOffset: number, currentLeaderEpoch: number): number {
    const code = this.checkLeader(topic, partition, currentLeaderEpoch)
    if (code !== ErrorCode.NONE) return code
    const key = keyOf(topic, partition)
    const leader = this.leaders.get(key)!
    if (!leader.isReplica(replicaId)) return ErrorCode.NOT_LEADER_OR_FOLLOWER
    const offsets = this.context.engine.offsets(topic, partition)
    if (!offsets) return ErrorCode.NOT_LEADER_OR_FOLLOWER
    // Past the leader's end (a divergent tail not yet truncated) or before its start: the fetch
    // gets OFFSET_OUT_OF_RANGE and says nothing of what the follower holds (Kafka does the same).
    if (fetchOffset > offsets.logEndOffset || fetchOffset < offsets.logStartOffset) return ErrorCode.NONE
    leader.recordFetch(replicaId, fetchOffset, offsets.logEndOffset, Date.now())
    this.updateHighWatermark(topic, partition)
    if (!leader.isr.includes(replicaId)) this.maintainIsr(topic, partition)
    return ErrorCode.NONE
  }

  onLeaderAppend(topic: string, partition: number): void {
    this.updateHighWatermark(topic, partition)
    this.appendWaiters.wake(topic, partition, Math.max(0, this.context.engine.logEndOffset(topic, partition)))
  }

  waitForAnyAppend(waits: readonly AppendWait[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return this.appendWaiters.wait(waits, timeoutMs, (topic, partition) => Math.max(0, this.context.engine.logEndOffset(topic, partition)), signal)
  }

  async awaitReplication(topic: string, partition: number, lastOffset: number, timeoutMs: number): Promise<number> {
    const { engine } = this.context
    const deadline = Date.now() + Math.max(0, timeoutMs)
    for (;;) {
      const leader = this.leaders.get(keyOf(topic, partition))
      if (!leader) return ErrorCode.NOT_LEADER_OR_FOLLOWER
      // The ISR is checked even once the HW passed: a shrink to fewer than min.insync.replicas moves
      // the HW to the leader's end by itself (Kafka's checkEnoughReplicasReachOffset does the same).
      if (leader.isr.length < this.minInsync(topic)) return ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND
      if ((engine.offsets(topic, partition)?.highWatermark ?? -1) > lastOffset) return ErrorCode.NONE
      const remaining = deadline - Date.now()
      if (remaining <= 0) return ErrorCode.REQUEST_TIMED_OUT
      // Short slices: an ISR shrink or a lost leadership does not move the HW, so look again.
      const slice = Math.min(remaining, 250)
      await (leader.highWatermarkShownAtOnce
        ? this.hwWaiters.wait(keyOf(topic, partition), lastOffset, slice)
        : engine.waitForData(topic, partition, lastOffset, slice))
    }
  }

  async createTopic(name: string, partitions: number, replicationFactor: number, configs: Record<string, string>): Promise<{ topicId: string; partitions: number; replicationFactor: number }> {
    validateTopicConfigs(configs)
    const live = this.brokerCache.size
    if (replicationFactor < 1 || replicationFactor > live) {
      throw new InvalidReplicationFactorError(`replication factor: ${replicationFactor} larger than available brokers: ${live}`)
    }
    const created = await createClusterTopic(this.metadata, { name, partitions, replicationFactor, configs })
    await this.untilTopicVisible(name)
    return { topicId: topicIdAsUuid(created.topicId), partitions: created.replicas.length, replicationFactor }
  }

  async createPartitions(name: string, count: number, assignments: number[][] | null, validateOnly: boolean): Promise<void> {
    await addClusterPartitions(this.metadata, { name, count, assignments, validateOnly })
    if (validateOnly) return
    await this.untilApplied(() => (this.topicCache.get(name)?.replicas.length ?? 0) >= count && (this.context.topics.get(name)?.partitions ?? 0) >= count)
  }

  async alterTopicConfigs(name: string, merge: (current: Readonly<Record<string, string>>) => Record<string, string>, validateOnly: boolean): Promise<void> {
    const next = await alterClusterTopicConfigs(this.metadata, name, (current) => {
      const merged = merge(current)
      validateTopicConfigs(merged)
      return merged
    }, validateOnly)
    if (validateOnly) return
    await this.untilApplied(() => sameConfigs(this.context.topics.get(name)?.configs ?? {}, next))
  }

  /** Waits (bounded) until this broker's cache and registry hold the topic, so the client's next request finds it. */
  private untilTopicVisible(name: string): Promise<void> {
    return this.untilApplied(() => this.context.topics.get(name) !== undefined && this.topicCache.has(name))
  }

  /** Waits (bounded) until a metadata sync makes `applied()` true, so the client's next request sees its change here. */
  private async untilApplied(applied: () => boolean): Promise<void> {
    const deadline = Date.now() + CREATE_VISIBLE_TIMEOUT_MS
    while (!applied() && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200)
        this.topicsSeen.push(() => { clearTimeout(timer); resolve() })
      })
    }
  }

  async deleteTopic(name: string): Promise<void> {
    if (!(await this.metadata.deleteTopic(name))) throw new UnknownTopicOrPartitionError(`unknown topic "${name}"`)
  }

  // Applying etcd state to the local replicas

  private scheduleSync(): void {
    if (this.closing || !this.watchesLoaded) return
    if (this.syncing) {
      this.syncWanted = true
      return
    }
    this.syncing = this.syncLoop().finally(() => { this.syncing = undefined })
  }

  private async syncLoop(): Promise<void> {
    do {
      this.syncWanted = false
      try {
        await this.syncOnce()
      } catch (error) {
        process.stderr.write(`ringlog cluster: applying metadata failed: ${error instanceof Error ? error.message : String(error)}\n`)
        setTimeout(() => this.scheduleSync(), 500)
      }
    } while (this.syncWanted && !this.closing)
    for (const seen of this.topicsSeen.splice(0)) seen()
  }

  private async syncOnce(): Promise<void> {
    const { context } = this
    // Topics deleted in etcd leave this broker (the local single-node delete drops the partitions).
    for (const local of context.topics.list()) {
      if (this.topicCache.has(local.name)) continue
      for (let p = 0; p < local.partitions; p++) await this.becomeNothing(local.name, p)
      await context.deleteTopic(local.name)
      for (let p = 0; p < local.partitions; p++) this.opened.delete(keyOf(local.name, p))
      forgetPartitionKeys(local.name)
    }
    for (const [name, record] of this.topicCache) {
      const local = context.topics.get(name)
      if (!local) context.topics.create(name, record.replicas.length, record.configs)
      else if (!sameConfigs(local.configs, record.configs)) await this.applyConfigs(name, record)
      for (let p = 0; p < record.replicas.length; p++) {
        if (!record.replicas[p].includes(this.nodeId)) continue
        const key = keyOf(name, p)
        if (!this.opened.has(key)) {
          if (!context.engine.offsets(name, p)) await context.engine.openPartition(name, p, partitionSettingsFor(this.config, record.configs))
          this.opened.add(key)
        }
        await this.applyRole(name, p, record.replicas[p], this.stateCache.get(key))
      }
      // Added partitions (CreatePartitions) count once this broker's replicas of them are open.
      if (local && local.partitions < record.replicas.length) context.topics.setPartitions(name, record.replicas.length)
    }
  }

  /** A topic's configs changed in etcd: the registry takes them and this broker's replicas reopen with them. */
  private async applyConfigs(name: string, record: TopicRecord): Promise<void> {
    const { context } = this
    context.topics.setConfigs(name, record.configs)
    const settings = partitionSettingsFor(this.config, record.configs)
    for (let p = 0; p < record.replicas.length; p++) {
      if (this.opened.has(keyOf(name, p))) await context.engine.reconfigurePartition(name, p, settings)
    }
  }

  private async applyRole(topic: string, partition: number, replicas: number[], state: PartitionState | undefined): Promise<void> {
    const key = keyOf(topic, partition)
    const current = this.roles.get(key)
    if (!state || state.leader < 0) return this.becomeNothing(topic, partition)
    if (state.leader === this.nodeId) {
      if (current?.kind === 'leader' && current.epoch === state.leaderEpoch) {
        const leader = this.leaders.get(key)!
        // Changed by someone else (the controller dropping a dead broker): still this leader's ISR change.
        if ([...leader.isr].sort().join(',') !== [...state.isr].sort().join(',')) {
          this.emitEvent({ kind: 'isrChange', topic, partition, leaderEpoch: state.leaderEpoch, from: [...leader.isr], to: [...state.isr] })
        }
        leader.isr = [...state.isr]
        // A smaller ISR (a follower shut down or died) may let the HW move now, not at the next fetch.
        this.updateHighWatermark(topic, partition)
        return
      }
      await this.becomeLeader(topic, partition, replicas, state)
      return
    }
    if (current?.kind === 'follower' && current.epoch === state.leaderEpoch && current.leader === state.leader) return
    await this.becomeFollower(topic, partition, state)
  }

  private async becomeNothing(topic: string, partition: number): Promise<void> {
    const key = keyOf(topic, partition)
    const role = this.roles.get(key)
    if (!role) return
    if (role.kind === 'follower') await this.fetchers.get(role.leader)?.removePartition(topic, partition)
    this.leaders.delete(key)
    this.roles.delete(key)
    this.hwWaiters.poke(key)
    if (role.kind === 'leader') this.emitLeadership(topic, partition, false)
  }

  private async becomeLeader(topic: string, partition: number, replicas: number[], state: PartitionState): Promise<void> {
    const key = keyOf(topic, partition)
    await this.becomeNothing(topic, partition)
    const { engine } = this.context
    await engine.setLeaderEpoch(topic, partition, state.leaderEpoch)
    const hw = engine.offsets(topic, partition)?.highWatermark ?? 0
    // From here the HW is what the ISR has (replicated mode), starting where this replica's was.
    await engine.setHighWatermark(topic, partition, hw)
    this.leaders.set(key, new LeaderReplica(state.leaderEpoch, [...state.isr], replicas, this.nodeId, hw, Date.now()))
    this.roles.set(key, { kind: 'leader', epoch: state.leaderEpoch })
    this.updateHighWatermark(topic, partition)
    this.emitLeadership(topic, partition, true)
    this.emitEvent({ kind: 'leaderChange', topic, partition, leader: this.nodeId, leaderEpoch: state.leaderEpoch, role: 'leader', isr: [...state.isr] })
  }

  private async becomeFollower(topic: string, partition: number, state: PartitionState): Promise<void> {
    await this.becomeNothing(topic, partition)
    // In controlled shutdown (out of every ISR, about to exit): answer NOT_LEADER_OR_FOLLOWER and
    // fetch nothing, as Kafka's StopReplica leaves the broker (Kafka stops its fetchers too).
    if (this.handingOff) return
    const { engine } = this.context
    const hw = engine.offsets(topic, partition)?.highWatermark ?? 0
    // Replicated HW mode: consumers of this replica never read past what the leader confirmed.
    await engine.setHighWatermark(topic, partition, hw)
    let fetcher = this.fetchers.get(state.leader)
    if (!fetcher) {
      const leaderId = state.leader
      fetcher = new ReplicaFetcher({
        nodeId: this.nodeId, leaderId, engine,
        address: () => this.interBrokerAddress(leaderId),
        connector: this.interBroker,
        partitionMaxBytes: this.config.replicaFetchMaxBytes,
        responseMaxBytes: this.config.replicaFetchResponseMaxBytes,
      })
      this.fetchers.set(leaderId, fetcher)
    }
    this.roles.set(keyOf(topic, partition), { kind: 'follower', epoch: state.leaderEpoch, leader: state.leader })
    fetcher.addPartition(topic, partition, state.leaderEpoch)
    this.emitEvent({ kind: 'leaderChange', topic, partition, leader: state.leader, leaderEpoch: state.leaderEpoch, role: 'follower', isr: [...state.isr] })
  }

  // Leader bookkeeping

  private updateHighWatermark(topic: string, partition: number): void {
    const key = keyOf(topic, partition)
    const leader = this.leaders.get(key)
    const logEnd = this.context.engine.logEndOffset(topic, partition)
    if (!leader || logEnd < 0) return
    const next = leader.advanceHighWatermark(logEnd)
    if (next === undefined) return
    leader.highWatermarkShownAtOnce = this.context.engine.advanceHighWatermark(topic, partition, next)
    // Not shown at once (flush 'always'): the waits go back to the worker's published HW.
    if (leader.highWatermarkShownAtOnce) this.hwWaiters.wake(key, next)
    else this.hwWaiters.poke(key)
  }

  private maintainIsrs(): void {
    for (const key of this.leaders.keys()) {
      const slash = key.lastIndexOf('/')
      this.maintainIsr(key.slice(0, slash), Number(key.slice(slash + 1)))
    }
  }

  /** Shrinks or expands one partition's ISR in etcd (CAS, re-read on conflict); one write at a time. */
  private maintainIsr(topic: string, partition: number): void {
    const key = keyOf(topic, partition)
    const leader = this.leaders.get(key)
    if (!leader || this.isrWrites.has(key) || this.closing) return
    const offered = leader.proposedIsr(Date.now(), this.config.replicaLagTimeMaxMs)
    // A broker in controlled shutdown left every ISR on purpose: its last fetches do not bring it back.
    const proposed = offered?.filter((id) => leader.isr.includes(id) || !this.shuttingDownBrokers.has(id))
    if (!proposed || (proposed.length === leader.isr.length && proposed.every((id) => leader.isr.includes(id)))) return
    this.isrWrites.add(key)
    void (async () => {
      let current = await this.metadata.readPartition(topic, partition)
      for (let attempt = 0; attempt < 5 && current; attempt++) {
        if (current.state.leader !== this.nodeId || current.state.leaderEpoch !== leader.leaderEpoch) return
        const result = await this.metadata.casPartition(current, { leader: this.nodeId, leaderEpoch: leader.leaderEpoch, isr: proposed })
        if (result.ok) {
          const from = leader.isr
          leader.isr = proposed
          this.emitEvent({ kind: 'isrChange', topic, partition, leaderEpoch: leader.leaderEpoch, from: [...from], to: [...proposed] })
          this.updateHighWatermark(topic, partition)
          return
        }
        current = result.reason === 'conflict' ? result.current : undefined
      }
    })().catch(() => undefined).finally(() => this.isrWrites.delete(key))
  }

  /**
   * Hands this broker's leadership of a partition to another live ISR member (CAS under a new
   * epoch, as the controller moves leaders; the ISR stays as it is: this replica still holds
   * every batch, one of them damaged until repaired). False when no other live member is in sync.
   */
  private async resignLeadership(topic: string, partition: number): Promise<boolean> {
    let current = await this.metadata.readPartition(topic, partition)
    for (let attempt = 0; attempt < 5 && current; attempt++) {
      const { state } = current
      if (state.leader !== this.nodeId) return true
      const successor = state.isr.find((id) => id !== this.nodeId && this.brokerCache.has(id))
      if (successor === undefined) return false
      const result = await this.metadata.casPartition(current, { leader: successor, leaderEpoch: state.leaderEpoch + 1, isr: state.isr })
      if (result.ok) return true
      current = result.reason === 'conflict' ? result.current : undefined
    }
    return false
  }

  /** Controlled shutdown first (leaderships move while this broker still serves), then leaves. */
  close(): Promise<void> {
    this.closing ??= this.closeOnce()
    return this.closing
  }

  /**
   * Kafka's controlled shutdown (the server runs it before it stops serving): the controller
   * moves every leadership to another live ISR member and takes this broker out of every ISR;
   * then the replica fetchers stop. Idempotent.
   */
  controlledShutdown(): Promise<void> {
    this.handingOff ??= this.handOff()
    return this.handingOff
  }

  private async handOff(): Promise<void> {
    if (!this.registration?.registered) return
    const result = await controlledShutdown(this.metadata, this.registration, CONTROLLED_SHUTDOWN_TIMEOUT_MS).catch(() => undefined)
    // Operators see whether leaderships were handed off or clients will wait for a failover.
    process.stderr.write(result?.done
      ? `ringlog cluster: controlled shutdown done${result.remaining.length > 0 ? `; still led here (no other ISR member): ${result.remaining.join(',')}` : ''}\n`
      : 'ringlog cluster: controlled shutdown not answered in time; leaderships move when the lease expires\n')
    // Out of every ISR now: fetching on could only bring this broker back into one.
    for (const fetcher of this.fetchers.values()) await fetcher.close()
  }

  private async closeOnce(): Promise<void> {
    clearInterval(this.isrTimer)
    await this.controlledShutdown()
    await this.syncing
    await this.scrubRepairer.close()
    for (const fetcher of this.fetchers.values()) await fetcher.close()
    await this.candidate?.close().catch(() => undefined)
    await this.registration?.close().catch(() => undefined)
    for (const watch of this.watches) await watch.close().catch(() => undefined)
    this.appendWaiters.wakeAll()
    this.hwWaiters.wakeAll()
    this.metadata.close()
  }
}
