/**
 * Kafka's ACL model with Kafka's wire numbers: a binding is a resource pattern (type, name,
 * literal or prefixed) and an entry (principal, host, operation, allow/deny). Filters (the
 * DescribeAcls / DeleteAcls requests) use ANY for a field to match every value and MATCH for
 * "every pattern that applies to this name".
 */

/** Kafka's ResourceType codes. */
export const ResourceType = { ANY: 1, TOPIC: 2, GROUP: 3, CLUSTER: 4, TRANSACTIONAL_ID: 5 } as const
export type ResourceTypeCode = (typeof ResourceType)[keyof typeof ResourceType]

/** Kafka's PatternType codes. */
export const PatternType = { ANY: 1, MATCH: 2, LITERAL: 3, PREFIXED: 4 } as const

/** Kafka's AclOperation codes. */
export const AclOperation = {
  ANY: 1, ALL: 2, READ: 3, WRITE: 4, CREATE: 5, DELETE: 6, ALTER: 7, DESCRIBE: 8, CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10, ALTER_CONFIGS: 11, IDEMPOTENT_WRITE: 12,
} as const
export type AclOperationCode = (typeof AclOperation)[keyof typeof AclOperation]

/** Kafka's AclPermissionType codes. */
export const AclPermission = { ANY: 1, DENY: 2, ALLOW: 3 } as const

/** The name Kafka gives the one cluster resource. */
export const CLUSTER_RESOURCE_NAME = 'kafka-cluster'
/** A literal name, principal or host that matches every value. */
export const WILDCARD = '*'

export interface AclBinding {
  resourceType: number
  resourceName: string
  /** LITERAL or PREFIXED. */
  patternType: number
  /** `User:<name>` or `User:*`. */
  principal: string
  /** An address or `*`. */
  host: string
  operation: number
  /** ALLOW or DENY. */
  permission: number
}

export interface AclFilter {
  resourceType: number
  resourceName: string | null
  patternType: number
  principal: string | null
  host: string | null
  operation: number
  permission: number
}

const CONCRETE_TYPES: readonly number[] = [ResourceType.TOPIC, ResourceType.GROUP, ResourceType.CLUSTER, ResourceType.TRANSACTIONAL_ID]
const CONCRETE_OPERATIONS: readonly number[] = Object.values(AclOperation).filter((op) => op !== AclOperation.ANY)

/** Why a binding cannot be stored (CreateAcls answers INVALID_REQUEST with it), or null when it can. */
export function invalidBinding(b: AclBinding): string | null {
  if (!CONCRETE_TYPES.includes(b.resourceType)) return `resource type ${b.resourceType} is not TOPIC, GROUP, CLUSTER or TRANSACTIONAL_ID`
  if (b.patternType !== PatternType.LITERAL && b.patternType !== PatternType.PREFIXED) return `pattern type ${b.patternType} is not LITERAL or PREFIXED`
  if (b.resourceName === '') return 'the resource name is empty'
  if (b.resourceType === ResourceType.CLUSTER && (b.resourceName !== CLUSTER_RESOURCE_NAME || b.patternType !== PatternType.LITERAL)) {
    return `the cluster resource is the literal name ${CLUSTER_RESOURCE_NAME}`
  }
  if (!/^[^:]+:.+$/.test(b.principal)) return `principal "${b.principal}" is not <type>:<name>`
  if (b.host === '') return 'the host is empty'
  if (!CONCRETE_OPERATIONS.includes(b.operation)) return `operation ${b.operation} is not a concrete operation`
  if (b.permission !== AclPermission.ALLOW && b.permission !== AclPermission.DENY) return `permission ${b.permission} is not ALLOW or DENY`
  return null
}

