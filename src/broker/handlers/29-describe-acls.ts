/**
 * DescribeAcls v0-3: the stored bindings the filter selects, grouped by resource pattern as
 * Kafka answers them. Needs DESCRIBE on the cluster (CLUSTER_AUTHORIZATION_FAILED); without
 * `--authorizer on` the answer is SECURITY_DISABLED, as from a Kafka broker with no authorizer.
 * A malformed filter (unknown type, operation, permission): INVALID_REQUEST.
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { DescribeAclsRequest, DescribeAclsResource, DescribeAclsResponse } from '../../protocol/messages/describe-acls.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/describe-acls.js'
import type { EncodeInput } from '../../protocol/primitives.js'
import { invalidFilter } from '../../security/acl.js'
import { aclAuthorizer, aclFilterOf, isRefusal } from '../acl-requests.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 29
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

export function handle(request: DescribeAclsRequest, ctx: RequestContext): HandlerReply<DescribeAclsResponse> {
  const answer = (errorCode: number, errorMessage: string | null, resources: EncodeInput<DescribeAclsResource>[] = []): HandlerReply<DescribeAclsResponse> =>
    ({ kind: 'message', message: { throttleTimeMs: 0, errorCode, errorMessage, resources } })
  const authorizer = aclAuthorizer(ctx)
  if (isRefusal(authorizer)) return answer(authorizer.errorCode, authorizer.errorMessage)
  const filter = aclFilterOf(request)
  const problem = invalidFilter(filter)
  if (problem) return answer(ErrorCode.INVALID_REQUEST, problem)
  const resources = new Map<string, DescribeAclsResource>()
  for (const b of authorizer.store.list(filter)) {
    const key = `${b.resourceType}\u0000${b.patternType}\u0000${b.resourceName}`
    let resource = resources.get(key)
    if (!resource) resources.set(key, (resource = { resourceType: b.resourceType, resourceName: b.resourceName, patternType: b.patternType, acls: [] }))
    resource.acls.push({ principal: b.principal, host: b.host, operation: b.operation, permissionType: b.permission })
  }
  return answer(ErrorCode.NONE, null, [...resources.values()])
}
