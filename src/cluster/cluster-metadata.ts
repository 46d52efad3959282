/**
 * Typed access to the cluster metadata in etcd (layout in metadata-layout.ts): brokers, topics,
 * partition state, producer-id blocks and controlled-shutdown requests. Partition state is only
 * ever changed by compare-and-swap on the key's mod revision, so two writers (the controller and
 * a leader shrinking its ISR) can never overwrite each other: the loser gets a conflict, re-reads
 * and decides again. The controller's writes are additionally fenced on its election key, so a
 * deposed controller that has not noticed yet cannot write.
 */
import { randomBytes } from 'node:crypto'
import { Etcd3, type IOptions, type IOperation } from 'etcd3'
import { TopicAlreadyExistsError, UnknownTopicOrPartitionError } from '../errors.js'
import { InvalidPartitionsError, InvalidTopicError } from '../errors.js'
import {
  type BrokerRegistration, type PartitionState, type PreferredElectionRequest, type ShutdownRequest, type TopicRecord,
  MetadataLayout, isValidTopicName, parseBrokerRegistration, parsePartitionState, parsePreferredElectionRequest,
  parseProducerIdsRecord, parseShutdownRequest, parseTopicRecord,
} from './metadata-layout.js'
import { type ChangeKind, type Entry, PrefixWatch } from './prefix-watch.js'

export interface ClusterMetadataOptions {
  /** etcd endpoints, `host:port` or URLs. */
  endpoints: string | string[]
  /** Cluster name: the prefix `/ringlog/<cluster>/`. */
  cluster: string
  /** Deadline of every unary etcd call, so a call made while etcd is down fails instead of hanging. */
  callTimeoutMs?: number
  /** etcd's `--max-txn-ops` (default 128): bounds the partitions of one topic, created in one txn. */
  maxTxnOps?: number
}

/** A partition state with the mod revision it was read at: the token for the next CAS. */
export interface VersionedPartitionState {
  topic: string
  partition: number
  state: PartitionState
  modRevision: string
}

/** Makes a CAS write conditional on the writer still holding an election key (the controller). */
export interface WriteFence {
  key: string
  createRevision: string
}

export type CasResult =
  | { ok: true; modRevision: string }
  | { ok: false; reason: 'conflict'; current: VersionedPartitionState | undefined }
  | { ok: false; reason: 'fenced' }

export interface LiveBroker extends BrokerRegistration {
  id: number
  /** Create revision of the registration key: a new value each time the broker registers (Kafka's broker epoch). */
  brokerEpoch: string
}

export interface ProducerIdBlock {
  firstProducerId: number
  size: number
}

const DEFAULT_CALL_TIMEOUT_MS = 5_000
const DEFAULT_MAX_TXN_OPS = 128
const MAX_CAS_ATTEMPTS = 1_000

type HostPolicyFactory = NonNullable<NonNullable<IOptions['faultHandling']>['host']>

/**
 * etcd3's default per-host circuit breaker refuses every call for 5 s after 3 failures, which
 * delays re-registration after etcd comes back; our callers retry with their own backoff, so
 * each call just goes through.
 */
const passThroughPolicy: HostPolicyFactory = () =>
  ({
    // async: etcd3 also calls execute with a function that throws, and expects a rejection.
    execute: async <R>(fn: (context: { signal: AbortSignal; attempt: number }) => R | Promise<R>) => fn({ signal: new AbortController().signal, attempt: 0 }),
  }) as unknown as ReturnType<HostPolicyFactory>

/** Kafka prints topic ids as url-safe base64 of 16 random bytes (never the all-zero id). */
function newTopicId(): string {
  return randomBytes(16).toString('base64url')
}

export class ClusterMetadata {
  readonly layout: MetadataLayout
  readonly etcd: Etcd3
  private readonly maxTxnOps: number

  constructor(options: ClusterMetadataOptions) {
    this.layout = new MetadataLayout(options.cluster)
    const endpoints = Array.isArray(options.endpoints) ? options.endpoints : [options.endpoints]
    const hosts = endpoints.map((e) => (e.includes('://') ? e : `http://${e}`))
    const callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS
    this.maxTxnOps = options.maxTxnOps ?? DEFAULT_MAX_TXN_OPS
    this.etcd = new Etcd3({
      hosts,
      dialTimeout: callTimeoutMs,
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
      faultHandling: { host: passThroughPolicy },
    })
  }

