/**
 * DeleteRecords v0-2.
 *
 * Moves each partition's log start offset up to the given offset (-1: the high watermark);
 * closed segments wholly below it are deleted, and the records below it are no longer read,
 * listed (ListOffsets earliest) or counted. lowWatermark in the answer is the new log start
 * offset. Errors per partition: UNKNOWN_TOPIC_OR_PARTITION, OFFSET_OUT_OF_RANGE for an offset
 * past the high watermark (or below -1). An offset at or below the current start changes
 * nothing and answers the current start.
 *
 * Authorization: DELETE on each topic, else TOPIC_AUTHORIZATION_FAILED.
 *
 * Left out: timeoutMs (one replica: the move is local and awaited).
 */
import { toErrorPayload } from '../../errors.js'
import { ErrorCode } from '../../protocol/error-codes.js'
import type { DeleteRecordsPartitionResult, DeleteRecordsRequest, DeleteRecordsResponse } from '../../protocol/messages/delete-records.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/delete-records.js'
import type { EncodeInput } from '../../protocol/primitives.js'
import type { NodeContext } from '../../core/node-context.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 21
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

const TO_HIGH_WATERMARK = -1

export async function handle(request: DeleteRecordsRequest, ctx: RequestContext): Promise<HandlerReply<DeleteRecordsResponse>> {
  const topics = await Promise.all(request.topics.map(async (t) => ({
    name: t.name,
    partitions: await Promise.all(t.partitions.map((p) => ctx.access.topic(t.name)
      ? deleteOne(ctx.broker, t.name, p.partitionIndex, p.offset)
      : { partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED })),
  })))
  return { kind: 'message', message: { throttleTimeMs: 0, topics } }
}

async function deleteOne(broker: NodeContext, topic: string, partition: number, offset: number): Promise<EncodeInput<DeleteRecordsPartitionResult>> {
  const info = broker.topics.get(topic)
  const offsets = info && partition >= 0 && partition < info.partitions ? broker.engine.offsets(topic, partition) : undefined
  if (!offsets) return { partitionIndex: partition, lowWatermark: -1, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }
  if (offset < TO_HIGH_WATERMARK) return { partitionIndex: partition, lowWatermark: -1, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE }
  try {
    const target = offset === TO_HIGH_WATERMARK ? offsets.highWatermark : offset
    const lowWatermark = await broker.engine.deleteRecordsBefore(topic, partition, target)
    return { partitionIndex: partition, lowWatermark, errorCode: ErrorCode.NONE }
  } catch (error) {
    return { partitionIndex: partition, lowWatermark: -1, errorCode: toErrorPayload(error).code }
  }
}
