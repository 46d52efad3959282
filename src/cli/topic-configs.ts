/**
 * What `ringlog topics alter` and `topics describe --configs` do over the wire, like
 * kafka-topics.sh --alter and kafka-configs.sh: DescribeConfigs for a topic's configs (value,
 * source, read-only), IncrementalAlterConfigs to set or delete single configs without touching
 * the others, CreatePartitions to raise the partition count.
 *
 * An alter is checked whole before anything changes: both requests go first with validateOnly,
 * and only when the broker accepts both are they sent for real, so a bad config does not leave
 * the partitions raised (or the other way round).
 */
import { errorFromCode } from '../errors.js'
import { ErrorCode, errorCodeName } from '../protocol/error-codes.js'
import { ApiKey, type KafkaWireClient } from '../kafka-client/kafka-wire-client.js'
import { formatTable } from './table.js'

/** Kafka's ConfigResource.Type for a topic. */
const TOPIC_RESOURCE = 2
/** IncrementalAlterConfigs operations (Kafka's AlterConfigOp.OpType). */
const SET = 0
const DELETE = 1

/** DescribeConfigs configSource by number, under the names Kafka's tools print. */
const CONFIG_SOURCES: Readonly<Record<number, string>> = {
  0: 'UNKNOWN',
  1: 'DYNAMIC_TOPIC_CONFIG',
  2: 'DYNAMIC_BROKER_CONFIG',
  3: 'DYNAMIC_DEFAULT_BROKER_CONFIG',
  4: 'STATIC_BROKER_CONFIG',
  5: 'DEFAULT_CONFIG',
  6: 'DYNAMIC_BROKER_LOGGER_CONFIG',
  7: 'CLIENT_METRICS_CONFIG',
}

export class TopicAlterError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TopicAlterError'
  }
}

export interface TopicConfigEntry {
  name: string
  /** null for a sensitive config (the broker does not reveal it). */
  value: string | null
  /** Kafka's source name: DYNAMIC_TOPIC_CONFIG (the topic's own), STATIC_BROKER_CONFIG, DEFAULT_CONFIG, ... */
  source: string
  readOnly: boolean
  sensitive: boolean
}

export interface TopicAlteration {
  /** The new partition count (must be above the current one). */
  partitions?: number
  /** Configs to set on the topic. */
  set?: Readonly<Record<string, string>>
  /** Configs whose topic override is removed (back to the broker's or Kafka's default). */
  delete?: readonly string[]
}

function sourceName(source: number): string {
  return CONFIG_SOURCES[source] ?? `SOURCE_${source}`
}

function failIf(errorCode: number, what: string, message: string | null): void {
  if (errorCode !== ErrorCode.NONE) throw errorFromCode(errorCode, `${what}: ${errorCodeName(errorCode)}${message ? ` (${message})` : ''}`)
}

/** Every config of `topic` as the broker reports it, sorted by name. */
export async function describeTopicConfigs(client: KafkaWireClient, topic: string): Promise<TopicConfigEntry[]> {
  const version = client.version(ApiKey.DescribeConfigs)
  const response = await client.request(ApiKey.DescribeConfigs, version, {
    resources: [{ resourceType: TOPIC_RESOURCE, resourceName: topic, configurationKeys: null }],
    includeSynonyms: false,
    includeDocumentation: false,
  })
  const result = response.results.find((r) => r.resourceType === TOPIC_RESOURCE && r.resourceName === topic)
  if (!result) throw new TopicAlterError(`DescribeConfigs returned no result for "${topic}"`)
  if (result.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) throw errorFromCode(result.errorCode, `topic "${topic}" does not exist`)
  failIf(result.errorCode, `cannot describe configs of topic "${topic}"`, result.errorMessage)
  return result.configs
    .map((c) => ({
      name: c.name,
      value: c.value,
      // v0 has isDefault instead of a source.
      source: version === 0 ? (c.isDefault ? 'DEFAULT_CONFIG' : 'UNKNOWN') : sourceName(c.configSource),
      readOnly: c.readOnly,
      sensitive: c.isSensitive,
    }))
    .sort((a, b) => a.name.localeCompare(b.name))
}

