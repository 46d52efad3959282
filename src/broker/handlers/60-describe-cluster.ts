/**
 * DescribeCluster v0-1.
 *
 * Single node: this broker, at the address the client reached it on; it is also the controller.
 * Cluster mode: every live broker (registered in etcd) at its advertised endpoint on the
 * listener the request came in on (brokers without that listener left out) and the elected
 * controller (-1 while none is known), from this broker's metadata cache, the same answer
 * Metadata gives.
 * endpointType 2 (controllers, v1) is UNSUPPORTED_ENDPOINT_TYPE, as a Kafka broker answers.
 *
 * Authorization: none asked, as in Kafka. includeClusterAuthorizedOperations answers the bit set of
 * the cluster operations the principal may perform, 0 without DESCRIBE on the cluster, and
 * INT32_MIN when not asked (request-authorization.ts, security/authorized-operations.ts).
 * Left out: racks.
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { DescribeClusterRequest, DescribeClusterResponse } from '../../protocol/messages/describe-cluster.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/describe-cluster.js'
import { AUTHORIZED_OPERATIONS_OMITTED } from '../../security/authorized-operations.js'
import type { HandlerReply, RequestContext } from '../handler.js'
import { brokersOn } from '../../core/broker-endpoints.js'

export const apiKey = 60
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

const BROKERS_ENDPOINT = 1
const UNSUPPORTED_ENDPOINT_TYPE = 114

export function handle(request: DescribeClusterRequest, ctx: RequestContext): HandlerReply<DescribeClusterResponse> {
  const { nodeId, clusterId } = ctx.broker.config
  const cluster = ctx.broker.cluster
  const controllerId = cluster ? cluster.controllerId() : nodeId
  const base = {
    throttleTimeMs: 0, endpointType: request.endpointType, clusterId, controllerId, clusterAuthorizedOperations: request.includeClusterAuthorizedOperations ? ctx.access.clusterOperations() : AUTHORIZED_OPERATIONS_OMITTED,
  }
  if (ctx.version >= 1 && request.endpointType !== BROKERS_ENDPOINT) {
    return { kind: 'message', message: { ...base, errorCode: UNSUPPORTED_ENDPOINT_TYPE, errorMessage: `endpoint type ${request.endpointType} is not served by a broker`, brokers: [] } }
  }
  const brokers = cluster
    ? brokersOn(cluster.brokers(), ctx.connection.listener).map((b) => ({ brokerId: b.id, host: b.host, port: b.port, rack: null }))
    : [{ brokerId: nodeId, host: ctx.connection.advertisedHost, port: ctx.connection.advertisedPort, rack: null }]
  return { kind: 'message', message: { ...base, errorCode: ErrorCode.NONE, errorMessage: null, brokers } }
}
