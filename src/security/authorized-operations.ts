/**
 * Authorized-operations bit sets, as Kafka reports them in Metadata (topics; the cluster until
 * v10), DescribeGroups v3+ and DescribeCluster: bit N is set when the principal may perform the
 * AclOperation whose code is N on the resource. Only the operations a resource type supports
 * are asked (Kafka's AclEntry.supportedOperations); ALL and ANY never appear. Without an
 * authorizer every supported operation is allowed, as in Kafka.
 */
import { AclOperation, ResourceType } from './acl.js'

const {
  READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE,
} = AclOperation

/** The schemas' default: the client did not ask, or the broker leaves the field out. */
export const AUTHORIZED_OPERATIONS_OMITTED = -2147483648

export const SUPPORTED_OPERATIONS: ReadonlyMap<number, readonly number[]> = new Map<number, readonly number[]>([
  [ResourceType.TOPIC, [READ, WRITE, CREATE, DESCRIBE, DELETE, ALTER, DESCRIBE_CONFIGS, ALTER_CONFIGS]],
  [ResourceType.GROUP, [READ, DESCRIBE, DELETE]],
  [ResourceType.CLUSTER, [CREATE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE, ALTER, DESCRIBE]],
  [ResourceType.TRANSACTIONAL_ID, [DESCRIBE, WRITE]],
])

/** The bit set of the supported operations of `resourceType` that `allowed` says yes to. */
export function authorizedOperations(resourceType: number, allowed: (operation: number) => boolean): number {
  let bits = 0
  for (const operation of SUPPORTED_OPERATIONS.get(resourceType) ?? []) if (allowed(operation)) bits |= 1 << operation
  return bits
}

/** The operation codes set in `bits` (the inverse of authorizedOperations, for tools and tests). */
export function operationsOfBits(bits: number): number[] {
  if (bits === AUTHORIZED_OPERATIONS_OMITTED) return []
  const out: number[] = []
  for (let code = 0; code < 31; code++) if (bits & (1 << code)) out.push(code)
  return out
}
