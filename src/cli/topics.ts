/**
 * `ringlog topics list | create | delete | describe | alter`: topic administration over the Kafka
 * wire protocol, like kafka-topics.sh. list and describe use Metadata (describe adds ListOffsets for
 * each partition's log start and end offsets, and with --configs DescribeConfigs), create uses
 * CreateTopics, delete DeleteTopics, alter CreatePartitions and IncrementalAlterConfigs
 * (topic-configs.ts).
 * Versions are negotiated with ApiVersions; any error code in an answer is a failure (exit 1).
 */
import type { Command } from 'commander'
import { errorFromCode } from '../errors.js'
import { ErrorCode, errorCodeName } from '../protocol/error-codes.js'
import { ApiKey, type KafkaWireClient, type RequestOf } from '../kafka-client/kafka-wire-client.js'
import { withBrokerConnections, withWireClient } from '../kafka-client/negotiated-client.js'
import { connectOptions, withBrokerLogin, type BrokerLoginOptions } from './broker-login.js'
import { alterTopic, checkAlteration, describeAlteration, describeTopicConfigs, formatTopicConfigs, type TopicConfigEntry } from './topic-configs.js'

const EARLIEST_TIMESTAMP = -2
const LATEST_TIMESTAMP = -1
/** DeleteTopics v6 names topics in `topics` (name or id); older versions in `topicNames`. */
const DELETE_BY_STATE_VERSION = 6

export class TopicCommandError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TopicCommandError'
  }
}

export interface PartitionDescription {
  partition: number
  leader: number
  replicas: number[]
  isr: number[]
  /** null when ListOffsets failed for the partition (see `error`). */
  logStartOffset: number | null
  logEndOffset: number | null
  error: string | null
}

export interface TopicDescription {
  name: string
  topicId: string | null
  internal: boolean
  partitions: PartitionDescription[]
}

export interface CreateTopicOptions {
  /** -1 (the default): the broker's default partition count. */
  partitions?: number
  replicationFactor?: number
  configs?: Record<string, string>
}

/** A Kafka error code in an answer becomes the typed error the code maps to (TopicAlreadyExistsError, ...). */
function failIf(errorCode: number, what: string, message?: string | null): void {
  if (errorCode !== ErrorCode.NONE) throw errorFromCode(errorCode, `${what}: ${errorCodeName(errorCode)}${message ? ` (${message})` : ''}`)
}

/**
 * A Metadata request body for `version`: all topics (v0: empty list, v1+: null) when `names`
 * is null; allowAutoTopicCreation only where the version carries it (v4+; older versions
 * auto-create whenever the broker does, and refuse to encode a non-default value).
 */
export function metadataRequest(version: number, names: readonly string[] | null, allowAutoCreate: boolean): RequestOf<typeof ApiKey.Metadata> {
  const topics = names === null ? (version === 0 ? [] : null) : names.map((name) => ({ name }))
  return version >= 4 ? { topics, allowAutoTopicCreation: allowAutoCreate } : { topics }
}

/** Every topic name on the broker, sorted. */
export async function listTopics(client: KafkaWireClient): Promise<string[]> {
  const version = client.version(ApiKey.Metadata)
  const response = await client.request(ApiKey.Metadata, version, metadataRequest(version, null, false))
  return response.topics.map((t) => t.name ?? '').filter((name) => name !== '').sort()
}

export async function createTopic(client: KafkaWireClient, name: string, options: CreateTopicOptions = {}): Promise<{ partitions: number | null }> {
  const version = client.version(ApiKey.CreateTopics)
  const response = await client.request(ApiKey.CreateTopics, version, {
    topics: [{
      name,
      numPartitions: options.partitions ?? -1,
      replicationFactor: options.replicationFactor ?? -1,
      assignments: [],
      configs: Object.entries(options.configs ?? {}).map(([key, value]) => ({ name: key, value })),
    }],
    timeoutMs: 30_000,
    validateOnly: false,
  })
  const result = response.topics.find((t) => t.name === name)
  if (!result) throw new TopicCommandError(`CreateTopics returned no result for "${name}"`)
  failIf(result.errorCode, `cannot create topic "${name}"`, result.errorMessage)
  // v5+ results carry the partition count; older ones do not.
  return { partitions: version >= 5 ? result.numPartitions : null }
}

export async function deleteTopic(client: KafkaWireClient, name: string): Promise<void> {
  const version = client.version(ApiKey.DeleteTopics)
  const body = version >= DELETE_BY_STATE_VERSION
    ? { topics: [{ name }], timeoutMs: 30_000 }
    : { topicNames: [name], timeoutMs: 30_000 }
  const response = await client.request(ApiKey.DeleteTopics, version, body)
  const result = response.responses.find((r) => r.name === name) ?? response.responses[0]
  if (!result) throw new TopicCommandError(`DeleteTopics returned no result for "${name}"`)
  failIf(result.errorCode, `cannot delete topic "${name}"`, result.errorMessage)
}

