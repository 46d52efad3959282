/**
 * Metadata v0-12.
 *
 * One broker: this one (nodeId from config; host and port as the client reached it, see
 * ConnectionInfo), which is the controller and the leader of every partition (leaderEpoch 0,
 * replicas and isr [nodeId], no offline replicas). All topics for v0 with an empty list and
 * for v1+ with a null list. Topics requested by id (v10+) are looked up by id
 * (UNKNOWN_TOPIC_ID if absent). A requested topic that does not exist is created when
 * config.autoCreateTopics is on and the request allows it (always for v0-3,
 * allowAutoTopicCreation for v4+), with config.numPartitions partitions; like Kafka, this
 * answer says LEADER_NOT_AVAILABLE for it and the client asks again. A topic still being
 * created answers LEADER_NOT_AVAILABLE, an illegal name INVALID_TOPIC_EXCEPTION, otherwise
 * UNKNOWN_TOPIC_OR_PARTITION.
 *
 * Bounded work: the requested names (and ids) are folded to a set first, as Kafka does, so a
 * request naming one topic a million times costs one answer; a request naming more than
 * MAX_DISTINCT_TOPICS different topics (more than any client asks for, and each would take
 * a registry lookup and an answer entry) closes the connection instead.
 *
 * Cluster mode: every live broker, the elected controller and each partition's leader,
 * replicas, ISR and leader epoch from the node's etcd-fed cache (see clusterMetadata). Each
 * broker is named at its endpoint on the listener the request came in on; a broker without
 * that listener is left out, and a partition it leads is answered LISTENER_NOT_FOUND (v6+,
 * LEADER_NOT_AVAILABLE before) with no leader, as Kafka's MetadataCache does.
 *
 * Authorization: a topic the principal may not DESCRIBE is left out of an all-topics answer and
 * answered TOPIC_AUTHORIZATION_FAILED when named (existing or not); auto-creation needs CREATE
 * on the cluster or the topic (else TOPIC_AUTHORIZATION_FAILED).
 *
 * Authorized operations (v8+): includeTopicAuthorizedOperations sets each described topic's bit
 * set of the topic operations the principal may perform (not on TOPIC_AUTHORIZATION_FAILED
 * entries, as Kafka); includeClusterAuthorizedOperations (v8-10) the cluster's, 0 without
 * DESCRIBE on the cluster. Not asked: INT32_MIN.
 *
 * Left out: racks, internal topics (none exist).
 */
import { validateTopicName, type TopicInfo } from '../../core/topic-registry.js'
import { ErrorCode } from '../../protocol/error-codes.js'
import type { MetadataRequest, MetadataRequestTopic, MetadataResponse, MetadataResponseTopic } from '../../protocol/messages/metadata.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/metadata.js'
import { ZERO_UUID, type EncodeInput } from '../../protocol/primitives.js'
import { topicIdFromWire, topicIdToWire } from '../../core/topic-ids.js'
import { ResourceType } from '../../security/acl.js'
import type { HandlerReply, RequestContext } from '../handler.js'
import type { ClusterTopicView, ClusterView } from '../../core/cluster-view.js'
import { brokersOn } from '../../core/broker-endpoints.js'

export const apiKey = 3
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

/** Distinct topics one Metadata request may name (Kafka's own topic-count guidance is far below). */
export const MAX_DISTINCT_TOPICS = 100_000

