/**
 * What the three ACL APIs share: the refusals they answer before touching the ACLs
 * (SECURITY_DISABLED without an authorizer, CLUSTER_AUTHORIZATION_FAILED without the cluster
 * permission) and the wire filter to model filter conversion.
 */
import { ErrorCode } from '../protocol/error-codes.js'
import type { AclFilter } from '../security/acl.js'
import type { Authorizer } from '../security/authorizer.js'
import type { RequestContext } from './handler.js'

export interface AclRefusal {
  errorCode: number
  errorMessage: string
}

/** The authorizer, or why this request may not use it. */
export function aclAuthorizer(ctx: RequestContext): Authorizer | AclRefusal {
  const authorizer = ctx.security?.authorizer
  if (!authorizer) return { errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: 'No Authorizer is configured on the broker' }
  if (!ctx.access.cluster()) return { errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'not authorized on the cluster resource' }
  return authorizer
}

export function isRefusal(value: Authorizer | AclRefusal): value is AclRefusal {
  return 'errorCode' in value
}

/** DescribeAcls and DeleteAcls filters carry the same fields under the same names. */
export function aclFilterOf(f: {
  resourceTypeFilter: number
  resourceNameFilter: string | null
  patternTypeFilter: number
  principalFilter: string | null
  hostFilter: string | null
  operation: number
  permissionType: number
}): AclFilter {
  return {
    resourceType: f.resourceTypeFilter, resourceName: f.resourceNameFilter, patternType: f.patternTypeFilter,
    principal: f.principalFilter, host: f.hostFilter, operation: f.operation, permission: f.permissionType,
  }
}
