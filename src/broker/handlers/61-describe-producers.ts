/**
 * DescribeProducers v0 (KIP-664): per partition, the idempotent producers its log tracks:
 * producer id, current epoch, sequence of the last record written and the max timestamp of
 * its last batch (-1 when none is remembered). Per partition: UNKNOWN_TOPIC_OR_PARTITION for a
 * partition that does not exist; in cluster mode NOT_LEADER_OR_FOLLOWER unless this broker
 * leads it.
 *
 * Left out: transactions (none in ringlog): coordinatorEpoch and currentTxnStartOffset are -1.
 */
import { toErrorPayload } from '../../errors.js'
import { ErrorCode } from '../../protocol/error-codes.js'
import type { DescribeProducersRequest, DescribeProducersResponse, PartitionResponse } from '../../protocol/messages/describe-producers.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/describe-producers.js'
import type { EncodeInput } from '../../protocol/primitives.js'
import type { NodeContext } from '../../core/node-context.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 61
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

const NO_LEADER_EPOCH = -1

export async function handle(request: DescribeProducersRequest, ctx: RequestContext): Promise<HandlerReply<DescribeProducersResponse>> {
  const topics = await Promise.all(request.topics.map(async (t) => ({
    name: t.name,
    partitions: await Promise.all(t.partitionIndexes.map((p) => describe(ctx.broker, t.name, p))),
  })))
  return { kind: 'message', message: { throttleTimeMs: 0, topics } }
}

async function describe(broker: NodeContext, topic: string, partition: number): Promise<EncodeInput<PartitionResponse>> {
  const failed = (errorCode: number, errorMessage: string | null = null): EncodeInput<PartitionResponse> =>
    ({ partitionIndex: partition, errorCode, errorMessage, activeProducers: [] })
  if (broker.cluster) {
    const code = broker.cluster.checkLeader(topic, partition, NO_LEADER_EPOCH)
    if (code !== ErrorCode.NONE) return failed(code)
  }
  const info = broker.topics.get(topic)
  if (!info || partition < 0 || partition >= info.partitions || !broker.engine.offsets(topic, partition)) return failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  try {
    const producers = await broker.engine.activeProducers(topic, partition)
    return {
      partitionIndex: partition, errorCode: ErrorCode.NONE, errorMessage: null,
      activeProducers: producers.map((p) => ({ ...p, coordinatorEpoch: -1, currentTxnStartOffset: -1 })),
    }
  } catch (error) {
    const payload = toErrorPayload(error)
    return failed(payload.code, payload.message)
  }
}
