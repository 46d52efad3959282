/**
 * The load generator's bootstrap: connect, ApiVersions (v0, which every broker answers),
 * pick the highest version both sides speak for each API, read Metadata, create the topic
 * through CreateTopics when asked, and open the connections the producers and fetchers use.
 * Single-leader view: the generator targets the leaders Metadata names, one address per node.
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import { API_CODECS, type ApiCodec } from '../../protocol/messages/index.js'
import type { ApiVersionsRequest, ApiVersionsResponse } from '../../protocol/messages/api-versions.js'
import type { CreateTopicsRequest, CreateTopicsResponse } from '../../protocol/messages/create-topics.js'
import type { FetchRequest, FetchResponse } from '../../protocol/messages/fetch.js'
import type { MetadataRequest, MetadataResponse } from '../../protocol/messages/metadata.js'
import type { ProduceRequest, ProduceResponse } from '../../protocol/messages/produce.js'
import type { ListOffsetsRequest, ListOffsetsResponse } from '../../protocol/messages/list-offsets.js'
import { WireConnection, WireConnectionError } from './wire-connection.js'

function typedCodec<Req, Res>(apiKey: number): ApiCodec<Req, Res> {
  const api = API_CODECS.get(apiKey)
  if (!api) throw new Error(`no codec for api key ${apiKey}`)
  return api as unknown as ApiCodec<Req, Res>
}

export const PRODUCE_API = typedCodec<ProduceRequest, ProduceResponse>(0)
export const FETCH_API = typedCodec<FetchRequest, FetchResponse>(1)
export const LIST_OFFSETS_API = typedCodec<ListOffsetsRequest, ListOffsetsResponse>(2)
export const METADATA_API = typedCodec<MetadataRequest, MetadataResponse>(3)
export const API_VERSIONS_API = typedCodec<ApiVersionsRequest, ApiVersionsResponse>(18)
export const CREATE_TOPICS_API = typedCodec<CreateTopicsRequest, CreateTopicsResponse>(19)

export interface BrokerAddress {
  host: string
  port: number
}

export function parseBrokerAddress(text: string): BrokerAddress {
  const match = /^\[?([^\]\s]+?)\]?:(\d+)$/.exec(text.trim())
  if (!match) throw new RangeError(`broker address must be host:port, got "${text}"`)
  return { host: match[1], port: Number(match[2]) }
}

export interface TopicLayout {
  topic: string
  /** Leader address of each partition, by partition index. */
  leaders: BrokerAddress[]
}

export interface EnsureTopicOptions {
  partitions: number
  /** Create it through CreateTopics when Metadata does not list it (default true). */
  create?: boolean
  configs?: Record<string, string>
}

export class LoadgenError extends Error {
  constructor(message: string, readonly errorCode?: number) {
    super(message)
    this.name = 'LoadgenError'
  }
}

/** A bootstrapped view of one cluster: negotiated versions, metadata, connections. */
export class LoadgenCluster {
  private readonly opened: WireConnection[] = []

  private constructor(
    readonly bootstrapAddress: BrokerAddress,
    readonly bootstrap: WireConnection,
    private readonly brokerRanges: ReadonlyMap<number, { min: number; max: number }>,
    readonly clientId: string,
  ) {}

  static async connect(address: string | BrokerAddress, clientId = 'ringlog-loadgen'): Promise<LoadgenCluster> {
    const target = typeof address === 'string' ? parseBrokerAddress(address) : address
    const connection = await WireConnection.connect(target.host, target.port, { clientId })
    try {
      const response = await connection.request(API_VERSIONS_API, 0, {})
      if (response.errorCode !== ErrorCode.NONE) throw new LoadgenError(`ApiVersions failed with error ${response.errorCode}`, response.errorCode)
      const ranges = new Map(response.apiKeys.map((k) => [k.apiKey, { min: k.minVersion, max: k.maxVersion }]))
      return new LoadgenCluster(target, connection, ranges, clientId)
    } catch (error) {
      await connection.close()
      throw error
    }
  }

  /** The highest version of `api` both the broker and ringlog's codecs speak. */
  versionFor(api: ApiCodec<unknown, unknown> | ApiCodec<never, never>): number {
    const broker = this.brokerRanges.get(api.apiKey)
    if (!broker) throw new LoadgenError(`the broker does not support ${api.name}`)
    const version = Math.min(broker.max, api.maxVersion)
    if (version < Math.max(broker.min, api.minVersion)) throw new LoadgenError(`no common ${api.name} version (broker ${broker.min}-${broker.max}, ours ${api.minVersion}-${api.maxVersion})`)
    return version
  }

