/**
 * InitProducerId v0-4, for idempotent producers.
 *
 * Without a transactionalId: a new producer id (src/core/producer-ids.ts: never reused,
 * across restarts too) with epoch 0, exactly what Kafka does for non-transactional producers;
 * an existing producerId/epoch sent by v3+ clients (KIP-360 epoch bump) also gets a fresh id,
 * as in Kafka. With a transactionalId: INVALID_REQUEST, since this broker has no transaction
 * coordinator; clients treat the error as fatal rather than retrying forever (a retriable
 * COORDINATOR_NOT_AVAILABLE would only stall them).
 *
 * Authorization: IDEMPOTENT_WRITE on the cluster or WRITE on some topic, else CLUSTER_AUTHORIZATION_FAILED.
 *
 * Left out: transactions (transactionTimeoutMs is ignored).
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { InitProducerIdRequest, InitProducerIdResponse } from '../../protocol/messages/init-producer-id.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/init-producer-id.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 22
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

export function handle(request: InitProducerIdRequest, ctx: RequestContext): HandlerReply<InitProducerIdResponse> | Promise<HandlerReply<InitProducerIdResponse>> {
  if (request.transactionalId !== null) {
    return { kind: 'message', message: { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, producerId: -1, producerEpoch: -1 } }
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
