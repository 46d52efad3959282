/**
 * FindCoordinator v0-5. This single broker is the coordinator for every group: each key is
 * answered with this node (nodeId from config, host and port as the client reached it, like
 * Metadata). v4 batches keys (coordinatorKeys), one answer per key. v5 has v4's layout; it
 * only tells the broker the client understands TRANSACTION_ABORTABLE (KIP-890), an error
 * FindCoordinator itself never returns, so it is answered exactly as v4.
 *
 * Key type 0 (group): this node for any key. An empty group id still gets this node, as in
 * Kafka (the group call that follows answers INVALID_GROUP_ID).
 * Key type 1 (transaction): the transaction coordinator, this node on a single node; in a
 * cluster the leader of the transactional id's `__transaction_state` partition (created on
 * first use; COORDINATOR_NOT_AVAILABLE until it has a leader). In a cluster the coordinator is
 * named at its endpoint on the listener the request came in on; a coordinator without that
 * listener is COORDINATOR_NOT_AVAILABLE, as Kafka answers it.
 * Other key types: INVALID_REQUEST.
 *
 * v0 must stay advertised: librdkafka enables its group consumer (and lz4) only when it is.
 * Authorization: DESCRIBE on the group (GROUP_AUTHORIZATION_FAILED) or transactional id.
 * Left out: throttling (throttleTimeMs is 0).
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { Coordinator, FindCoordinatorRequest, FindCoordinatorResponse } from '../../protocol/messages/find-coordinator.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/find-coordinator.js'
import type { EncodeInput } from '../../protocol/primitives.js'
import type { HandlerReply, RequestContext } from '../handler.js'
import type { ClusterView } from '../../core/cluster-view.js'
import { endpointFor } from '../../core/broker-endpoints.js'
import { CONSUMER_OFFSETS_TOPIC, TRANSACTION_STATE_TOPIC, partitionForGroup } from '../../core/internal-topics.js'

export const apiKey = 10
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

const GROUP_KEY_TYPE = 0
const TRANSACTION_KEY_TYPE = 1
const BATCHED_VERSION = 4

export function handle(request: FindCoordinatorRequest, ctx: RequestContext): HandlerReply<FindCoordinatorResponse> {
  if (ctx.version >= BATCHED_VERSION) {
    const coordinators = request.coordinatorKeys.map((key) => coordinatorFor(key, request.keyType, ctx))
    return { kind: 'message', message: { throttleTimeMs: 0, coordinators } }
  }
  const answer = coordinatorFor(request.key, request.keyType, ctx)
  return {
    kind: 'message',
    message: {
      throttleTimeMs: 0,
      errorCode: answer.errorCode,
      // v0 has no message field; v1-3 make it nullable.
      errorMessage: answer.errorMessage,
      nodeId: answer.nodeId,
      host: answer.host,
      port: answer.port,
    },
  }
}

function coordinatorFor(key: string, keyType: number, ctx: RequestContext): EncodeInput<Coordinator> {
  if (keyType !== GROUP_KEY_TYPE && keyType !== TRANSACTION_KEY_TYPE) {
    return { key, nodeId: -1, host: '', port: -1, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `unknown coordinator key type ${keyType}` }
  }
  const allowed = keyType === GROUP_KEY_TYPE ? ctx.access.group(key) : ctx.access.transactionalId(key)
  if (!allowed) {
    const errorCode = keyType === GROUP_KEY_TYPE ? ErrorCode.GROUP_AUTHORIZATION_FAILED : ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    return { key, nodeId: -1, host: '', port: -1, errorCode, errorMessage: null }
  }
  const cluster = ctx.broker.cluster
  const listener = ctx.connection.listener
  if (cluster && keyType === GROUP_KEY_TYPE) return clusterCoordinator(key, cluster, listener, CONSUMER_OFFSETS_TOPIC, () => ctx.broker.groups.prepareOffsetsTopic())
  if (cluster) return clusterCoordinator(key, cluster, listener, TRANSACTION_STATE_TOPIC, () => ctx.broker.transactions.prepare())
  return {
    key,
    nodeId: ctx.broker.config.nodeId,
    host: ctx.connection.advertisedHost,
    port: ctx.connection.advertisedPort,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
  }
}

/**
 * Cluster mode: the coordinator is the leader of the key's partition of the internal topic
 * (`__consumer_offsets` for a group, `__transaction_state` for a transactional id). The first
 * FindCoordinator creates the topic; until it has a leader, COORDINATOR_NOT_AVAILABLE
 * (retriable: clients ask again).
 */
function clusterCoordinator(key: string, cluster: ClusterView, listener: string, topic: string, createTopic: () => Promise<void>): EncodeInput<Coordinator> {
  const unavailable = (why: string): EncodeInput<Coordinator> => ({ key, nodeId: -1, host: '', port: -1, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: why })
  const view = cluster.topic(topic)
  if (!view) {
    createTopic().catch(() => undefined)
    return unavailable(`${topic} is being created`)
  }
  const partition = view.partitions[partitionForGroup(key, view.partitions.length)]
  const leader = cluster.brokers().find((b) => b.id === partition?.leader)
  if (!leader) return unavailable(`${topic}-${partition?.partition ?? -1} has no leader`)
  const endpoint = endpointFor(leader, listener)
  if (!endpoint) return unavailable(`the coordinator, broker ${leader.id}, has no ${listener} listener`)
  return { key, nodeId: leader.id, host: endpoint.host, port: endpoint.port, errorCode: ErrorCode.NONE, errorMessage: null }
}
