/**
 * IncrementalAlterConfigs v0-1.
 *
 * Per topic config: SET (0) sets it, DELETE (1) removes the override (back to the default),
 * APPEND (2) and SUBTRACT (3) add or remove items of a list config (cleanup.policy, the
 * throttled-replicas lists; INVALID_CONFIG for any other config, as in Kafka). The same name
 * twice in one resource, or an unknown operation, is INVALID_REQUEST. The result is validated
 * as a whole, stored and applied like AlterConfigs (see config-alteration.ts); validateOnly
 * changes nothing. Broker resources: INVALID_REQUEST (static configs).
 * In cluster mode the merge runs on the overrides held in etcd and the result is written there;
 * every broker applies it from its watch (config-alteration.ts, cluster/topic-config-alteration.ts).
 *
 * Authorization: ALTER_CONFIGS on the topic, or on the cluster for a broker resource.
 *
 * Left out: throttling (0).
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { AlterableConfig, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse } from '../../protocol/messages/incremental-alter-configs.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/incremental-alter-configs.js'
import { alterResource, configResourceAllowed, deniedResourceResult, ConfigAlterationError, duplicateResourceResult, duplicateResources, resourceKey } from '../config-alteration.js'
import { isListTopicConfig } from '../config-catalog.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 44
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

const Op = { set: 0, delete: 1, append: 2, subtract: 3 } as const

export async function handle(request: IncrementalAlterConfigsRequest, ctx: RequestContext): Promise<HandlerReply<IncrementalAlterConfigsResponse>> {
  const twice = duplicateResources(request.resources)
  const responses = []
  for (const resource of request.resources) {
    if (twice.has(resourceKey(resource))) { responses.push(duplicateResourceResult(resource)); continue }
    if (!configResourceAllowed(ctx.access, resource)) { responses.push(deniedResourceResult(resource)); continue }
    responses.push(await alterResource(ctx.broker, resource, request.validateOnly, (current) => applyOperations(current, resource.configs)))
  }
  return { kind: 'message', message: { throttleTimeMs: 0, responses } }
}

function applyOperations(current: Readonly<Record<string, string>>, ops: readonly AlterableConfig[]): Record<string, string> {
  const names = new Set<string>()
  const next: Record<string, string> = { ...current }
  for (const op of ops) {
    if (names.has(op.name)) throw new ConfigAlterationError(ErrorCode.INVALID_REQUEST, `config ${op.name} appears more than once`)
    names.add(op.name)
    switch (op.configOperation) {
      case Op.set:
        if (op.value === null) throw new ConfigAlterationError(ErrorCode.INVALID_REQUEST, `SET of ${op.name} needs a value`)
        next[op.name] = op.value
        break
      case Op.delete:
        delete next[op.name]
        break
      case Op.append:
      case Op.subtract: {
        if (!isListTopicConfig(op.name)) throw new ConfigAlterationError(ErrorCode.INVALID_CONFIG, `config ${op.name} is not a list: APPEND and SUBTRACT are not allowed on it`)
        const items = (next[op.name] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
        const given = (op.value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
        const result = op.configOperation === Op.append
          ? [...items, ...given.filter((g) => !items.includes(g))]
          : items.filter((i) => !given.includes(i))
        next[op.name] = result.join(',')
        break
      }
      default:
        throw new ConfigAlterationError(ErrorCode.INVALID_REQUEST, `unknown config operation ${op.configOperation} for ${op.name}`)
    }
  }
  return next
}