  close(): void {
    this.etcd.close()
  }

  // Brokers

  async listBrokers(): Promise<Map<number, LiveBroker>> {
    const response = await this.etcd.getAll().prefix(this.layout.brokersPrefix).exec()
    const brokers = new Map<number, LiveBroker>()
    for (const kv of response.kvs) {
      const key = kv.key.toString('utf8')
      const id = this.layout.idFromKey(key, this.layout.brokersPrefix)
      if (id === undefined) continue
      brokers.set(id, { ...parseBrokerRegistration(key, kv.value.toString('utf8')), id, brokerEpoch: kv.create_revision })
    }
    return brokers
  }

  /** Calls `onChange` with every live broker now and after each registration or expiry. */
  watchBrokers(
    onChange: (brokers: ReadonlyMap<number, LiveBroker>, kind: ChangeKind, brokerId: number | undefined) => void,
    onError?: (error: unknown) => void,
  ): Promise<PrefixWatch<number, LiveBroker>> {
    const layout = this.layout
    return PrefixWatch.open<number, LiveBroker>(this.etcd, layout.brokersPrefix, {
      keyOf: (key) => layout.idFromKey(key, layout.brokersPrefix),
      parse: (key, text) => ({ ...parseBrokerRegistration(key, text), id: layout.idFromKey(key, layout.brokersPrefix) ?? -1, brokerEpoch: '' }),
      onChange: (entries, kind, id) => onChange(liveBrokers(entries), kind, id),
      onMalformed: onError,
      onError,
    })
  }

  // Topics

  async getTopic(name: string): Promise<TopicRecord | undefined> {
    const key = this.layout.topic(name)
    const text = await this.etcd.get(key).string()
    return text === null ? undefined : parseTopicRecord(key, text)
  }

  async listTopics(): Promise<Map<string, TopicRecord>> {
    const response = await this.etcd.getAll().prefix(this.layout.topicsPrefix).exec()
    const topics = new Map<string, TopicRecord>()
    for (const kv of response.kvs) {
      const key = kv.key.toString('utf8')
      const name = this.layout.topicFromKey(key)
      if (name !== undefined) topics.set(name, parseTopicRecord(key, kv.value.toString('utf8')))
    }
    return topics
  }

  watchTopics(
    onChange: (topics: ReadonlyMap<string, Entry<TopicRecord>>, kind: ChangeKind, topic: string | undefined) => void,
    onError?: (error: unknown) => void,
  ): Promise<PrefixWatch<string, TopicRecord>> {
    const layout = this.layout
    return PrefixWatch.open<string, TopicRecord>(this.etcd, layout.topicsPrefix, {
      keyOf: (key) => layout.topicFromKey(key),
      parse: parseTopicRecord,
      onChange,
      onMalformed: onError,
      onError,
    })
  }

  /**
   * Creates a topic and the state of all its partitions in one etcd transaction that fails
   * (TopicAlreadyExistsError) if the topic key exists. Returns the topic id.
   */
  async createTopic(
    name: string,
    topic: { replicas: number[][]; configs?: Record<string, string>; topicId?: string },
    initialStates: PartitionState[],
    fence?: WriteFence,
  ): Promise<string> {
    if (!isValidTopicName(name)) throw new InvalidTopicError(`invalid topic name ${JSON.stringify(name)}`)
    if (topic.replicas.length === 0) throw new InvalidPartitionsError('a topic needs at least one partition')
    if (initialStates.length !== topic.replicas.length) throw new InvalidPartitionsError('one initial state per partition')
    if (topic.replicas.length + 1 > this.maxTxnOps) {
      throw new InvalidPartitionsError(`at most ${this.maxTxnOps - 1} partitions per topic with this etcd's --max-txn-ops ${this.maxTxnOps}`)
    }
    const record: TopicRecord = { topicId: topic.topicId ?? newTopicId(), replicas: topic.replicas, configs: topic.configs ?? {} }
    const key = this.layout.topic(name)
    const ops: IOperation[] = [this.etcd.put(key).value(JSON.stringify(record))]
    initialStates.forEach((state, p) => ops.push(this.etcd.put(this.layout.partition(name, p)).value(JSON.stringify(state))))
    let txn = this.etcd.if(key, 'Create', '==', 0)
    if (fence) txn = txn.and(fence.key, 'Create', '==', fence.createRevision)
    const result = await txn.then(...ops).commit()
    if (!result.succeeded) {
      if (fence && !(await this.holdsFence(fence))) throw new FencedWriteError(fence)
      throw new TopicAlreadyExistsError(`topic ${name} already exists`)
    }
    return record.topicId
  }