/** Why a filter is malformed (DescribeAcls / DeleteAcls answer INVALID_REQUEST), or null. */
export function invalidFilter(f: AclFilter): string | null {
  if (f.resourceType !== ResourceType.ANY && !CONCRETE_TYPES.includes(f.resourceType)) return `resource type ${f.resourceType} is not valid in a filter`
  if (f.patternType < PatternType.ANY || f.patternType > PatternType.PREFIXED) return `pattern type ${f.patternType} is not valid in a filter`
  if (f.operation < AclOperation.ANY || f.operation > AclOperation.IDEMPOTENT_WRITE) return `operation ${f.operation} is not valid in a filter`
  if (f.permission < AclPermission.ANY || f.permission > AclPermission.ALLOW) return `permission ${f.permission} is not valid in a filter`
  return null
}

/** True when the filter selects this binding (Kafka's AclBindingFilter.matches). */
export function filterMatches(f: AclFilter, b: AclBinding): boolean {
  if (f.resourceType !== ResourceType.ANY && f.resourceType !== b.resourceType) return false
  if (f.principal !== null && f.principal !== b.principal) return false
  if (f.host !== null && f.host !== b.host) return false
  if (f.operation !== AclOperation.ANY && f.operation !== b.operation) return false
  if (f.permission !== AclPermission.ANY && f.permission !== b.permission) return false
  if (f.patternType === PatternType.MATCH) {
    // Every binding whose pattern applies to the filter's name: the literal name, the wildcard, or a prefix of it.
    if (f.resourceName === null) return true
    if (b.patternType === PatternType.LITERAL) return b.resourceName === f.resourceName || b.resourceName === WILDCARD
    return f.resourceName.startsWith(b.resourceName)
  }
  if (f.patternType !== PatternType.ANY && f.patternType !== b.patternType) return false
  return f.resourceName === null || f.resourceName === b.resourceName
}

export function sameBinding(a: AclBinding, b: AclBinding): boolean {
  return a.resourceType === b.resourceType && a.resourceName === b.resourceName && a.patternType === b.patternType &&
    a.principal === b.principal && a.host === b.host && a.operation === b.operation && a.permission === b.permission
}

// Names as the CLI and docs spell them (Kafka's kafka-acls.sh spelling).
const OPERATION_NAMES: Record<string, number> = {
  All: AclOperation.ALL, Read: AclOperation.READ, Write: AclOperation.WRITE, Create: AclOperation.CREATE, Delete: AclOperation.DELETE,
  Alter: AclOperation.ALTER, Describe: AclOperation.DESCRIBE, ClusterAction: AclOperation.CLUSTER_ACTION,
  DescribeConfigs: AclOperation.DESCRIBE_CONFIGS, AlterConfigs: AclOperation.ALTER_CONFIGS, IdempotentWrite: AclOperation.IDEMPOTENT_WRITE,
}
const RESOURCE_NAMES: Record<number, string> = { 1: 'Any', 2: 'Topic', 3: 'Group', 4: 'Cluster', 5: 'TransactionalId' }
const PATTERN_NAMES: Record<number, string> = { 1: 'Any', 2: 'Match', 3: 'Literal', 4: 'Prefixed' }

/** `Write` / `write` / `WRITE` -> its code; undefined for an unknown name. */
export function operationByName(name: string): number | undefined {
  const key = Object.keys(OPERATION_NAMES).find((k) => k.toLowerCase() === name.replace(/[_-]/g, '').toLowerCase())
  return key === undefined ? undefined : OPERATION_NAMES[key]
}

export function operationName(code: number): string {
  return Object.keys(OPERATION_NAMES).find((k) => OPERATION_NAMES[k] === code) ?? (code === AclOperation.ANY ? 'Any' : `Unknown(${code})`)
}

export function resourceTypeName(code: number): string {
  return RESOURCE_NAMES[code] ?? `Unknown(${code})`
}

export function patternTypeName(code: number): string {
  return PATTERN_NAMES[code] ?? `Unknown(${code})`
}

/** One line per binding, as `ringlog acls list` prints it. */
export function describeBinding(b: AclBinding): string {
  const permission = b.permission === AclPermission.ALLOW ? 'Allow' : 'Deny'
  return `${resourceTypeName(b.resourceType)}:${patternTypeName(b.patternType)}:${b.resourceName}\t${permission}\t${b.principal}\t${operationName(b.operation)}\thost=${b.host}`
}
