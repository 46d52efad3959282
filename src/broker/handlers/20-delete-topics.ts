/**
 * DeleteTopics v0-6.
 *
 * By name (v0-5 topicNames; v6 topics with a name) or by topic id (v6 topics with a null
 * name). The topic leaves the registry at once and its partitions' files are deleted
 * (engine.dropPartition). Unknown name: UNKNOWN_TOPIC_OR_PARTITION; unknown id:
 * UNKNOWN_TOPIC_ID. errorMessage from v5, topic id in results from v6.
 *
 * Authorization: DELETE on each topic, else TOPIC_AUTHORIZATION_FAILED.
 *
 * Left out: timeoutMs (deletion is local and awaited), delete.topic.enable (always allowed).
 */
import { toErrorPayload } from '../../errors.js'
import { ErrorCode } from '../../protocol/error-codes.js'
import type { DeletableTopicResult, DeleteTopicsRequest, DeleteTopicsResponse } from '../../protocol/messages/delete-topics.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/delete-topics.js'
import { ZERO_UUID, type EncodeInput } from '../../protocol/primitives.js'
import { topicIdFromWire, topicIdToWire } from '../../core/topic-ids.js'
import type { NodeContext } from '../../core/node-context.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 20
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

export async function handle(request: DeleteTopicsRequest, ctx: RequestContext): Promise<HandlerReply<DeleteTopicsResponse>> {
  const wanted = ctx.version >= 6
    ? request.topics.map((t) => ({ name: t.name, topicId: t.topicId }))
    : request.topicNames.map((name) => ({ name, topicId: ZERO_UUID }))
  // As Kafka: a topic named (or identified) twice is refused each time, not deleted twice.
  const counts = new Map<string, number>()
  const keyOf = (w: { name: string | null; topicId: string }): string => (w.name !== null ? `n:${w.name}` : `i:${w.topicId}`)
  for (const w of wanted) counts.set(keyOf(w), (counts.get(keyOf(w)) ?? 0) + 1)
  const responses = await Promise.all(wanted.map((w) => (counts.get(keyOf(w)) ?? 0) > 1
    ? Promise.resolve({ name: w.name, topicId: w.topicId, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: w.name !== null ? 'Duplicate topic name.' : 'Duplicate topic id.' })
    : deleteOne(ctx, w.name, w.topicId)))
  return { kind: 'message', message: { throttleTimeMs: 0, responses } }
}

async function deleteOne(ctx: RequestContext, name: string | null, topicId: string): Promise<EncodeInput<DeletableTopicResult>> {
  const broker: NodeContext = ctx.broker
  let target = name
  if (target === null) {
    const info = broker.topics.byId(topicIdFromWire(topicId))
    if (!info) return { name: null, topicId, errorCode: ErrorCode.UNKNOWN_TOPIC_ID, errorMessage: `no topic with id ${topicId}` }
    target = info.name
  }
  // Checked before the lookup by name: the answer is the same whether the topic exists or not.
  if (!ctx.access.topic(target)) return { name, topicId, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: 'not authorized to delete this topic' }
  try {
    if (broker.cluster) {
      // Cluster mode: the topic leaves etcd; every broker drops its replicas from the watch.
      const id = broker.cluster.topic(target)?.topicId
      await broker.cluster.deleteTopic(target)
      return { name: target, topicId: id ? topicIdToWire(id) : topicId, errorCode: ErrorCode.NONE, errorMessage: null }
    }
    const info = await broker.deleteTopic(target)
    return { name: info.name, topicId: topicIdToWire(info.topicId), errorCode: ErrorCode.NONE, errorMessage: null }
  } catch (error) {
    const payload = toErrorPayload(error)
    return { name: target, topicId, errorCode: payload.code, errorMessage: payload.message }
  }
}