/**
 * A topic's partitions with their log start and end offsets. ListOffsets is answered by a
 * partition's leader only (NOT_LEADER_OR_FOLLOWER elsewhere), so in a cluster each leader is
 * asked for its own partitions through `clientAt(address)`; without it everything goes to `client`.
 */
export async function describeTopic(client: KafkaWireClient, name: string, clientAt?: (address: string) => Promise<KafkaWireClient>): Promise<TopicDescription> {
  const metadataVersion = client.version(ApiKey.Metadata)
  const metadata = await client.request(ApiKey.Metadata, metadataVersion, metadataRequest(metadataVersion, [name], false))
  const topic = metadata.topics.find((t) => t.name === name)
  if (!topic) throw new TopicCommandError(`Metadata returned nothing for "${name}"`)
  if (topic.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) throw errorFromCode(topic.errorCode, `topic "${name}" does not exist`)
  failIf(topic.errorCode, `cannot describe topic "${name}"`)
  const partitions = [...topic.partitions].sort((a, b) => a.partitionIndex - b.partitionIndex)
  const addresses = new Map(metadata.brokers.map((b) => [b.nodeId, `${b.host}:${b.port}`]))
  const byLeader = new Map<number, number[]>()
  for (const p of partitions) {
    const leader = clientAt && addresses.has(p.leaderId) ? p.leaderId : -1
    const indexes = byLeader.get(leader)
    if (indexes) indexes.push(p.partitionIndex)
    else byLeader.set(leader, [p.partitionIndex])
  }
  type OffsetAnswer = { errorCode: number; offset: number }
  const starts = new Map<number, OffsetAnswer>()
  const ends = new Map<number, OffsetAnswer>()
  await Promise.all([...byLeader].map(async ([leader, indexes]) => {
    let target: KafkaWireClient
    try {
      target = leader === -1 || !clientAt ? client : await clientAt(addresses.get(leader)!)
    } catch {
      // The leader named by Metadata cannot be reached: its partitions say so.
      for (const index of indexes) for (const into of [starts, ends]) into.set(index, { errorCode: ErrorCode.LEADER_NOT_AVAILABLE, offset: -1 })
      return
    }
    const version = target.version(ApiKey.ListOffsets)
    const listOffsets = (timestamp: number) => target.request(ApiKey.ListOffsets, version, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [{ name, partitions: indexes.map((partitionIndex) => ({ partitionIndex, currentLeaderEpoch: -1, timestamp })) }],
    })
    // Pipelined: both requests are on the wire before either answer arrives.
    const [earliest, latest] = await Promise.all([listOffsets(EARLIEST_TIMESTAMP), listOffsets(LATEST_TIMESTAMP)])
    for (const [response, into] of [[earliest, starts], [latest, ends]] as const) {
      for (const p of response.topics.filter((t) => t.name === name).flatMap((t) => t.partitions)) into.set(p.partitionIndex, p)
    }
  }))
  return {
    name,
    topicId: metadataVersion >= 10 ? topic.topicId : null,
    internal: topic.isInternal,
    partitions: partitions.map((p) => {
      const start = starts.get(p.partitionIndex)
      const end = ends.get(p.partitionIndex)
      const errors = [p.errorCode, start?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR, end?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR]
        .filter((code) => code !== ErrorCode.NONE)
      return {
        partition: p.partitionIndex,
        leader: p.leaderId,
        replicas: p.replicaNodes,
        isr: p.isrNodes,
        logStartOffset: start && start.errorCode === ErrorCode.NONE ? start.offset : null,
        logEndOffset: end && end.errorCode === ErrorCode.NONE ? end.offset : null,
        error: errors.length > 0 ? errors.map(errorCodeName).join(', ') : null,
      }
    }),
  }
}

/** kafka-topics.sh --describe style: a topic line, then one line per partition. */
export function formatTopicDescription(d: TopicDescription): string {
  const lines = [`Topic: ${d.name}\tTopicId: ${d.topicId ?? '-'}\tPartitionCount: ${d.partitions.length}\tReplicationFactor: ${d.partitions[0]?.replicas.length ?? 0}`]
  for (const p of d.partitions) {
    lines.push(`\tTopic: ${d.name}\tPartition: ${p.partition}\tLeader: ${p.leader}\tReplicas: ${p.replicas.join(',')}\tIsr: ${p.isr.join(',')}` +
      `\tLogStartOffset: ${p.logStartOffset ?? '-'}\tLogEndOffset: ${p.logEndOffset ?? '-'}${p.error ? `\tError: ${p.error}` : ''}`)
  }
  return lines.join('\n')
}

