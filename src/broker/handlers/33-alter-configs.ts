/**
 * AlterConfigs v0-2 (the legacy, non-incremental form).
 *
 * A topic's overrides are replaced by exactly the configs given (a config left out goes back
 * to its default, as in Kafka; a null value is left out too). The new set is validated as a
 * whole (INVALID_CONFIG for an unknown name or a bad value of a config ringlog applies), stored
 * in the topic registry and applied to the topic's partitions (their logs reopen with it).
 * validateOnly checks and changes nothing. Broker resources: INVALID_REQUEST (static configs).
 * A resource named twice: INVALID_REQUEST for both.
 * In cluster mode the merge runs on the overrides held in etcd and the result is written there;
 * every broker applies it from its watch (config-alteration.ts, cluster/topic-config-alteration.ts).
 *
 * Authorization: ALTER_CONFIGS on the topic, or on the cluster for a broker resource.
 *
 * Left out: throttling (0).
 */
import type { AlterConfigsRequest, AlterConfigsResponse } from '../../protocol/messages/alter-configs.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/alter-configs.js'
import { alterResource, configResourceAllowed, deniedResourceResult, duplicateResourceResult, duplicateResources, resourceKey } from '../config-alteration.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 33
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

export async function handle(request: AlterConfigsRequest, ctx: RequestContext): Promise<HandlerReply<AlterConfigsResponse>> {
  const twice = duplicateResources(request.resources)
  const responses = []
  for (const resource of request.resources) {
    if (twice.has(resourceKey(resource))) { responses.push(duplicateResourceResult(resource)); continue }
    if (!configResourceAllowed(ctx.access, resource)) { responses.push(deniedResourceResult(resource)); continue }
    responses.push(await alterResource(ctx.broker, resource, request.validateOnly, () => {
      const next: Record<string, string> = {}
      for (const c of resource.configs) if (c.value !== null) next[c.name] = c.value
      return next
    }))
  }
  return { kind: 'message', message: { throttleTimeMs: 0, responses } }
}