  async metadata(topics: readonly string[]): Promise<MetadataResponse> {
    const version = this.versionFor(METADATA_API)
    return this.bootstrap.request(METADATA_API, version, {
      topics: topics.map((name) => ({ name })),
      ...(version >= 4 ? { allowAutoTopicCreation: false } : {}),
    })
  }

  /**
   * Returns the topic's partition leaders, creating the topic first if needed (and asked).
   * Polls Metadata briefly until every partition has a leader.
   */
  async ensureTopic(topic: string, options: EnsureTopicOptions): Promise<TopicLayout> {
    let created = false
    for (let attempt = 0; attempt < 50; attempt++) {
      const response = await this.metadata([topic])
      const entry = response.topics.find((t) => t.name === topic)
      const known = entry !== undefined && entry.errorCode !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
      if (!known && !created && options.create !== false) {
        await this.createTopic(topic, options.partitions, options.configs ?? {})
        created = true
        continue
      }
      if (entry && entry.errorCode === ErrorCode.NONE && entry.partitions.length > 0 && entry.partitions.every((p) => p.errorCode === ErrorCode.NONE && p.leaderId >= 0)) {
        return this.layout(topic, response)
      }
      if (known && entry.errorCode !== ErrorCode.NONE && entry.errorCode !== ErrorCode.LEADER_NOT_AVAILABLE) {
        throw new LoadgenError(`Metadata for ${topic} failed with error ${entry.errorCode}`, entry.errorCode)
      }
      if (!known && options.create === false) throw new LoadgenError(`topic ${topic} does not exist`, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw new LoadgenError(`topic ${topic} has no leader for every partition after 50 Metadata tries`)
  }

  async createTopic(topic: string, partitions: number, configs: Record<string, string> = {}): Promise<void> {
    const version = this.versionFor(CREATE_TOPICS_API)
    const response = await this.bootstrap.request(CREATE_TOPICS_API, version, {
      topics: [{ name: topic, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: Object.entries(configs).map(([name, value]) => ({ name, value })) }],
      timeoutMs: 30_000,
    })
    const result = response.topics.find((t) => t.name === topic)
    if (!result) throw new LoadgenError(`CreateTopics did not answer for ${topic}`)
    if (result.errorCode !== ErrorCode.NONE && result.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS) {
      throw new LoadgenError(`CreateTopics ${topic} failed with error ${result.errorCode}: ${result.errorMessage ?? ''}`, result.errorCode)
    }
  }

  /** The log end offset (latest) of each partition, via ListOffsets. */
  async endOffsets(topic: string, partitions: number): Promise<number[]> {
    const version = this.versionFor(LIST_OFFSETS_API)
    const response = await this.bootstrap.request(LIST_OFFSETS_API, version, {
      replicaId: -1,
      topics: [{ name: topic, partitions: Array.from({ length: partitions }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1 })) }],
    })
    const out = new Array<number>(partitions).fill(-1)
    for (const t of response.topics) {
      for (const p of t.partitions) {
        if (p.errorCode !== ErrorCode.NONE) throw new LoadgenError(`ListOffsets ${topic}-${p.partitionIndex} failed with error ${p.errorCode}`, p.errorCode)
        out[p.partitionIndex] = p.offset
      }
    }
    return out
  }

  /** Opens `count` new connections to `address` (default: the bootstrap broker); closed with the cluster. */
  async openConnections(count: number, address: BrokerAddress = this.bootstrapAddress): Promise<WireConnection[]> {
    const connections = await Promise.all(Array.from({ length: count }, () => WireConnection.connect(address.host, address.port, { clientId: this.clientId })))
    this.opened.push(...connections)
    return connections
  }

  async close(): Promise<void> {
    await Promise.all([...this.opened, this.bootstrap].map((c) => c.close().catch(() => undefined)))
    this.opened.length = 0
  }

  private layout(topic: string, response: MetadataResponse): TopicLayout {
    const brokers = new Map(response.brokers.map((b) => [b.nodeId, { host: b.host, port: b.port }]))
    const entry = response.topics.find((t) => t.name === topic)!
    const leaders: BrokerAddress[] = []
    for (const p of entry.partitions) {
      const advertised = brokers.get(p.leaderId)
      // A single-node cluster is reached at the address we bootstrapped from, whatever it advertises.
      leaders[p.partitionIndex] = response.brokers.length <= 1 || !advertised ? this.bootstrapAddress : advertised
    }
    for (let i = 0; i < leaders.length; i++) {
      if (!leaders[i]) throw new WireConnectionError(`Metadata lists no partition ${i} of ${topic}`)
    }
    return { topic, leaders }
  }
}
