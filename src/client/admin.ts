/**
 * The embedded admin, shaped like kafkajs's: topics (create, delete, list, metadata),
 * partition offsets (by position and by timestamp) and consumer groups (describe, list,
 * committed offsets). Topic changes go through the node context, the same path the wire
 * handlers use.
 */
import { InvalidPartitionsError, validateTopicName } from '../core/topic-registry.js'
import { errorForCode, InvalidRequestError, TopicAlreadyExistsError } from '../errors.js'
import { validateTopicConfigs } from '../core/topic-settings.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { assertLogOpen, type LogHost } from './log-host.js'
import type {
  CreateTopicsOptions, GroupDescription, GroupOffsets, PartitionOffsetsInfo, TopicMetadata,
} from './types.js'

export class Admin {
  constructor(private readonly host: LogHost) {}

  /** Nothing to connect in-process; kept so kafkajs code runs unchanged. */
  async connect(): Promise<void> {
    assertLogOpen(this.host)
  }

  async disconnect(): Promise<void> {}

  /**
   * Creates the topics; like kafkajs, resolves true if all were created and false if some
   * already existed (those are left as they are). Invalid names or settings throw.
   */
  async createTopics(options: CreateTopicsOptions): Promise<boolean> {
    assertLogOpen(this.host)
    if (!options || !Array.isArray(options.topics)) throw new InvalidRequestError('createTopics needs { topics: [...] }')
    const context = this.host.context
    const plans = options.topics.map((t) => {
      validateTopicName(t.topic)
      const partitions = t.numPartitions === undefined || t.numPartitions === -1 ? context.config.numPartitions : t.numPartitions
      if (!Number.isInteger(partitions) || partitions < 1) throw new InvalidPartitionsError(`numPartitions must be a positive integer, got ${String(t.numPartitions)}`)
      if (t.replicationFactor !== undefined && t.replicationFactor !== 1 && t.replicationFactor !== -1) {
        throw errorForCode(ErrorCode.INVALID_REPLICATION_FACTOR, `replicationFactor ${t.replicationFactor}: this log has one replica`, `topic "${t.topic}"`)
      }
      const configs = Object.fromEntries((t.configEntries ?? []).map((e) => [e.name, e.value]))
      validateTopicConfigs(configs)
      return { name: t.topic, partitions, configs }
    })
    if (options.validateOnly) return true
    let allCreated = true
    for (const plan of plans) {
      try {
        await context.createTopic(plan.name, plan.partitions, plan.configs)
      } catch (error) {
        if (!(error instanceof TopicAlreadyExistsError)) throw error
        allCreated = false
      }
    }
    return allCreated
  }

  /** Deletes the topics and their data; an unknown topic throws UnknownTopicOrPartitionError. */
  async deleteTopics(options: { topics: string[] }): Promise<void> {
    assertLogOpen(this.host)
    if (!options || !Array.isArray(options.topics)) throw new InvalidRequestError('deleteTopics needs { topics: [...] }')
    for (const topic of options.topics) this.host.context.topics.require(topic)
    for (const topic of options.topics) await this.host.context.deleteTopic(topic)
  }

  async listTopics(): Promise<string[]> {
    assertLogOpen(this.host)
    return this.host.context.topics.list().map((t) => t.name)
  }

  async fetchTopicMetadata(options: { topics?: string[] } = {}): Promise<{ topics: TopicMetadata[] }> {
    assertLogOpen(this.host)
    const registry = this.host.context.topics
    const infos = options.topics ? options.topics.map((t) => registry.require(t)) : registry.list()
    const nodeId = this.host.context.config.nodeId
    return {
      topics: infos.map((info) => ({
        name: info.name,
        partitions: Array.from({ length: info.partitions }, (_, partitionId) => ({
          partitionErrorCode: 0, partitionId, leader: nodeId, replicas: [nodeId], isr: [nodeId],
        })),
      })),
    }
  }

  /** Per partition: `offset` and `high` are the high watermark, `low` the log start offset. */
  async fetchTopicOffsets(topic: string): Promise<PartitionOffsetsInfo[]> {
    assertLogOpen(this.host)
    const info = this.host.context.topics.require(topic)
    return Array.from({ length: info.partitions }, (_, partition) => {
      const offsets = this.partitionOffsets(topic, partition)
      return { partition, offset: String(offsets.highWatermark), high: String(offsets.highWatermark), low: String(offsets.logStartOffset) }
    })
  }