export function handle(request: MetadataRequest, ctx: RequestContext): HandlerReply<MetadataResponse> {
  const { broker, version } = ctx
  const { config } = broker
  if (broker.cluster) return clusterMetadata(request, ctx, broker.cluster)
  const all = request.topics === null || (version === 0 && request.topics.length === 0)
  const topics: EncodeInput<MetadataResponseTopic>[] = []
  if (all) {
    // Topics the principal may not DESCRIBE are left out, as Kafka does.
    for (const info of broker.topics.list()) if (ctx.access.topic(info.name)) topics.push(describe(info, config.nodeId))
  } else {
    const mayCreate = config.autoCreateTopics && (version < 4 || request.allowAutoTopicCreation)
    const wantedTopics = distinctTopics(request.topics ?? [])
    if (wantedTopics === undefined) return { kind: 'close', reason: `Metadata request names more than ${MAX_DISTINCT_TOPICS} distinct topics` }
    for (const wanted of wantedTopics) {
      if (wanted.name === null) {
        const info = broker.topics.byId(topicIdFromWire(wanted.topicId))
        if (info && !ctx.access.topic(info.name)) topics.push({ errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, name: null, topicId: wanted.topicId, partitions: [] })
        else topics.push(info ? describe(info, config.nodeId) : { errorCode: ErrorCode.UNKNOWN_TOPIC_ID, name: null, topicId: wanted.topicId, partitions: [] })
        continue
      }
      const name = wanted.name
      // Refused before the lookup: the answer is the same whether the topic exists or not.
      if (!ctx.access.topic(name)) {
        topics.push({ errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, name, topicId: ZERO_UUID, partitions: [] })
        continue
      }
      const info = broker.topics.get(name)
      if (info) {
        topics.push(describe(info, config.nodeId))
        continue
      }
      topics.push({ errorCode: missingTopic(name, mayCreate, ctx), name, topicId: ZERO_UUID, partitions: [] })
    }
  }
  return {
    kind: 'message',
    message: {
      throttleTimeMs: 0,
      brokers: [{ nodeId: config.nodeId, host: ctx.connection.advertisedHost, port: ctx.connection.advertisedPort, rack: null }],
      clusterId: config.clusterId,
      controllerId: config.nodeId,
      topics: withTopicOperations(request, ctx, topics),
      ...clusterOperations(request, ctx),
    },
  }
}

/**
 * Cluster mode: every live broker, the controller, and each partition's leader, replicas, ISR
 * and leader epoch from this broker's metadata cache. Auto-creation goes through the cluster
 * (replication factor 1, as Kafka's default.replication.factor).
 */
function clusterMetadata(request: MetadataRequest, ctx: RequestContext, cluster: ClusterView): HandlerReply<MetadataResponse> {
  const { broker, version } = ctx
  const all = request.topics === null || (version === 0 && request.topics.length === 0)
  const topics: EncodeInput<MetadataResponseTopic>[] = []
  const wantedTopics = all ? cluster.topics().map((t) => ({ name: t.name, topicId: ZERO_UUID })) : distinctTopics(request.topics ?? [])
  if (wantedTopics === undefined) return { kind: 'close', reason: `Metadata request names more than ${MAX_DISTINCT_TOPICS} distinct topics` }
  const mayCreate = broker.config.autoCreateTopics && (version < 4 || request.allowAutoTopicCreation)
  const live = cluster.brokers()
  const reachable = brokersOn(live, ctx.connection.listener)
  const reachableIds = new Set(reachable.map((b) => b.id))
  const noListener: LeaderOnOtherListeners = {
    brokers: new Set(live.filter((b) => !reachableIds.has(b.id)).map((b) => b.id)),
    errorCode: version >= FIRST_LISTENER_NOT_FOUND_VERSION ? ErrorCode.LISTENER_NOT_FOUND : ErrorCode.LEADER_NOT_AVAILABLE,
  }
  for (const wanted of wantedTopics) {
    const view = wanted.name !== null ? cluster.topic(wanted.name) : cluster.topics().find((t) => topicIdToWire(t.topicId) === wanted.topicId)
    if (view) {
      topics.push(describeCluster(view, noListener))
      continue
    }
    if (wanted.name === null) {
      topics.push({ errorCode: ErrorCode.UNKNOWN_TOPIC_ID, name: null, topicId: wanted.topicId, partitions: [] })
      continue
    }
    const name = wanted.name
    let errorCode: number = mayCreate ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    try {
      validateTopicName(name)
    } catch {
      errorCode = ErrorCode.INVALID_TOPIC_EXCEPTION
    }
    if (errorCode === ErrorCode.LEADER_NOT_AVAILABLE) {
      cluster.createTopic(name, broker.config.numPartitions, 1, {}).then(
        () => ctx.log.info(`auto-created topic "${name}" in the cluster`),
        (error: Error) => ctx.log.warn(`auto-creating topic "${name}" failed: ${error.message}`),
      )
    }
    topics.push({ errorCode, name, topicId: ZERO_UUID, partitions: [] })
  }
  return {
    kind: 'message',
    message: {
      throttleTimeMs: 0,
      brokers: reachable.map((b) => ({ nodeId: b.id, host: b.host, port: b.port, rack: null })),
      clusterId: broker.config.clusterId,
      controllerId: cluster.controllerId(),
      topics: withTopicOperations(request, ctx, topics),
      ...clusterOperations(request, ctx),
    },
  }
}

