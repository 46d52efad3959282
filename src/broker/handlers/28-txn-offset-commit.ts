/**
 * TxnOffsetCommit v0-4 (v4 only allows TRANSACTION_ABORTABLE, KIP-890, never answered here): offsets a transaction commits for a consumer group (exactly-once
 * consume-transform-produce). Answered by the group's coordinator, as in Kafka: the offsets are
 * appended to the group's `__consumer_offsets` partition as the producer's transactional batch
 * and held pending (OffsetFetch does not return them) until the transaction coordinator's marker
 * reaches that partition (AddOffsetsToTxn put it in the transaction): COMMIT makes them the
 * group's offsets, ABORT drops them (src/groups/consumer-offsets-log.ts).
 *
 * Errors (one code for every partition of the request unless a partition is unknown):
 * UNKNOWN_TOPIC_OR_PARTITION per unknown partition, INVALID_GROUP_ID for an empty group,
 * NOT_COORDINATOR when this broker does not coordinate the group, PRODUCER_FENCED (v2+;
 * INVALID_PRODUCER_EPOCH before) when a newer epoch of the producer wrote to that partition.
 *
 * Authorization: WRITE on the transactional id (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED), READ
 * on the group (else GROUP_AUTHORIZATION_FAILED), both for every partition; READ on each topic
 * (else TOPIC_AUTHORIZATION_FAILED for its partitions).
 *
 * Left out: v3+'s generation/member checks (KIP-447) are not made.
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { TxnOffsetCommitRequest, TxnOffsetCommitResponse } from '../../protocol/messages/txn-offset-commit.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/txn-offset-commit.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 28
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

const FIRST_FENCED_VERSION = 2

/** The partition refuses an older epoch with INVALID_PRODUCER_EPOCH; v2+ clients know it as PRODUCER_FENCED (Kafka's mapping). */
function fencedForVersion(code: number, version: number): number {
  return code === ErrorCode.INVALID_PRODUCER_EPOCH && version >= FIRST_FENCED_VERSION ? ErrorCode.PRODUCER_FENCED : code
}

export async function handle(request: TxnOffsetCommitRequest, ctx: RequestContext): Promise<HandlerReply<TxnOffsetCommitResponse>> {
  const { broker } = ctx
  const exists = (topic: string, partition: number): boolean => {
    if (!ctx.access.topic(topic)) return false
    const count = broker.cluster ? broker.cluster.topic(topic)?.partitions.length : broker.topics.get(topic)?.partitions
    return partition >= 0 && partition < (count ?? 0)
  }
  const known = request.topics.flatMap((t) => t.partitions.filter((p) => exists(t.name, p.partitionIndex)).map((p) => ({
    topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch, metadata: p.committedMetadata ?? '',
  })))
  let code: number
  if (!ctx.access.transactionalId(request.transactionalId)) code = ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
  else if (!ctx.access.group(request.groupId)) code = ErrorCode.GROUP_AUTHORIZATION_FAILED
  else if (request.groupId === '') code = ErrorCode.INVALID_GROUP_ID
  else if (broker.groups.coordinatorError(request.groupId) !== ErrorCode.NONE) code = broker.groups.coordinatorError(request.groupId)
  else if (known.length === 0) code = ErrorCode.NONE
  else code = fencedForVersion(await broker.groups.commitPendingTransactionalOffsets(request.groupId, request.producerId, request.producerEpoch, known), ctx.version)
  return {
    kind: 'message',
    message: {
      throttleTimeMs: 0,
      topics: request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: !ctx.access.topic(t.name) ? ErrorCode.TOPIC_AUTHORIZATION_FAILED : exists(t.name, p.partitionIndex) ? code : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        })),
      })),
    },
  }
}
