/**
 * DescribeCluster v0-1.
 *
 * One broker: this one, at the address the client reached it on; it is also the controller.
 * endpointType 2 (controllers, v1) is UNSUPPORTED_ENDPOINT_TYPE, as a Kafka broker answers.
 *
 * Left out: authorized operations (no ACLs: always Kafka's "not provided", INT32_MIN).
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { DescribeClusterRequest, DescribeClusterResponse } from '../../protocol/messages/describe-cluster.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/describe-cluster.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 60
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

const BROKERS_ENDPOINT = 1
const UNSUPPORTED_ENDPOINT_TYPE = 114
const AUTHORIZED_OPERATIONS_OMITTED = -2147483648

export function handle(request: DescribeClusterRequest, ctx: RequestContext): HandlerReply<DescribeClusterResponse> {
  const { nodeId, clusterId } = ctx.broker.config
  const base = { throttleTimeMs: 0, endpointType: request.endpointType, clusterId, controllerId: nodeId, clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED }
  if (ctx.version >= 1 && request.endpointType !== BROKERS_ENDPOINT) {
    return { kind: 'message', message: { ...base, errorCode: UNSUPPORTED_ENDPOINT_TYPE, errorMessage: `endpoint type ${request.endpointType} is not served by a broker`, brokers: [] } }
  }
  const brokers = [{ brokerId: nodeId, host: ctx.connection.advertisedHost, port: ctx.connection.advertisedPort, rack: null }]
  return { kind: 'message', message: { ...base, errorCode: ErrorCode.NONE, errorMessage: null, brokers } }
}
