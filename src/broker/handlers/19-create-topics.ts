/**
 * CreateTopics v0-7.
 *
 * Per topic: numPartitions -1 means config.numPartitions; replicationFactor must be 1 or -1
 * (one broker) else INVALID_REPLICATION_FACTOR; manual assignments are accepted when every
 * partition lists exactly this broker (INVALID_REPLICA_ASSIGNMENT otherwise, INVALID_REQUEST
 * if numPartitions/replicationFactor are set as well); configs must be Kafka topic configs
 * (INVALID_CONFIG otherwise, see core/topic-settings.ts). Errors: TOPIC_ALREADY_EXISTS,
 * INVALID_PARTITIONS, INVALID_TOPIC_EXCEPTION, INVALID_REQUEST for a name given twice.
 * validateOnly checks all of that and creates nothing. v5+ results carry the partition
 * count, replication factor 1 and the configs that were set; v7 the topic id.
 *
 * Cluster mode (no manual assignment, not validateOnly): replicas are assigned over the live
 * brokers and written to etcd; a replication factor above the live brokers is
 * INVALID_REPLICATION_FACTOR, -1 means 1.
 *
 * Authorization: CREATE on the cluster or on the topic, else TOPIC_AUTHORIZATION_FAILED.
 *
 * Left out: timeoutMs (creation is local and awaited), default-config listing in v5+ results
 * (only explicitly set configs are returned).
 */
import { validateTopicName, MAX_PARTITIONS } from '../../core/topic-registry.js'
import { toErrorPayload } from '../../errors.js'
import { ErrorCode } from '../../protocol/error-codes.js'
import type { CreatableTopic, CreatableTopicResult, CreateTopicsRequest, CreateTopicsResponse } from '../../protocol/messages/create-topics.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/create-topics.js'
import { ZERO_UUID, type EncodeInput } from '../../protocol/primitives.js'
import { validateTopicConfigs } from '../../core/topic-settings.js'
import { topicIdToWire } from '../../core/topic-ids.js'
import type { NodeContext } from '../../core/node-context.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 19
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION


class TopicRequestError extends Error {
  constructor(readonly code: number, message: string) { super(message) }
}

export async function handle(request: CreateTopicsRequest, ctx: RequestContext): Promise<HandlerReply<CreateTopicsResponse>> {
  const counts = new Map<string, number>()
  for (const t of request.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1)
  const topics = await Promise.all(request.topics.map((t) => (counts.get(t.name) ?? 0) > 1
    ? Promise.resolve(failure(t.name, ErrorCode.INVALID_REQUEST, `topic "${t.name}" appears more than once in the request`))
    : !ctx.access.createTopic(t.name)
      ? Promise.resolve(failure(t.name, ErrorCode.TOPIC_AUTHORIZATION_FAILED, `not authorized to create topic "${t.name}"`))
      : createOne(ctx.broker, t, request.validateOnly)))
  return { kind: 'message', message: { throttleTimeMs: 0, topics } }
}

function failure(name: string, errorCode: number, errorMessage: string): EncodeInput<CreatableTopicResult> {
  return { name, topicId: ZERO_UUID, errorCode, errorMessage, numPartitions: -1, replicationFactor: -1, configs: null }
}

async function createOne(broker: NodeContext, t: CreatableTopic, validateOnly: boolean): Promise<EncodeInput<CreatableTopicResult>> {
  if (broker.cluster && !validateOnly && t.assignments.length === 0) return createInCluster(broker, t)
  try {
    const partitions = partitionCount(broker, t)
    const configs: Record<string, string> = {}
    for (const c of t.configs) if (c.value !== null) configs[c.name] = c.value
    if (validateOnly) {
      validateTopicName(t.name)
      validateTopicConfigs(configs)
      if (broker.topics.get(t.name) || broker.isCreating(t.name)) throw new TopicRequestError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic "${t.name}" already exists`)
      if (partitions > MAX_PARTITIONS) throw new TopicRequestError(ErrorCode.INVALID_PARTITIONS, `partition count must be 1-${MAX_PARTITIONS}, got ${partitions}`)
      return success(t.name, ZERO_UUID, partitions, configs)
    }
    const info = await broker.createTopic(t.name, partitions, configs)
    return success(info.name, topicIdToWire(info.topicId), info.partitions, info.configs)
  } catch (error) {
    if (error instanceof TopicRequestError) return failure(t.name, error.code, error.message)
    const payload = toErrorPayload(error)
    return failure(t.name, payload.code, payload.message)
  }
}

function partitionCount(broker: NodeContext, t: CreatableTopic): number {
  if (t.replicationFactor !== -1 && t.replicationFactor !== 1) {
    throw new TopicRequestError(ErrorCode.INVALID_REPLICATION_FACTOR, `replication factor must be 1 (a single broker), got ${t.replicationFactor}`)
  }
  if (t.assignments.length > 0) {
    if (t.numPartitions !== -1 || t.replicationFactor !== -1) {
      throw new TopicRequestError(ErrorCode.INVALID_REQUEST, 'numPartitions and replicationFactor must be -1 when assignments are given')
    }
    const seen = new Set<number>()
    for (const a of t.assignments) {
      if (a.partitionIndex < 0 || a.partitionIndex >= t.assignments.length || seen.has(a.partitionIndex)) {
        throw new TopicRequestError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'assignments must cover partitions 0..n-1 once each')
      }
      seen.add(a.partitionIndex)
      if (a.brokerIds.length !== 1 || a.brokerIds[0] !== broker.config.nodeId) {
        throw new TopicRequestError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `every partition must be assigned to broker ${broker.config.nodeId} alone`)
      }
    }
    return t.assignments.length
  }
  const partitions = t.numPartitions === -1 ? broker.config.numPartitions : t.numPartitions
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new TopicRequestError(ErrorCode.INVALID_PARTITIONS, `number of partitions must be at least 1, got ${t.numPartitions}`)
  }
  return partitions
}

/** Cluster mode: replicas assigned over the live brokers, topic and partition states written to etcd. */
async function createInCluster(broker: NodeContext, t: CreatableTopic): Promise<EncodeInput<CreatableTopicResult>> {
  try {
    validateTopicName(t.name)
    const partitions = t.numPartitions === -1 ? broker.config.numPartitions : t.numPartitions
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
      throw new TopicRequestError(ErrorCode.INVALID_PARTITIONS, `partition count must be 1-${MAX_PARTITIONS}, got ${t.numPartitions}`)
    }
    const configs: Record<string, string> = {}
    for (const c of t.configs) if (c.value !== null) configs[c.name] = c.value
    const created = await broker.cluster!.createTopic(t.name, partitions, t.replicationFactor === -1 ? 1 : t.replicationFactor, configs)
    return { ...success(t.name, topicIdToWire(created.topicId), created.partitions, configs), replicationFactor: created.replicationFactor }
  } catch (error) {
    if (error instanceof TopicRequestError) return failure(t.name, error.code, error.message)
    const payload = toErrorPayload(error)
    return failure(t.name, payload.code, payload.message)
  }
}

function success(name: string, topicId: string, numPartitions: number, configs: Record<string, string>): EncodeInput<CreatableTopicResult> {
  return {
    name,
    topicId,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    numPartitions,
    replicationFactor: 1,
    // configSource 1: DYNAMIC_TOPIC_CONFIG (set for this topic).
    configs: Object.entries(configs).map(([key, value]) => ({ name: key, value, readOnly: false, configSource: 1, isSensitive: false })),
  }
}
