/**
 * InitProducerId v0-5 (v5 only allows TRANSACTION_ABORTABLE, KIP-890, which ringlog never answers).
 *
 * Without a transactionalId: a new producer id (src/core/producer-ids.ts: never reused,
 * across restarts too) with epoch 0, exactly what Kafka does for non-transactional producers;
 * an existing producerId/epoch sent by v3+ clients (KIP-360 epoch bump) also gets a fresh id,
 * as in Kafka.
 *
 * With a transactionalId: the transaction coordinator (src/transactions/transaction-coordinator.ts)
 * answers: the id's producer id with a bumped epoch (fencing the previous holder, whose open
 * transaction is aborted), INVALID_TRANSACTION_TIMEOUT for a timeout above
 * transaction.max.timeout.ms, NOT_COORDINATOR when another broker leads the id's
 * `__transaction_state` partition, PRODUCER_FENCED (v4+; INVALID_PRODUCER_EPOCH before) when
 * a v3+ client's producerId/epoch is not the id's current one.
 *
 * Authorization: without a transactionalId, IDEMPOTENT_WRITE on the cluster or WRITE on some
 * topic, else CLUSTER_AUTHORIZATION_FAILED; with one, WRITE on the transactional id, else
 * TRANSACTIONAL_ID_AUTHORIZATION_FAILED (as Kafka).
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { InitProducerIdRequest, InitProducerIdResponse } from '../../protocol/messages/init-producer-id.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/init-producer-id.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 22
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

/** The first InitProducerId version that knows PRODUCER_FENCED. */
const FIRST_FENCED_VERSION = 4

export function handle(request: InitProducerIdRequest, ctx: RequestContext): HandlerReply<InitProducerIdResponse> | Promise<HandlerReply<InitProducerIdResponse>> {
  if (request.transactionalId !== null) {
    if (!ctx.access.transactionalId(request.transactionalId)) {
      return { kind: 'message', message: { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, producerId: -1, producerEpoch: -1 } }
    }
    return initTransactional(request.transactionalId, request, ctx)
  }
  // Kafka: IDEMPOTENT_WRITE on the cluster, or WRITE on at least one topic.
  if (!ctx.access.cluster() && !ctx.access.anyTopic()) {
    return { kind: 'message', message: { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, producerId: -1, producerEpoch: -1 } }
  }
  // Cluster mode: ids come from blocks reserved in etcd, so no two brokers hand out the same one.
  const cluster = ctx.broker.cluster
  if (cluster) {
    return cluster.allocateProducerId().then(
      (producerId): HandlerReply<InitProducerIdResponse> => ({ kind: 'message', message: { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 } }),
      (): HandlerReply<InitProducerIdResponse> => ({ kind: 'message', message: { throttleTimeMs: 0, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, producerId: -1, producerEpoch: -1 } }),
    )
  }
  const producerId = ctx.broker.producerIds.allocate()
  return { kind: 'message', message: { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 } }
}

async function initTransactional(transactionalId: string, request: InitProducerIdRequest, ctx: RequestContext): Promise<HandlerReply<InitProducerIdResponse>> {
  if (transactionalId === '') return { kind: 'message', message: { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, producerId: -1, producerEpoch: -1 } }
  const result = await ctx.broker.transactions.initProducerId(
    transactionalId,
    request.transactionTimeoutMs,
    { producerId: ctx.version >= 3 ? request.producerId : -1, producerEpoch: ctx.version >= 3 ? request.producerEpoch : -1 },
    { version: ctx.version, firstFencedVersion: FIRST_FENCED_VERSION },
  )
  return { kind: 'message', message: { throttleTimeMs: 0, ...result } }
}
