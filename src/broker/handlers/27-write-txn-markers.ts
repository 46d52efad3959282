/**
 * WriteTxnMarkers v0-1 (inter-broker): a transaction coordinator asks this broker, the leader of
 * the named partitions, to append a COMMIT or ABORT marker for a producer to each
 * (src/core/transaction-markers.ts). Per partition: NONE once the marker is acknowledged (in a
 * cluster: the ISR has it, as acks=all), NOT_LEADER_OR_FOLLOWER when this broker does not lead
 * it (the coordinator re-reads the leader and retries), UNKNOWN_TOPIC_OR_PARTITION,
 * INVALID_PRODUCER_EPOCH for a marker older than the producer's epoch in the partition, or the
 * append's error. Markers of one request are written concurrently.
 *
 * Authorization: CLUSTER_ACTION on the cluster (only brokers send it), else
 * CLUSTER_AUTHORIZATION_FAILED for every partition, as Kafka.
 */
import { writeLocalTxnMarker } from '../../core/transaction-markers.js'
import { ErrorCode } from '../../protocol/error-codes.js'
import type { WriteTxnMarkersRequest, WriteTxnMarkersResponse } from '../../protocol/messages/write-txn-markers.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/write-txn-markers.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 27
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

export async function handle(request: WriteTxnMarkersRequest, ctx: RequestContext): Promise<HandlerReply<WriteTxnMarkersResponse>> {
  const allowed = ctx.access.cluster()
  const markers = await Promise.all(request.markers.map(async (m) => {
    const marker = { producerId: m.producerId, producerEpoch: m.producerEpoch, committed: m.transactionResult, coordinatorEpoch: m.coordinatorEpoch }
    const topics = await Promise.all(m.topics.map(async (t) => ({
      name: t.name,
      partitions: await Promise.all(t.partitionIndexes.map(async (partitionIndex) => ({
        partitionIndex,
        errorCode: allowed ? await writeLocalTxnMarker(ctx.broker, t.name, partitionIndex, marker) : ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
      }))),
    })))
    return { producerId: m.producerId, topics }
  }))
  return { kind: 'message', message: { markers } }
}
