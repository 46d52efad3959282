/**
 * CreateAcls v0-3: stores each binding (one save for the request; an existing binding is
 * accepted again, as in Kafka). Per creation: INVALID_REQUEST with the reason for a binding
 * that cannot be stored (ANY/MATCH values, a principal not `Type:name`, a cluster resource
 * other than `kafka-cluster`), CLUSTER_AUTHORIZATION_FAILED without ALTER on the cluster,
 * SECURITY_DISABLED without `--authorizer on`. In cluster mode the bindings are added to etcd's
 * list by compare-and-swap (every broker applies them from its watch); the answer waits until
 * this broker's copy shows them.
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { AclCreationResult, CreateAclsRequest, CreateAclsResponse } from '../../protocol/messages/create-acls.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/create-acls.js'
import type { EncodeInput } from '../../protocol/primitives.js'
import { invalidBinding, type AclBinding } from '../../security/acl.js'
import { withBindings } from '../../security/acl-store.js'
import { aclAuthorizer, isRefusal } from '../acl-requests.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 30
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

export async function handle(request: CreateAclsRequest, ctx: RequestContext): Promise<HandlerReply<CreateAclsResponse>> {
  const reply = (results: EncodeInput<AclCreationResult>[]): HandlerReply<CreateAclsResponse> => ({ kind: 'message', message: { throttleTimeMs: 0, results } })
  const authorizer = aclAuthorizer(ctx)
  if (isRefusal(authorizer)) return reply(request.creations.map(() => ({ errorCode: authorizer.errorCode, errorMessage: authorizer.errorMessage })))
  const results: EncodeInput<AclCreationResult>[] = []
  const valid: AclBinding[] = []
  for (const c of request.creations) {
    const binding: AclBinding = {
      resourceType: c.resourceType, resourceName: c.resourceName, patternType: c.resourcePatternType,
      principal: c.principal, host: c.host, operation: c.operation, permission: c.permissionType,
    }
    const problem = invalidBinding(binding)
    results.push(problem ? { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: problem } : { errorCode: ErrorCode.NONE, errorMessage: null })
    if (!problem) valid.push(binding)
  }
  if (valid.length > 0) {
    try {
      const shared = ctx.security?.shared
      if (shared) await shared.updateAcls((current) => ({ next: withBindings(current, valid), result: undefined }))
      else authorizer.store.add(valid)
      ctx.log.info(`ACLs: ${valid.length} binding(s) created by ${ctx.session?.principal ?? 'User:ANONYMOUS'}`)
    } catch (error) {
      // Nothing was stored (the limit, the file could not be written, etcd unreachable): every valid creation fails alike.
      const message = (error as Error).message
      for (const r of results) if (r.errorCode === ErrorCode.NONE) Object.assign(r, { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: message })
    }
  }
  return reply(results)
}