export function formatTopicConfigs(configs: readonly TopicConfigEntry[]): string {
  return formatTable(['CONFIG', 'VALUE', 'SOURCE', 'READ-ONLY'], configs.map((c) => [c.name, c.sensitive ? '(sensitive)' : c.value, c.source, c.readOnly]))
}

/** Checks that an alteration asks for something and names no config both to set and to delete. */
export function checkAlteration(alteration: TopicAlteration): void {
  const set = Object.keys(alteration.set ?? {})
  const deleted = alteration.delete ?? []
  if (alteration.partitions === undefined && set.length === 0 && deleted.length === 0) {
    throw new TopicAlterError('nothing to alter: give --partitions, --config or --delete-config')
  }
  const both = set.filter((name) => deleted.includes(name))
  if (both.length > 0) throw new TopicAlterError(`--config and --delete-config both name ${both.join(', ')}`)
  const twice = deleted.filter((name, i) => deleted.indexOf(name) !== i)
  if (twice.length > 0) throw new TopicAlterError(`--delete-config names ${twice[0]} twice`)
}

/**
 * Applies `alteration` to `topic`: configs through IncrementalAlterConfigs, the partition count
 * through CreatePartitions, both validated by the broker before either is applied.
 */
export async function alterTopic(client: KafkaWireClient, topic: string, alteration: TopicAlteration): Promise<void> {
  checkAlteration(alteration)
  const configs = [
    ...Object.entries(alteration.set ?? {}).map(([name, value]) => ({ name, configOperation: SET, value })),
    ...(alteration.delete ?? []).map((name) => ({ name, configOperation: DELETE, value: null })),
  ]
  const what = `cannot alter topic "${topic}"`

  const alterConfigs = async (validateOnly: boolean): Promise<void> => {
    if (configs.length === 0) return
    const response = await client.request(ApiKey.IncrementalAlterConfigs, client.version(ApiKey.IncrementalAlterConfigs), {
      resources: [{ resourceType: TOPIC_RESOURCE, resourceName: topic, configs }],
      validateOnly,
    })
    const result = response.responses.find((r) => r.resourceType === TOPIC_RESOURCE && r.resourceName === topic)
    if (!result) throw new TopicAlterError(`IncrementalAlterConfigs returned no result for "${topic}"`)
    failIf(result.errorCode, what, result.errorMessage)
  }
  const createPartitions = async (validateOnly: boolean): Promise<void> => {
    if (alteration.partitions === undefined) return
    const response = await client.request(ApiKey.CreatePartitions, client.version(ApiKey.CreatePartitions), {
      topics: [{ name: topic, count: alteration.partitions, assignments: null }],
      timeoutMs: 30_000,
      validateOnly,
    })
    const result = response.results.find((r) => r.name === topic)
    if (!result) throw new TopicAlterError(`CreatePartitions returned no result for "${topic}"`)
    failIf(result.errorCode, what, result.errorMessage)
  }

  // Pipelined on the one connection; each promise settles before anything is applied.
  const checks = await Promise.allSettled([alterConfigs(true), createPartitions(true)])
  const refused = checks.find((c): c is PromiseRejectedResult => c.status === 'rejected')
  if (refused) throw refused.reason
  await alterConfigs(false)
  await createPartitions(false)
}

/** One line saying what an alter changed. */
export function describeAlteration(topic: string, alteration: TopicAlteration): string {
  const parts: string[] = []
  if (alteration.partitions !== undefined) parts.push(`${alteration.partitions} partitions`)
  for (const [name, value] of Object.entries(alteration.set ?? {})) parts.push(`${name}=${value}`)
  for (const name of alteration.delete ?? []) parts.push(`${name} deleted`)
  return `altered topic ${topic}: ${parts.join(', ')}`
}
