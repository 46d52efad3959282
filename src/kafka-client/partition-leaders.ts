/**
 * Where each partition's leader is, from one Metadata request, and sending partition requests
 * (ListOffsets, DeleteRecords) to those leaders: a broker that does not lead a partition answers
 * NOT_LEADER_OR_FOLLOWER for it. On a single broker every leader is the bootstrap broker itself.
 */
import { errorFromCode } from '../errors.js'
import { ErrorCode, errorCodeName } from '../protocol/error-codes.js'
import { ApiKey, type KafkaWireClient } from './kafka-wire-client.js'
import type { NodeConnections } from './node-connections.js'

export interface TopicPartition { topic: string; partition: number }

export interface PartitionLayout {
  /** Partition count per topic. */
  partitionCounts: ReadonlyMap<string, number>
  /** Leader node id per `topic\0partition` (-1: none now). */
  leaders: ReadonlyMap<string, number>
  brokers: ReadonlyMap<number, { host: string; port: number }>
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`
}

/** Metadata of `topics`; an unknown topic is UnknownTopicOrPartitionError `topic "x" does not exist`. */
export async function loadPartitionLayout(client: KafkaWireClient, topics: readonly string[]): Promise<PartitionLayout> {
  const names = [...new Set(topics)]
  const version = client.version(ApiKey.Metadata, { min: 1 })
  const request = names.map((name) => ({ name }))
  const response = await client.request(ApiKey.Metadata, version, version >= 4 ? { topics: request, allowAutoTopicCreation: false } : { topics: request })
  const partitionCounts = new Map<string, number>()
  const leaders = new Map<string, number>()
  for (const t of response.topics) {
    if (t.name === null || !names.includes(t.name)) continue
    if (t.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) throw errorFromCode(t.errorCode, `topic "${t.name}" does not exist`)
    if (t.errorCode !== ErrorCode.NONE) throw errorFromCode(t.errorCode, `cannot get the metadata of topic "${t.name}": ${errorCodeName(t.errorCode)}`)
    partitionCounts.set(t.name, t.partitions.length)
    for (const p of t.partitions) leaders.set(partitionKey(t.name, p.partitionIndex), p.leaderId)
  }
  for (const name of names) {
    if (!partitionCounts.has(name)) throw errorFromCode(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${name}" does not exist`)
  }
  const brokers = new Map(response.brokers.map((b) => [b.nodeId, { host: b.host, port: b.port }]))
  return { partitionCounts, leaders, brokers }
}

/**
 * Runs `send` once per leader with the partitions it leads (in the order given), concurrently,
 * and resolves with every answer. A partition without a known leader is LeaderNotAvailableError.
 */
export async function sendToLeaders<T>(nodes: NodeConnections, layout: PartitionLayout, partitions: readonly TopicPartition[], send: (leader: KafkaWireClient, partitions: TopicPartition[]) => Promise<T>): Promise<T[]> {
  const byLeader = new Map<number, TopicPartition[]>()
  for (const p of partitions) {
    const leader = layout.leaders.get(partitionKey(p.topic, p.partition)) ?? -1
    if (leader < 0 || !layout.brokers.has(leader)) throw errorFromCode(ErrorCode.LEADER_NOT_AVAILABLE, `${p.topic}-${p.partition} has no leader now`)
    byLeader.set(leader, [...(byLeader.get(leader) ?? []), p])
  }
  return Promise.all([...byLeader].map(async ([leader, led]) => {
    const { host, port } = layout.brokers.get(leader)!
    return send(await nodes.to(host, port), led)
  }))
}