  /** A topic with the mod revision it was read at (the token of `addPartitions` and `casTopicConfigs`). */
  async readTopic(name: string): Promise<{ record: TopicRecord; modRevision: string } | undefined> {
    const key = this.layout.topic(name)
    const kv = (await this.etcd.get(key).exec()).kvs[0]
    return kv && { record: parseTopicRecord(key, kv.value.toString('utf8')), modRevision: kv.mod_revision }
  }

  /**
   * CreatePartitions: appends `added` replica lists to the topic and creates their partition
   * states, in one transaction that holds only if the topic is still at `modRevision` and none
   * of the new partition keys exists. False on a conflict (someone changed the topic first).
   */
  async addPartitions(name: string, read: { record: TopicRecord; modRevision: string }, added: number[][], initialStates: PartitionState[]): Promise<boolean> {
    if (added.length === 0 || initialStates.length !== added.length) throw new InvalidPartitionsError('one initial state per new partition')
    if (added.length + 1 > this.maxTxnOps) {
      throw new InvalidPartitionsError(`at most ${this.maxTxnOps - 1} partitions can be added at once with this etcd's --max-txn-ops ${this.maxTxnOps}`)
    }
    const key = this.layout.topic(name)
    const record: TopicRecord = { ...read.record, replicas: [...read.record.replicas, ...added] }
    const first = read.record.replicas.length
    const ops: IOperation[] = [this.etcd.put(key).value(JSON.stringify(record))]
    initialStates.forEach((state, i) => ops.push(this.etcd.put(this.layout.partition(name, first + i)).value(JSON.stringify(state))))
    let txn = this.etcd.if(key, 'Mod', '==', read.modRevision)
    for (let i = 0; i < added.length; i++) txn = txn.and(this.layout.partition(name, first + i), 'Create', '==', 0)
    return (await txn.then(...ops).commit()).succeeded
  }

  /** AlterConfigs: replaces the topic's configs if it is still at `modRevision`; false on a conflict. */
  async casTopicConfigs(name: string, read: { record: TopicRecord; modRevision: string }, configs: Record<string, string>): Promise<boolean> {
    const key = this.layout.topic(name)
    const record: TopicRecord = { ...read.record, configs: { ...configs } }
    const result = await this.etcd.if(key, 'Mod', '==', read.modRevision).then(this.etcd.put(key).value(JSON.stringify(record))).commit()
    return result.succeeded
  }

  /** Deletes a topic and all its partition states in one transaction; false if it did not exist. */
  async deleteTopic(name: string, fence?: WriteFence): Promise<boolean> {
    const key = this.layout.topic(name)
    let txn = this.etcd.if(key, 'Create', '>', 0)
    if (fence) txn = txn.and(fence.key, 'Create', '==', fence.createRevision)
    const result = await txn
      .then(this.etcd.delete().key(key), this.etcd.delete().prefix(this.layout.topicPartitionsPrefix(name)))
      .commit()
    if (!result.succeeded && fence && !(await this.holdsFence(fence))) throw new FencedWriteError(fence)
    return result.succeeded
  }

  // Partition state

  async readPartition(topic: string, partition: number): Promise<VersionedPartitionState | undefined> {
    const key = this.layout.partition(topic, partition)
    const response = await this.etcd.get(key).exec()
    const kv = response.kvs[0]
    if (!kv) return undefined
    return { topic, partition, state: parsePartitionState(key, kv.value.toString('utf8')), modRevision: kv.mod_revision }
  }