  /**
   * Per partition, the first offset whose timestamp is >= `timestamp`; the high watermark when
   * there is none (as kafkajs reports it). Without a timestamp: the high watermark.
   */
  async fetchTopicOffsetsByTimestamp(topic: string, timestamp?: number): Promise<{ partition: number; offset: string }[]> {
    assertLogOpen(this.host)
    const info = this.host.context.topics.require(topic)
    if (timestamp !== undefined && !Number.isSafeInteger(timestamp)) throw new InvalidRequestError(`timestamp must be whole milliseconds, got ${timestamp}`)
    const engine = this.host.context.engine
    return Promise.all(Array.from({ length: info.partitions }, async (_, partition) => {
      const high = this.partitionOffsets(topic, partition).highWatermark
      if (timestamp === undefined) return { partition, offset: String(high) }
      const found = await engine.offsetForTimestamp(topic, partition, timestamp)
      return { partition, offset: String(found && found.offset < high ? found.offset : high) }
    }))
  }

  async listGroups(): Promise<{ groups: { groupId: string; protocolType: string }[] }> {
    assertLogOpen(this.host)
    const groups = await this.host.context.groups.listGroups()
    return { groups: groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType })) }
  }

  async describeGroups(groupIds: string[]): Promise<{ groups: GroupDescription[] }> {
    assertLogOpen(this.host)
    const described = await this.host.context.groups.describeGroups(groupIds)
    return {
      groups: described.map((g) => ({
        groupId: g.groupId,
        state: g.state,
        protocolType: g.protocolType,
        protocol: g.protocolName,
        errorCode: g.errorCode,
        members: g.members.map((m) => ({
          memberId: m.memberId, clientId: m.clientId, clientHost: m.clientHost, memberMetadata: m.metadata, memberAssignment: m.assignment,
        })),
      })),
    }
  }

  /** Committed offsets of a group ('-1' where none), for the given topics or every topic it committed. */
  async fetchOffsets(options: { groupId: string; topics?: string[] }): Promise<GroupOffsets[]> {
    assertLogOpen(this.host)
    if (!options || typeof options.groupId !== 'string' || options.groupId === '') throw new InvalidRequestError('fetchOffsets needs a groupId')
    const registry = this.host.context.topics
    const partitions = options.topics
      ? options.topics.flatMap((topic) => Array.from({ length: registry.require(topic).partitions }, (_, partition) => ({ topic, partition })))
      : null
    const fetched = await this.host.context.groups.fetchOffsets(options.groupId, partitions)
    if (fetched.errorCode !== ErrorCode.NONE) throw errorForCode(fetched.errorCode, null, `fetching offsets of group "${options.groupId}"`)
    const byTopic = new Map<string, GroupOffsets['partitions']>()
    for (const p of fetched.partitions) {
      if (!byTopic.has(p.topic)) byTopic.set(p.topic, [])
      byTopic.get(p.topic)!.push({ partition: p.partition, offset: String(p.offset), metadata: p.metadata === '' ? null : p.metadata })
    }
    return [...byTopic].map(([topic, list]) => ({ topic, partitions: list.sort((a, b) => a.partition - b.partition) }))
  }

  /** Sets a group's committed offsets; the group must have no active members (as in Kafka). */
  async setOffsets(options: { groupId: string; topic: string; partitions: { partition: number; offset: string }[] }): Promise<void> {
    assertLogOpen(this.host)
    this.host.context.topics.require(options.topic)
    const results = await this.host.context.groups.commitOffsets({
      groupId: options.groupId, memberId: '', generationId: -1,
      offsets: options.partitions.map((p) => ({ topic: options.topic, partition: p.partition, offset: Number(p.offset) })),
    })
    const failed = results.find((r) => r.errorCode !== ErrorCode.NONE)
    if (failed) throw errorForCode(failed.errorCode, null, `setting offsets of group "${options.groupId}"`)
  }

  private partitionOffsets(topic: string, partition: number): { logStartOffset: number; highWatermark: number } {
    return this.host.context.engine.offsets(topic, partition) ?? { logStartOffset: 0, highWatermark: 0 }
  }
}
