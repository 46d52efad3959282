/**
 * AddPartitionsToTxn v0-5.
 *
 * v0-3 (clients): the producer names the partitions its open transaction writes to, before its
 * first batch to each (src/transactions/transaction-coordinator.ts). One error code per
 * partition: UNKNOWN_TOPIC_OR_PARTITION for a partition that does not exist and
 * OPERATION_NOT_ATTEMPTED for the others of that request (nothing is added), as Kafka answers;
 * otherwise the coordinator's answer for all of them (NONE, CONCURRENT_TRANSACTIONS while the
 * previous transaction completes, PRODUCER_FENCED (v2+; INVALID_PRODUCER_EPOCH before),
 * INVALID_PRODUCER_ID_MAPPING, NOT_COORDINATOR, INVALID_REQUEST for an empty id).
 *
 * v4-5 (brokers, KIP-890): a batch of transactions, answered per transactional id. A transaction
 * with VerifyOnly is only checked: NONE for each partition already in its open transaction,
 * TRANSACTION_ABORTABLE (v5) or INVALID_TXN_STATE (v4) for the others, nothing added; without
 * VerifyOnly its partitions are added as in v0-3.
 *
 * Authorization: v0-3 need WRITE on the transactional id (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED
 * for every partition) and on each topic (else TOPIC_AUTHORIZATION_FAILED for its partitions and
 * OPERATION_NOT_ATTEMPTED for the others); v4+ need CLUSTER_ACTION on the cluster instead (else
 * the top-level CLUSTER_AUTHORIZATION_FAILED and no results), as Kafka.
 *
 * Left out: throttling (0).
 */
import type { AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, AddPartitionsToTxnTopic, AddPartitionsToTxnTopicResult, AddPartitionsToTxnTransaction } from '../../protocol/messages/add-partitions-to-txn.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/add-partitions-to-txn.js'
import { ErrorCode } from '../../protocol/error-codes.js'
import { txnPartitionKey } from '../../transactions/transaction-coordinator.js'
import type { EncodeInput } from '../../protocol/primitives.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 24
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

const FIRST_FENCED_VERSION = 2
/** From this version on the request is a broker's batch of transactions (KIP-890). */
const FIRST_BATCHED_VERSION = 4
/** The first version whose requester knows TRANSACTION_ABORTABLE. */
const FIRST_ABORTABLE_VERSION = 5

export async function handle(request: AddPartitionsToTxnRequest, ctx: RequestContext): Promise<HandlerReply<AddPartitionsToTxnResponse>> {
  if (ctx.version >= FIRST_BATCHED_VERSION) return { kind: 'message', message: await handleBatch(request.transactions, ctx) }
  const topics = request.v3AndBelowTopics
  const errors = clientAuthorizationErrors(request.v3AndBelowTransactionalId, topics, ctx) ?? await ctx.broker.transactions.addPartitions(
    request.v3AndBelowTransactionalId, request.v3AndBelowProducerId, request.v3AndBelowProducerEpoch, partitionsOf(topics),
    { version: ctx.version, firstFencedVersion: FIRST_FENCED_VERSION },
  )
  return { kind: 'message', message: { throttleTimeMs: 0, resultsByTopicV3AndBelow: topicResults(topics, errors) } }
}

async function handleBatch(transactions: readonly AddPartitionsToTxnTransaction[], ctx: RequestContext): Promise<EncodeInput<AddPartitionsToTxnResponse>> {
  // Only brokers send v4+: they act for the cluster, so per-id and per-topic ACLs are not asked.
  if (!ctx.access.cluster()) return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, resultsByTransaction: [] }
  const { transactions: coordinator } = ctx.broker
  const notInTransaction = ctx.version >= FIRST_ABORTABLE_VERSION ? ErrorCode.TRANSACTION_ABORTABLE : ErrorCode.INVALID_TXN_STATE
  const resultsByTransaction = await Promise.all(transactions.map(async (t) => {
    const partitions = partitionsOf(t.topics)
    const errors = t.verifyOnly
      ? await coordinator.verifyPartitions(t.transactionalId, t.producerId, t.producerEpoch, partitions, notInTransaction)
      : await coordinator.addPartitions(t.transactionalId, t.producerId, t.producerEpoch, partitions, { version: ctx.version, firstFencedVersion: FIRST_FENCED_VERSION })
    return { transactionalId: t.transactionalId, topicResults: topicResults(t.topics, errors) }
  }))
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, resultsByTransaction }
}

function partitionsOf(topics: readonly AddPartitionsToTxnTopic[]): { topic: string; partition: number }[] {
  return topics.flatMap((t) => t.partitions.map((partition) => ({ topic: t.name, partition })))
}

function topicResults(topics: readonly AddPartitionsToTxnTopic[], errors: ReadonlyMap<string, number>): AddPartitionsToTxnTopicResult[] {
  return topics.map((t) => ({
    name: t.name,
    resultsByPartition: t.partitions.map((partition) => ({
      partitionIndex: partition,
      partitionErrorCode: errors.get(txnPartitionKey({ topic: t.name, partition })) ?? ErrorCode.UNKNOWN_SERVER_ERROR,
    })),
  }))
}

/** The answer when the principal may not write the transactional id or one of the topics; undefined when it may. */
function clientAuthorizationErrors(transactionalId: string, topics: readonly AddPartitionsToTxnTopic[], ctx: RequestContext): Map<string, number> | undefined {
  const all = (code: (topic: string) => number): Map<string, number> =>
    new Map(topics.flatMap((t) => t.partitions.map((partition) => [txnPartitionKey({ topic: t.name, partition }), code(t.name)] as const)))
  if (!ctx.access.transactionalId(transactionalId)) return all(() => ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
  const denied = new Set(topics.filter((t) => !ctx.access.topic(t.name)).map((t) => t.name))
  if (denied.size === 0) return undefined
  return all((topic) => (denied.has(topic) ? ErrorCode.TOPIC_AUTHORIZATION_FAILED : ErrorCode.OPERATION_NOT_ATTEMPTED))
}