/** Each topic answered without an authorization failure gets its bit set when the request asks (v8+). */
function withTopicOperations(request: MetadataRequest, ctx: RequestContext, topics: EncodeInput<MetadataResponseTopic>[]): EncodeInput<MetadataResponseTopic>[] {
  if (!request.includeTopicAuthorizedOperations) return topics
  return topics.map((t) => (typeof t.name !== 'string' || t.errorCode === ErrorCode.TOPIC_AUTHORIZATION_FAILED
    ? t
    : { ...t, topicAuthorizedOperations: ctx.access.operationsOn(ResourceType.TOPIC, t.name) }))
}

/** The cluster's bit set when the request asks (only v8-10 carry the field). */
function clusterOperations(request: MetadataRequest, ctx: RequestContext): { clusterAuthorizedOperations?: number } {
  return request.includeClusterAuthorizedOperations ? { clusterAuthorizedOperations: ctx.access.clusterOperations() } : {}
}

/** Kafka answers LISTENER_NOT_FOUND from Metadata v6 on (errorUnavailableListeners), LEADER_NOT_AVAILABLE before. */
const FIRST_LISTENER_NOT_FOUND_VERSION = 6

/** Live brokers that have no endpoint on the request's listener, and what a partition they lead is answered. */
interface LeaderOnOtherListeners {
  brokers: ReadonlySet<number>
  errorCode: number
}

function describeCluster(view: ClusterTopicView, noListener: LeaderOnOtherListeners): EncodeInput<MetadataResponseTopic> {
  return {
    errorCode: ErrorCode.NONE,
    name: view.name,
    topicId: topicIdToWire(view.topicId),
    isInternal: false,
    partitions: view.partitions.map((p) => ({
      errorCode: p.leader < 0 ? ErrorCode.LEADER_NOT_AVAILABLE : noListener.brokers.has(p.leader) ? noListener.errorCode : ErrorCode.NONE,
      partitionIndex: p.partition,
      leaderId: noListener.brokers.has(p.leader) ? -1 : p.leader,
      leaderEpoch: p.leaderEpoch,
      replicaNodes: p.replicas,
      isrNodes: p.isr,
      offlineReplicas: [],
    })),
  }
}

/** The requested topics with repeats removed (by name, or by id for unnamed entries); undefined past the cap. */
function distinctTopics(requested: readonly MetadataRequestTopic[]): MetadataRequestTopic[] | undefined {
  const seen = new Set<string>()
  const out: MetadataRequestTopic[] = []
  for (const wanted of requested) {
    const key = wanted.name !== null ? `n:${wanted.name}` : `i:${wanted.topicId}`
    if (seen.has(key)) continue
    if (seen.size >= MAX_DISTINCT_TOPICS) return undefined
    seen.add(key)
    out.push(wanted)
  }
  return out
}

function missingTopic(name: string, mayCreate: boolean, ctx: RequestContext): number {
  const { broker } = ctx
  if (broker.isCreating(name)) return ErrorCode.LEADER_NOT_AVAILABLE
  try {
    validateTopicName(name)
  } catch {
    return ErrorCode.INVALID_TOPIC_EXCEPTION
  }
  if (!mayCreate) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
  if (!ctx.access.createTopic(name)) return ErrorCode.TOPIC_AUTHORIZATION_FAILED
  broker.createTopic(name, broker.config.numPartitions).then(
    () => ctx.log.info(`auto-created topic "${name}" with ${broker.config.numPartitions} partition(s)`),
    (error: Error) => ctx.log.warn(`auto-creating topic "${name}" failed: ${error.message}`),
  )
  return ErrorCode.LEADER_NOT_AVAILABLE
}

const CONSUMER_OFFSETS_TOPIC = '__consumer_offsets'

function describe(info: TopicInfo, nodeId: number): EncodeInput<MetadataResponseTopic> {
  return {
    errorCode: ErrorCode.NONE,
    name: info.name,
    topicId: topicIdToWire(info.topicId),
    // Kafka's one internal topic; ringlog lists it as such only once something created it.
    isInternal: info.name === CONSUMER_OFFSETS_TOPIC,
    partitions: Array.from({ length: info.partitions }, (_, partitionIndex) => ({
      errorCode: ErrorCode.NONE,
      partitionIndex,
      leaderId: nodeId,
      leaderEpoch: 0,
      replicaNodes: [nodeId],
      isrNodes: [nodeId],
      offlineReplicas: [],
    })),
  }
}