  /** Every partition state, or those of one topic, sorted by topic then partition. */
  async listPartitions(topic?: string): Promise<VersionedPartitionState[]> {
    const prefix = topic === undefined ? this.layout.partitionsPrefix : this.layout.topicPartitionsPrefix(topic)
    const response = await this.etcd.getAll().prefix(prefix).exec()
    const states: VersionedPartitionState[] = []
    for (const kv of response.kvs) {
      const key = kv.key.toString('utf8')
      const tp = this.layout.partitionFromKey(key)
      if (!tp) continue
      states.push({ ...tp, state: parsePartitionState(key, kv.value.toString('utf8')), modRevision: kv.mod_revision })
    }
    return states.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
  }

  watchPartitions(
    onChange: (states: ReadonlyMap<string, Entry<PartitionState>>, kind: ChangeKind, key: string | undefined) => void,
    onError?: (error: unknown) => void,
  ): Promise<PrefixWatch<string, PartitionState>> {
    const layout = this.layout
    return PrefixWatch.open<string, PartitionState>(this.etcd, layout.partitionsPrefix, {
      keyOf: (key) => {
        const tp = layout.partitionFromKey(key)
        return tp ? `${tp.topic}/${tp.partition}` : undefined
      },
      parse: parsePartitionState,
      onChange,
      onMalformed: onError,
      onError,
    })
  }

  /**
   * Writes `next` only if the partition key is still at `expectedModRevision` (and the fence, if
   * any, still holds). `version` is set to the previous version + 1 here, so callers cannot
   * forget it. A conflict returns the current state for the caller to decide again.
   */
  async casPartition(current: VersionedPartitionState, next: Omit<PartitionState, 'version'>, fence?: WriteFence): Promise<CasResult> {
    if (next.leader !== -1 && !next.isr.includes(next.leader)) {
      throw new RangeError(`${current.topic}-${current.partition}: leader ${next.leader} is not in the ISR [${next.isr}]`)
    }
    const key = this.layout.partition(current.topic, current.partition)
    const state: PartitionState = { leader: next.leader, leaderEpoch: next.leaderEpoch, isr: [...next.isr], version: current.state.version + 1 }
    let txn = this.etcd.if(key, 'Mod', '==', current.modRevision)
    if (fence) txn = txn.and(fence.key, 'Create', '==', fence.createRevision)
    const result = await txn.then(this.etcd.put(key).value(JSON.stringify(state))).commit()
    if (result.succeeded) return { ok: true, modRevision: result.header.revision }
    if (fence && !(await this.holdsFence(fence))) return { ok: false, reason: 'fenced' }
    return { ok: false, reason: 'conflict', current: await this.readPartition(current.topic, current.partition) }
  }

  /** True while the fence's election key exists with the same create revision. */
  async holdsFence(fence: WriteFence): Promise<boolean> {
    const response = await this.etcd.get(fence.key).exec()
    return response.kvs[0]?.create_revision === fence.createRevision
  }

  // Producer ids