/** `k=v` pairs (repeatable options) into an object; the first `=` splits. */
export function parseKeyValues(pairs: readonly string[], what: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of pairs) {
    const at = pair.indexOf('=')
    if (at <= 0) throw new TopicCommandError(`${what} must be key=value, got "${pair}"`)
    out[pair.slice(0, at)] = pair.slice(at + 1)
  }
  return out
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

function integer(what: string, min: number): (value: string) => number {
  return (value) => {
    const n = Number(value)
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) throw new TopicCommandError(`${what} must be an integer >= ${min}, got "${value}"`)
    return n
  }
}

type CommonOptions = BrokerLoginOptions

export function register(program: Command): void {
  const topics = program.command('topics').description('list, create, alter, delete and describe topics of a running broker')

  withBrokerLogin(topics.command('list'))
    .description('print every topic name, one per line')
    .option('--json', 'print a JSON array')
    .action(async (options: CommonOptions & { json?: boolean }) => {
      const names = await withWireClient(options.bootstrap, listTopics, connectOptions(options, 'ringlog-topics'))
      const text = options.json ? JSON.stringify(names) : names.join('\n')
      if (text) process.stdout.write(text + '\n')
    })

  withBrokerLogin(topics.command('create <name>'))
    .description('create a topic')
    .option('-p, --partitions <n>', 'partition count (default: the broker\'s)', integer('--partitions', 1))
    .option('--replication-factor <n>', 'replication factor (above 1 needs a cluster; a single broker accepts only 1)', integer('--replication-factor', 1))
    .option('--config <key=value>', 'topic config, e.g. retention.ms=3600000 (repeatable)', collect)
    .action(async (name: string, options: CommonOptions & { partitions?: number; replicationFactor?: number; config?: string[] }) => {
      const configs = parseKeyValues(options.config ?? [], '--config')
      const created = await withWireClient(options.bootstrap, (client) => createTopic(client, name, {
        partitions: options.partitions, replicationFactor: options.replicationFactor, configs,
      }), connectOptions(options, 'ringlog-topics'))
      process.stdout.write(`created topic ${name}${created.partitions === null ? '' : ` with ${created.partitions} partition${created.partitions === 1 ? '' : 's'}`}\n`)
    })

  withBrokerLogin(topics.command('delete <name>'))
    .description('delete a topic and its data')
    .action(async (name: string, options: CommonOptions) => {
      await withWireClient(options.bootstrap, (client) => deleteTopic(client, name), connectOptions(options, 'ringlog-topics'))
      process.stdout.write(`deleted topic ${name}\n`)
    })

  withBrokerLogin(topics.command('describe <name>'))
    .description('partitions, leader, replicas and log start/end offsets of a topic')
    .option('--configs', 'also list every config of the topic: value, source, read-only')
    .option('--json', 'print JSON')
    .action(async (name: string, options: CommonOptions & { json?: boolean; configs?: boolean }) => {
      // ListOffsets goes to each partition's leader, over connections closed when the command ends.
      const { described, configs } = await withBrokerConnections(options.bootstrap, async (client, clientAt) => {
        const topic = await describeTopic(client, name, clientAt)
        return { described: topic, configs: options.configs ? await describeTopicConfigs(client, name) : null }
      }, connectOptions(options, 'ringlog-topics'))
      process.stdout.write(formatDescribe(described, configs, options.json === true) + '\n')
    })

  withBrokerLogin(topics.command('alter <name>'))
    .description('raise the partition count, set or delete topic configs (checked by the broker before anything changes)')
    .option('-p, --partitions <n>', 'the new partition count (higher than the current one)', integer('--partitions', 1))
    .option('--config <key=value>', 'set a topic config, e.g. retention.ms=3600000 (repeatable)', collect)
    .option('--delete-config <key>', 'remove the topic\'s own value of a config, back to the default (repeatable)', collect)
    .action(async (name: string, options: CommonOptions & { partitions?: number; config?: string[]; deleteConfig?: string[] }) => {
      const alteration = { partitions: options.partitions, set: parseKeyValues(options.config ?? [], '--config'), delete: options.deleteConfig ?? [] }
      checkAlteration(alteration)
      await withWireClient(options.bootstrap, (client) => alterTopic(client, name, alteration), connectOptions(options, 'ringlog-topics'))
      process.stdout.write(describeAlteration(name, alteration) + '\n')
    })
}

function formatDescribe(described: TopicDescription, configs: TopicConfigEntry[] | null, json: boolean): string {
  if (json) return JSON.stringify(configs === null ? described : { ...described, configs }, null, 2)
  const text = formatTopicDescription(described)
  return configs === null ? text : `${text}\n\n${formatTopicConfigs(configs)}`
}
