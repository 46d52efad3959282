/**
 * DescribeConfigs v0-4.
 *
 * Topic resources: every Kafka topic config with its effective value (the topic's override,
 * else the broker's setting, else Kafka's default) and source; broker resources (name "" or
 * this broker's id): the broker configs ringlog has, under Kafka's names, all read-only
 * (ringlog has no dynamic broker configs). configurationKeys null lists all, else only those
 * named (unknown names are left out, as Kafka does). v0 answers isDefault, v1+ configSource and
 * synonyms when asked, v3+ the config type. Errors per resource: UNKNOWN_TOPIC_OR_PARTITION,
 * INVALID_REQUEST (another broker's id, an unsupported resource type such as BROKER_LOGGER).
 *
 * Left out: documentation (null), sensitive configs (ringlog has none).
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { DescribeConfigsRequest, DescribeConfigsResourceResult, DescribeConfigsResponse, DescribeConfigsResult } from '../../protocol/messages/describe-configs.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/describe-configs.js'
import type { EncodeInput } from '../../protocol/primitives.js'
import { configResourceAllowed, deniedResourceResult } from '../config-alteration.js'
import { ConfigSource, describeBrokerConfigs, describeTopicConfigs, ResourceType, type DescribedConfig } from '../config-catalog.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 32
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

export function handle(request: DescribeConfigsRequest, ctx: RequestContext): HandlerReply<DescribeConfigsResponse> {
  const results = request.resources.map((resource): EncodeInput<DescribeConfigsResult> => {
    const base = { resourceType: resource.resourceType, resourceName: resource.resourceName }
    const failed = (errorCode: number, errorMessage: string): EncodeInput<DescribeConfigsResult> => ({ ...base, errorCode, errorMessage, configs: [] })
    if (!configResourceAllowed(ctx.access, resource)) {
      const denied = deniedResourceResult(resource)
      return failed(denied.errorCode, 'not authorized to describe these configs')
    }
    let configs: DescribedConfig[]
    if (resource.resourceType === ResourceType.topic) {
      const topic = ctx.broker.topics.get(resource.resourceName)
      if (!topic) return failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `unknown topic "${resource.resourceName}"`)
      configs = describeTopicConfigs(ctx.broker.config, topic.configs)
    } else if (resource.resourceType === ResourceType.broker) {
      if (resource.resourceName !== '' && resource.resourceName !== String(ctx.broker.config.nodeId)) {
        return failed(ErrorCode.INVALID_REQUEST, `this is broker ${ctx.broker.config.nodeId}, not "${resource.resourceName}"`)
      }
      configs = describeBrokerConfigs(ctx.broker.config)
    } else {
      return failed(ErrorCode.INVALID_REQUEST, `resource type ${resource.resourceType} is not supported (topics 2 and brokers 4 are)`)
    }
    const keys = resource.configurationKeys
    if (keys !== null && keys.length > 0) configs = configs.filter((c) => keys.includes(c.name))
    return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs: configs.map((c) => toWire(c, ctx.version, request.includeSynonyms)) }
  })
  return { kind: 'message', message: { throttleTimeMs: 0, results } }
}

function toWire(c: DescribedConfig, version: number, includeSynonyms: boolean): EncodeInput<DescribeConfigsResourceResult> {
  return {
    name: c.name,
    value: c.value,
    readOnly: c.readOnly,
    // v0 has isDefault, v1+ configSource in its place.
    ...(version === 0 && { isDefault: c.source === ConfigSource.default }),
    configSource: c.source,
    isSensitive: false,
    synonyms: includeSynonyms ? c.synonyms : [],
    configType: c.type,
    documentation: null,
  }
}
