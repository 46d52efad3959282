/**
 * AddPartitionsToTxn v0-3: the producer names the partitions its open transaction writes to,
 * before its first batch to each (src/transactions/transaction-coordinator.ts). One error code
 * per partition: UNKNOWN_TOPIC_OR_PARTITION for a partition that does not exist and
 * OPERATION_NOT_ATTEMPTED for the others of that request (nothing is added), as Kafka answers;
 * otherwise the coordinator's answer for all of them (NONE, CONCURRENT_TRANSACTIONS while the
 * previous transaction completes, PRODUCER_FENCED (v2+; INVALID_PRODUCER_EPOCH before),
 * INVALID_PRODUCER_ID_MAPPING, NOT_COORDINATOR).
 *
 * Authorization: WRITE on the transactional id (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED for
 * every partition) and on each topic (else TOPIC_AUTHORIZATION_FAILED for its partitions and
 * OPERATION_NOT_ATTEMPTED for the others), as Kafka.
 *
 * Left out: v4+ (batched requests from brokers, KIP-890), throttling (0).
 */
import type { AddPartitionsToTxnRequest, AddPartitionsToTxnResponse } from '../../protocol/messages/add-partitions-to-txn.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/add-partitions-to-txn.js'
import { ErrorCode } from '../../protocol/error-codes.js'
import { txnPartitionKey } from '../../transactions/transaction-coordinator.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 24
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

const FIRST_FENCED_VERSION = 2

export async function handle(request: AddPartitionsToTxnRequest, ctx: RequestContext): Promise<HandlerReply<AddPartitionsToTxnResponse>> {
  const partitions = request.v3AndBelowTopics.flatMap((t) => t.partitions.map((partition) => ({ topic: t.name, partition })))
  const errors = authorizationErrors(request, ctx) ?? await ctx.broker.transactions.addPartitions(
    request.v3AndBelowTransactionalId, request.v3AndBelowProducerId, request.v3AndBelowProducerEpoch, partitions,
    { version: ctx.version, firstFencedVersion: FIRST_FENCED_VERSION },
  )
  return {
    kind: 'message',
    message: {
      throttleTimeMs: 0,
      resultsByTopicV3AndBelow: request.v3AndBelowTopics.map((t) => ({
        name: t.name,
        resultsByPartition: t.partitions.map((partition) => ({
          partitionIndex: partition,
          partitionErrorCode: errors.get(txnPartitionKey({ topic: t.name, partition })) ?? ErrorCode.UNKNOWN_SERVER_ERROR,
        })),
      })),
    },
  }
}

/** The answer when the principal may not write the transactional id or one of the topics; undefined when it may. */
function authorizationErrors(request: AddPartitionsToTxnRequest, ctx: RequestContext): Map<string, number> | undefined {
  const all = (code: (topic: string) => number): Map<string, number> =>
    new Map(request.v3AndBelowTopics.flatMap((t) => t.partitions.map((partition) => [txnPartitionKey({ topic: t.name, partition }), code(t.name)] as const)))
  if (!ctx.access.transactionalId(request.v3AndBelowTransactionalId)) return all(() => ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
  const denied = new Set(request.v3AndBelowTopics.filter((t) => !ctx.access.topic(t.name)).map((t) => t.name))
  if (denied.size === 0) return undefined
  return all((topic) => (denied.has(topic) ? ErrorCode.TOPIC_AUTHORIZATION_FAILED : ErrorCode.OPERATION_NOT_ATTEMPTED))
}
