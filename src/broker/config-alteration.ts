/**
 * What AlterConfigs (33) and IncrementalAlterConfigs (44) share: resolving a resource, and
 * applying a topic's new overrides (validated as a whole, stored, then given to its partitions)
 * or only validating them (validateOnly). Broker configs are static in ringlog: altering one
 * is INVALID_REQUEST, as Kafka answers for a config that cannot be updated dynamically. In
 * cluster mode a topic's overrides live in etcd: the merge runs on etcd's current set, the
 * result is written there (compare-and-swap) and every broker applies it from its watch.
 */
import { toErrorPayload } from '../errors.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { ResourceType } from './config-catalog.js'
import type { RequestAccess } from './request-authorization.js'
import type { NodeContext } from '../core/node-context.js'
import { validateTopicConfigs } from '../core/topic-settings.js'

export interface AlterationResult { resourceType: number; resourceName: string; errorCode: number; errorMessage: string | null }

/** Thrown by an alteration's merge step with the Kafka error code it answers. */
export class ConfigAlterationError extends Error {
  constructor(readonly code: number, message: string) { super(message) }
}

/**
 * Applies `merge(current overrides)` to one resource. Resources named twice in one request
 * are answered INVALID_REQUEST by the caller before this runs.
 */
export async function alterResource(
  broker: NodeContext,
  resource: { resourceType: number; resourceName: string },
  validateOnly: boolean,
  merge: (current: Readonly<Record<string, string>>) => Record<string, string>,
): Promise<AlterationResult> {
  const base = { resourceType: resource.resourceType, resourceName: resource.resourceName }
  try {
    if (resource.resourceType === ResourceType.broker) {
      throw new ConfigAlterationError(ErrorCode.INVALID_REQUEST, 'broker configs are static in ringlog (set in its config file or flags at start); none can be altered at run time')
    }
    if (resource.resourceType !== ResourceType.topic) {
      throw new ConfigAlterationError(ErrorCode.INVALID_REQUEST, `resource type ${resource.resourceType} is not supported (topics 2 are)`)
    }
    const topic = broker.topics.get(resource.resourceName)
    if (!topic) throw new ConfigAlterationError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `unknown topic "${resource.resourceName}"`)
    if (broker.cluster) {
      await broker.cluster.alterTopicConfigs(topic.name, merge, validateOnly)
      return { ...base, errorCode: ErrorCode.NONE, errorMessage: null }
    }
    const next = merge(topic.configs)
    validateTopicConfigs(next)
    if (!validateOnly) await broker.setTopicConfigs(topic.name, next)
    return { ...base, errorCode: ErrorCode.NONE, errorMessage: null }
  } catch (error) {
    if (error instanceof ConfigAlterationError) return { ...base, errorCode: error.code, errorMessage: error.message }
    const payload = toErrorPayload(error)
    return { ...base, errorCode: payload.code, errorMessage: payload.message }
  }
}

/** Keys "type/name" that occur more than once in a request's resources. */
export function duplicateResources(resources: readonly { resourceType: number; resourceName: string }[]): Set<string> {
  const seen = new Set<string>()
  const twice = new Set<string>()
  for (const r of resources) {
    const key = resourceKey(r)
    if (seen.has(key)) twice.add(key)
    seen.add(key)
  }
  return twice
}

export function resourceKey(r: { resourceType: number; resourceName: string }): string {
  return `${r.resourceType}/${r.resourceName}`
}

export function duplicateResourceResult(r: { resourceType: number; resourceName: string }): AlterationResult {
  return { resourceType: r.resourceType, resourceName: r.resourceName, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `resource ${r.resourceName} (type ${r.resourceType}) appears more than once in the request` }
}

/**
 * The ACL check of a config resource: a topic asks the API's operation (DESCRIBE_CONFIGS or
 * ALTER_CONFIGS) of the topic, a broker asks it of the cluster. Other types are refused later.
 */
export function configResourceAllowed(access: RequestAccess, r: { resourceType: number; resourceName: string }): boolean {
  if (r.resourceType === ResourceType.topic) return access.topic(r.resourceName)
  if (r.resourceType === ResourceType.broker) return access.cluster()
  return true
}

/** TOPIC_ or CLUSTER_AUTHORIZATION_FAILED for a config resource the principal may not touch. */
export function deniedResourceResult(r: { resourceType: number; resourceName: string }): AlterationResult {
  const errorCode = r.resourceType === ResourceType.topic ? ErrorCode.TOPIC_AUTHORIZATION_FAILED : ErrorCode.CLUSTER_AUTHORIZATION_FAILED
  return { resourceType: r.resourceType, resourceName: r.resourceName, errorCode, errorMessage: null }
}