  /**
   * Reserves `size` producer ids no other caller will ever get: a CAS loop on the producer-ids
   * key (create it if absent, else compare its mod revision), retried on conflict.
   */
  async allocateProducerIdBlock(size: number): Promise<ProducerIdBlock> {
    if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`block size must be a positive integer, got ${size}`)
    const key = this.layout.producerIds
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const response = await this.etcd.get(key).exec()
      const kv = response.kvs[0]
      const first = kv ? parseProducerIdsRecord(key, kv.value.toString('utf8')).nextProducerId : 0
      const next = JSON.stringify({ nextProducerId: first + size })
      const txn = kv ? this.etcd.if(key, 'Mod', '==', kv.mod_revision) : this.etcd.if(key, 'Create', '==', 0)
      const result = await txn.then(this.etcd.put(key).value(next)).commit()
      if (result.succeeded) return { firstProducerId: first, size }
    }
    throw new Error(`producer-id block allocation lost ${MAX_CAS_ATTEMPTS} races in a row`)
  }

  // Controlled shutdown requests

  /** Asks the controller to move `brokerId`'s leaderships away; the key dies with the broker's lease. */
  async requestShutdown(brokerId: number, leaseId: string): Promise<void> {
    const request: ShutdownRequest = { state: 'requested', requestedAt: Date.now() }
    await this.etcd.put(this.layout.shutdown(brokerId)).value(JSON.stringify(request)).lease(leaseId).exec()
  }

  async readShutdown(brokerId: number): Promise<ShutdownRequest | undefined> {
    const key = this.layout.shutdown(brokerId)
    const text = await this.etcd.get(key).string()
    return text === null ? undefined : parseShutdownRequest(key, text)
  }

  /** The controller's answer: done, with what could not be moved; keeps the key's lease. */
  async completeShutdown(brokerId: number, request: Entry<ShutdownRequest>, remaining: string[], fence?: WriteFence): Promise<boolean> {
    const key = this.layout.shutdown(brokerId)
    const done: ShutdownRequest = { state: 'done', requestedAt: request.value.requestedAt, remaining }
    let txn = this.etcd.if(key, 'Create', '==', request.createRevision)
    if (fence) txn = txn.and(fence.key, 'Create', '==', fence.createRevision)
    const result = await txn.then(this.etcd.put(key).value(JSON.stringify(done)).ignoreLease()).commit()
    return result.succeeded
  }

  watchShutdownRequests(
    onChange: (requests: ReadonlyMap<number, Entry<ShutdownRequest>>, kind: ChangeKind, brokerId: number | undefined) => void,
    onError?: (error: unknown) => void,
  ): Promise<PrefixWatch<number, ShutdownRequest>> {
    const layout = this.layout
    return PrefixWatch.open<number, ShutdownRequest>(this.etcd, layout.shutdownPrefix, {
      keyOf: (key) => layout.idFromKey(key, layout.shutdownPrefix),
      parse: parseShutdownRequest,
      onChange,
      onMalformed: onError,
      onError,
    })
  }

  // Preferred replica election requests

  /** Files a request; false if one is still pending (the controller deletes it when done). */
  async requestPreferredElection(partitions: { topic: string; partition: number }[] | null): Promise<boolean> {
    const key = this.layout.preferredElection
    const request: PreferredElectionRequest = { partitions, requestedAt: Date.now() }
    const result = await this.etcd.if(key, 'Create', '==', 0).then(this.etcd.put(key).value(JSON.stringify(request))).commit()
    return result.succeeded
  }

  watchPreferredElection(
    onChange: (requests: ReadonlyMap<string, Entry<PreferredElectionRequest>>, kind: ChangeKind) => void,
    onError?: (error: unknown) => void,
  ): Promise<PrefixWatch<string, PreferredElectionRequest>> {
    const key = this.layout.preferredElection
    return PrefixWatch.open<string, PreferredElectionRequest>(this.etcd, key, {
      keyOf: (k) => (k === key ? k : undefined),
      parse: parsePreferredElectionRequest,
      onChange: (entries, kind) => onChange(entries, kind),
      onMalformed: onError,
      onError,
    })
  }

  /** The controller's answer: deletes the request it handled (not a newer one), under its fence. */
  async completePreferredElection(request: Entry<PreferredElectionRequest>, fence?: WriteFence): Promise<boolean> {
    const key = this.layout.preferredElection
    let txn = this.etcd.if(key, 'Mod', '==', request.modRevision)
    if (fence) txn = txn.and(fence.key, 'Create', '==', fence.createRevision)
    const result = await txn.then(this.etcd.delete().key(key)).commit()
    return result.succeeded
  }

  /** Reads a topic's record or fails the Kafka way. */
  async requireTopic(name: string): Promise<TopicRecord> {
    const topic = await this.getTopic(name)
    if (!topic) throw new UnknownTopicOrPartitionError(`unknown topic ${name}`)
    return topic
  }
}

/** A controller write was refused because the writer no longer holds the controller key. */
export class FencedWriteError extends Error {
  constructor(readonly fence: WriteFence) {
    super(`write fenced: ${fence.key} is no longer held at create revision ${fence.createRevision}`)
    this.name = 'FencedWriteError'
  }
}

function liveBrokers(entries: ReadonlyMap<number, Entry<LiveBroker>>): Map<number, LiveBroker> {
  const brokers = new Map<number, LiveBroker>()
  for (const [id, entry] of entries) brokers.set(id, { ...entry.value, id, brokerEpoch: entry.createRevision })
  return brokers
}
