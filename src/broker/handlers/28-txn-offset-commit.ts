/**
 * TxnOffsetCommit v0-4 (v4 only allows TRANSACTION_ABORTABLE, KIP-890, never answered here): offsets a transaction commits for a consumer group (exactly-once
 * consume-transform-produce). They are kept in the transaction (written to
 * `__transaction_state`) and reach the group, through the same `__consumer_offsets` path as
 * OffsetCommit, only when the transaction commits; an abort drops them.
 *
 * Errors (one code for every partition of the request unless a partition is unknown):
 * UNKNOWN_TOPIC_OR_PARTITION per unknown partition, INVALID_GROUP_ID for an empty group,
 * NOT_COORDINATOR when this broker does not coordinate the group, INVALID_TXN_STATE when the
 * group was not added to the open transaction (AddOffsetsToTxn), PRODUCER_FENCED (v2+;
 * INVALID_PRODUCER_EPOCH before), INVALID_PRODUCER_ID_MAPPING.
 *
 * Authorization: WRITE on the transactional id (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED), READ
 * on the group (else GROUP_AUTHORIZATION_FAILED), both for every partition; READ on each topic
 * (else TOPIC_AUTHORIZATION_FAILED for its partitions).
 *
 * Left out: v3+'s generation/member checks (KIP-447) are not made; this broker must also
 * coordinate the transactional id (always true on a single node; in a cluster only when both
 * ids hash to partitions this broker leads).
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { TxnOffsetCommitRequest, TxnOffsetCommitResponse } from '../../protocol/messages/txn-offset-commit.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/txn-offset-commit.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 28
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

const FIRST_FENCED_VERSION = 2

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
  else code = await broker.transactions.commitOffsets(request.transactionalId, request.producerId, request.producerEpoch, request.groupId, known, { version: ctx.version, firstFencedVersion: FIRST_FENCED_VERSION })
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
