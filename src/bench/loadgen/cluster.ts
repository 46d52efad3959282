/**
 * The load generator's bootstrap: connect, negotiate ApiVersions (the shared wire client picks
 * the highest version both sides speak for each API), read Metadata, create the topic
 * through CreateTopics when asked, and open the connections the producers and fetchers use.
 * Single-leader view: the generator targets the leaders Metadata names, one address per node.
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { MetadataResponse } from '../../protocol/messages/metadata.js'
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls'
import { ApiKey, codecFor, KafkaWireClient, parseHostPort, type KnownApiKey } from '../../kafka-client/kafka-wire-client.js'

export const PRODUCE_API = codecFor(ApiKey.Produce)
export const FETCH_API = codecFor(ApiKey.Fetch)
export const LIST_OFFSETS_API = codecFor(ApiKey.ListOffsets)
export const METADATA_API = codecFor(ApiKey.Metadata)
export const API_VERSIONS_API = codecFor(ApiKey.ApiVersions)
export const CREATE_TOPICS_API = codecFor(ApiKey.CreateTopics)

export interface BrokerAddress {
  host: string
  port: number
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
  /** Replication factor when it is created (default 1). */
  replicationFactor?: number
}

export class LoadgenError extends Error {
  constructor(message: string, readonly errorCode?: number) {
    super(message)
    this.name = 'LoadgenError'
  }
}

/** A bootstrapped view of one cluster: negotiated versions, metadata, connections. */
export class LoadgenCluster {
  private readonly opened: KafkaWireClient[] = []

  private constructor(readonly bootstrapAddress: BrokerAddress, readonly bootstrap: KafkaWireClient, readonly clientId: string, private readonly tls: TlsConnectionOptions | undefined) {}

  /** `tls`: every connection of this cluster speaks TLS (an SSL listener) with these options. */
  static async connect(address: string | BrokerAddress, clientId = 'ringlog-loadgen', tls?: TlsConnectionOptions): Promise<LoadgenCluster> {
    const target = typeof address === 'string' ? parseHostPort(address) : address
    const connection = await KafkaWireClient.connect(target.host, target.port, { clientId, tls })
    try {
      await connection.negotiate()
      return new LoadgenCluster(target, connection, clientId, tls)
    } catch (error) {
      await connection.close()
      throw error
    }
  }

  /** The highest version of `apiKey` both the broker and ringlog's codecs speak. */
  versionFor(apiKey: KnownApiKey): number {
    return this.bootstrap.version(apiKey)
  }

  async metadata(topics: readonly string[]): Promise<MetadataResponse> {
    const version = this.versionFor(ApiKey.Metadata)
    return this.bootstrap.request(ApiKey.Metadata, version, {
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
    for (let attempt = 0; attempt < 300; attempt++) {
      const response = await this.metadata([topic])
      const entry = response.topics.find((t) => t.name === topic)
      const known = entry !== undefined && entry.errorCode !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
      if (!known && !created && options.create !== false) {
        // A fresh cluster's brokers learn of each other from etcd a moment after they listen: a
        // replication factor above the brokers this one has seen would be refused (error 38).
        if (response.brokers.length < (options.replicationFactor ?? 1)) {
          await new Promise((resolve) => setTimeout(resolve, 100))
          continue
        }
        await this.createTopic(topic, options.partitions, options.configs ?? {}, options.replicationFactor ?? 1)
        created = true
        continue
      }
      if (entry && entry.errorCode === ErrorCode.NONE && entry.partitions.length > 0 && entry.partitions.every((p) => p.errorCode === ErrorCode.NONE && p.leaderId >= 0)) {
        const layout = this.layout(topic, response)
        // In a cluster Metadata names a leader a moment before it takes the role: ask each.
        if (response.brokers.length <= 1 || await this.leadersServe(layout)) return layout
        await new Promise((resolve) => setTimeout(resolve, 100))
        continue
      }
      if (known && entry.errorCode !== ErrorCode.NONE && entry.errorCode !== ErrorCode.LEADER_NOT_AVAILABLE) {
        throw new LoadgenError(`Metadata for ${topic} failed with error ${entry.errorCode}`, entry.errorCode)
      }
      if (!known && options.create === false) throw new LoadgenError(`topic ${topic} does not exist`, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw new LoadgenError(`topic ${topic} has no leader for every partition after 300 Metadata tries (30 s)`)
  }

  async createTopic(topic: string, partitions: number, configs: Record<string, string> = {}, replicationFactor = 1): Promise<void> {
    const version = this.versionFor(ApiKey.CreateTopics)
    const response = await this.bootstrap.request(ApiKey.CreateTopics, version, {
      topics: [{ name: topic, numPartitions: partitions, replicationFactor, assignments: [], configs: Object.entries(configs).map(([name, value]) => ({ name, value })) }],
      timeoutMs: 30_000,
    })
    const result = response.topics.find((t) => t.name === topic)
    if (!result) throw new LoadgenError(`CreateTopics did not answer for ${topic}`)
    if (result.errorCode !== ErrorCode.NONE && result.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS) {
      throw new LoadgenError(`CreateTopics ${topic} failed with error ${result.errorCode}: ${result.errorMessage ?? ''}`, result.errorCode)
    }
  }

  /** Whether every partition's leader answers ListOffsets for it without an error (it has taken the role). */
  private async leadersServe(layout: TopicLayout): Promise<boolean> {
    const version = this.versionFor(ApiKey.ListOffsets)
    for (let partitionIndex = 0; partitionIndex < layout.leaders.length; partitionIndex++) {
      const leader = layout.leaders[partitionIndex]
      const connection = await KafkaWireClient.connect(leader.host, leader.port, { clientId: this.clientId, tls: this.tls })
      try {
        const response = await connection.request(ApiKey.ListOffsets, version, {
          replicaId: -1, topics: [{ name: layout.topic, partitions: [{ partitionIndex, timestamp: -1 }] }],
        })
        if (response.topics.some((t) => t.partitions.some((p) => p.errorCode !== ErrorCode.NONE))) return false
      } finally {
        await connection.close()
      }
    }
    return true
  }

  /** The log end offset (latest) of each partition, via ListOffsets. */
  async endOffsets(topic: string, partitions: number): Promise<number[]> {
    const version = this.versionFor(ApiKey.ListOffsets)
    const response = await this.bootstrap.request(ApiKey.ListOffsets, version, {
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
  async openConnections(count: number, address: BrokerAddress = this.bootstrapAddress): Promise<KafkaWireClient[]> {
    const connections = await Promise.all(Array.from({ length: count }, () => KafkaWireClient.connect(address.host, address.port, { clientId: this.clientId, tls: this.tls })))
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
      if (!leaders[i]) throw new LoadgenError(`Metadata lists no partition ${i} of ${topic}`)
    }
    return { topic, leaders }
  }
}
