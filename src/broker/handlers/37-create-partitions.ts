/**
 * CreatePartitions v0-3.
 *
 * Raises a topic's partition count: the new partitions open (empty logs) before the new count
 * is recorded, so Metadata never lists a partition that cannot take writes. Errors per topic:
 * UNKNOWN_TOPIC_OR_PARTITION; INVALID_PARTITIONS when the count does not grow (Kafka's
 * messages) or passes the registry's maximum; INVALID_REPLICA_ASSIGNMENT when assignments are
 * given with a length other than the number of new partitions or name a broker other than this
 * one; INVALID_REQUEST for a topic named twice. validateOnly checks and creates nothing.
 *
 * Authorization: ALTER on the topic, else TOPIC_AUTHORIZATION_FAILED.
 *
 * Left out: timeoutMs (creation is local and awaited).
 */
import { MAX_PARTITIONS } from '../../core/topic-registry.js'
import { toErrorPayload } from '../../errors.js'
import { ErrorCode } from '../../protocol/error-codes.js'
import type { CreatePartitionsRequest, CreatePartitionsResponse, CreatePartitionsTopic, CreatePartitionsTopicResult } from '../../protocol/messages/create-partitions.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/create-partitions.js'
import type { EncodeInput } from '../../protocol/primitives.js'
import type { NodeContext } from '../../core/node-context.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 37
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION


class PartitionsRequestError extends Error {
  constructor(readonly code: number, message: string) { super(message) }
}

export async function handle(request: CreatePartitionsRequest, ctx: RequestContext): Promise<HandlerReply<CreatePartitionsResponse>> {
  const counts = new Map<string, number>()
  for (const t of request.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1)
  const results = await Promise.all(request.topics.map((t) => (counts.get(t.name) ?? 0) > 1
    ? { name: t.name, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `topic "${t.name}" appears more than once in the request` }
    : !ctx.access.topic(t.name)
      ? { name: t.name, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: null }
      : createOne(ctx.broker, t, request.validateOnly)))
  return { kind: 'message', message: { throttleTimeMs: 0, results } }
}

async function createOne(broker: NodeContext, t: CreatePartitionsTopic, validateOnly: boolean): Promise<EncodeInput<CreatePartitionsTopicResult>> {
  try {
    if (broker.cluster) {
      if (t.count > MAX_PARTITIONS) throw new PartitionsRequestError(ErrorCode.INVALID_PARTITIONS, `partition count must be at most ${MAX_PARTITIONS}, got ${t.count}`)
      await broker.cluster.createPartitions(t.name, t.count, t.assignments === null ? null : t.assignments.map((a) => [...a.brokerIds]), validateOnly)
      return { name: t.name, errorCode: ErrorCode.NONE, errorMessage: null }
    }
    const topic = broker.topics.get(t.name)
    if (!topic) throw new PartitionsRequestError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `unknown topic "${t.name}"`)
    if (t.count < topic.partitions) throw new PartitionsRequestError(ErrorCode.INVALID_PARTITIONS, `Topic currently has ${topic.partitions} partitions, which is higher than the requested ${t.count}.`)
    if (t.count === topic.partitions) throw new PartitionsRequestError(ErrorCode.INVALID_PARTITIONS, `Topic already has ${topic.partitions} partitions.`)
    if (t.count > MAX_PARTITIONS) throw new PartitionsRequestError(ErrorCode.INVALID_PARTITIONS, `partition count must be at most ${MAX_PARTITIONS}, got ${t.count}`)
    if (t.assignments !== null) {
      const added = t.count - topic.partitions
      if (t.assignments.length !== added) {
        throw new PartitionsRequestError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Increasing the number of partitions by ${added} but ${t.assignments.length} assignments provided.`)
      }
      const self = broker.config.nodeId
      if (t.assignments.some((a) => a.brokerIds.length !== 1 || a.brokerIds[0] !== self)) {
        throw new PartitionsRequestError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `every new partition must be assigned to exactly this broker (${self})`)
      }
    }
    if (!validateOnly) await broker.addPartitions(t.name, t.count)
    return { name: t.name, errorCode: ErrorCode.NONE, errorMessage: null }
  } catch (error) {
    if (error instanceof PartitionsRequestError) return { name: t.name, errorCode: error.code, errorMessage: error.message }
    const payload = toErrorPayload(error)
    return { name: t.name, errorCode: payload.code, errorMessage: payload.message }
  }
}
