/**
 * DeleteAcls v0-3: removes every stored binding each filter selects (one save for the
 * request) and lists what each filter removed; a binding several filters select is reported
 * under the first. A malformed filter: INVALID_REQUEST for it. Needs ALTER on the cluster
 * (CLUSTER_AUTHORIZATION_FAILED); without `--authorizer on`: SECURITY_DISABLED. In cluster mode
 * the filters run on etcd's list and the rest is written back by compare-and-swap (re-run on the
 * newer list when another broker wrote first), so what is reported is what was removed.
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { DeleteAclsFilterResult, DeleteAclsRequest, DeleteAclsResponse } from '../../protocol/messages/delete-acls.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/delete-acls.js'
import type { EncodeInput } from '../../protocol/primitives.js'
import { invalidFilter, type AclFilter } from '../../security/acl.js'
import { withoutMatching } from '../../security/acl-store.js'
import { aclAuthorizer, aclFilterOf, isRefusal } from '../acl-requests.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 31
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

export async function handle(request: DeleteAclsRequest, ctx: RequestContext): Promise<HandlerReply<DeleteAclsResponse>> {
  const reply = (filterResults: EncodeInput<DeleteAclsFilterResult>[]): HandlerReply<DeleteAclsResponse> => ({ kind: 'message', message: { throttleTimeMs: 0, filterResults } })
  const authorizer = aclAuthorizer(ctx)
  if (isRefusal(authorizer)) return reply(request.filters.map(() => ({ errorCode: authorizer.errorCode, errorMessage: authorizer.errorMessage, matchingAcls: [] })))
  const filters = request.filters.map(aclFilterOf)
  const problems = filters.map(invalidFilter)
  const valid: AclFilter[] = filters.filter((_, i) => problems[i] === null)
  let removed: ReturnType<typeof authorizer.store.remove>
  try {
    const shared = ctx.security?.shared
    removed = shared
      ? await shared.updateAcls((current) => {
        const { kept, removed } = withoutMatching(current, valid)
        return { next: kept.length === current.length ? undefined : kept, result: removed }
      })
      : authorizer.store.remove(valid)
  } catch (error) {
    const errorMessage = (error as Error).message
    return reply(filters.map(() => ({ errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage, matchingAcls: [] })))
  }
  if (removed.some((list) => list.length > 0)) ctx.log.info(`ACLs: ${removed.flat().length} binding(s) deleted by ${ctx.session?.principal ?? 'User:ANONYMOUS'}`)
  let next = 0
  return reply(filters.map((_, i) => {
    const problem = problems[i]
    if (problem) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: problem, matchingAcls: [] }
    return {
      errorCode: ErrorCode.NONE, errorMessage: null,
      matchingAcls: removed[next++].map((b) => ({
        errorCode: ErrorCode.NONE, errorMessage: null, resourceType: b.resourceType, resourceName: b.resourceName, patternType: b.patternType,
        principal: b.principal, host: b.host, operation: b.operation, permissionType: b.permission,
      })),
    }
  }))
}
