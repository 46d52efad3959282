/**
 * `ringlog groups reset-offsets`, as kafka-consumer-groups.sh --reset-offsets does it: only while
 * the group is inactive (Empty or Dead; otherwise Kafka's own refusal), a plan of new committed
 * offsets per partition computed from ListOffsets (asked of each partition's leader) and the
 * group's current commits, and, with --execute, one OffsetCommit to the group's coordinator
 * outside any generation (the "simple" commit an admin client makes).
 *
 * Scenarios: earliest and latest (ListOffsets -2 / -1), an offset, a shift of the current commit,
 * a datetime (the first offset at or after it, the log end when nothing is). An offset or shift
 * past either end is moved to that end, as Kafka does, with a warning.
 */
import { errorFromCode } from '../errors.js'
import { ErrorCode, errorCodeName } from '../protocol/error-codes.js'
import { ApiKey, type KafkaWireClient } from '../kafka-client/kafka-wire-client.js'
import type { NodeConnections } from '../kafka-client/node-connections.js'
import { loadPartitionLayout, sendToLeaders, type PartitionLayout, type TopicPartition } from '../kafka-client/partition-leaders.js'
import { formatTable } from './table.js'

export type ResetScenario =
  | { kind: 'earliest' }
  | { kind: 'latest' }
  | { kind: 'offset'; offset: number }
  | { kind: 'datetime'; timestamp: number }
  | { kind: 'shift'; by: number }

/** A topic to reset: all its partitions (null) or the ones named. */
export interface TopicScope { topic: string; partitions: number[] | null }

export interface PlannedOffset {
  topic: string
  partition: number
  /** The group's committed offset now, null when it has none. */
  currentOffset: number | null
  newOffset: number
}

export interface ResetPlan {
  groupId: string
  state: string
  offsets: PlannedOffset[]
  /** What was adjusted on the way (an offset past the log end moved to it, ...). */
  warnings: string[]
}

export class ResetOffsetsError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ResetOffsetsError'
  }
}

const EARLIEST_TIMESTAMP = -2
const LATEST_TIMESTAMP = -1
const NO_OFFSET = -1
/** Group states in which Kafka lets offsets be reset. */
const INACTIVE_STATES = new Set(['Empty', 'Dead'])
/** OffsetFetch v8+ asks for groups in a batched form; one group per request is all needed here. */
const OFFSET_FETCH_SINGLE_GROUP_MAX = 7

/**
 * `T` (every partition) or `T:0,2` (those partitions), as kafka-consumer-groups.sh --topic takes it.
 * A topic name cannot contain ':', so the last ':' splits.
 */
export function parseTopicScope(arg: string): TopicScope {
  const at = arg.lastIndexOf(':')
  if (at < 0) {
    if (arg === '') throw new ResetOffsetsError('--topic needs a topic name')
    return { topic: arg, partitions: null }
  }
  const topic = arg.slice(0, at)
  const list = arg.slice(at + 1)
  if (topic === '') throw new ResetOffsetsError(`invalid topic arg '${arg}', expected topic name and partitions`)
  const partitions = list.split(',').map((p) => {
    const n = Number(p)
    if (!/^\d+$/.test(p.trim()) || !Number.isSafeInteger(n)) throw new ResetOffsetsError(`invalid partition '${p}' in topic arg '${arg}'`)
    return n
  })
  return { topic, partitions: [...new Set(partitions)].sort((a, b) => a - b) }
}

/**
 * An ISO-8601 date-time, `2024-05-01T12:00:00`, optionally with seconds' fraction and a zone
 * (`Z`, `+02:00`, `+0200`); without a zone it is local time, as kafka-consumer-groups.sh reads it.
 */
export function parseDateTime(text: string): number {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?)(Z|[+-]\d{2}:?\d{2})?$/.exec(text.trim())
  const zone = match?.[2]?.replace(/^([+-]\d{2})(\d{2})$/, '$1:$2') ?? ''
  const ms = match ? Date.parse(match[1] + zone) : Number.NaN
  if (!Number.isFinite(ms)) throw new ResetOffsetsError(`--to-datetime must be an ISO date-time such as 2024-05-01T12:00:00.000Z, got "${text}"`)
  return ms
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`
}

function check(errorCode: number, what: string, message?: string | null): void {
  if (errorCode !== ErrorCode.NONE) throw errorFromCode(errorCode, `${what}: ${errorCodeName(errorCode)}${message ? ` (${message})` : ''}`)
}

/** The group's state; refuses (with Kafka's message) unless it is inactive. */
async function inactiveGroupState(client: KafkaWireClient, groupId: string): Promise<string> {
  const version = client.version(ApiKey.DescribeGroups, { max: 5 })
  const response = await client.request(ApiKey.DescribeGroups, version, { groups: [groupId], includeAuthorizedOperations: false })
  const group = response.groups.find((g) => g.groupId === groupId) ?? response.groups[0]
  if (!group) throw new ResetOffsetsError(`DescribeGroups returned nothing for "${groupId}"`)
  check(group.errorCode, `cannot describe group "${groupId}"`)
  if (!INACTIVE_STATES.has(group.groupState)) {
    throw new ResetOffsetsError(`Assignments can only be reset if the group '${groupId}' is inactive, but the current state is ${group.groupState}.`)
  }
  return group.groupState
}

/** The group's committed offsets: of the given partitions, or (null) of everything it has committed. */
async function committedOffsets(client: KafkaWireClient, groupId: string, partitions: readonly TopicPartition[] | null): Promise<Map<string, { topic: string; partition: number; offset: number }>> {
  const version = client.version(ApiKey.OffsetFetch, { min: 2, max: OFFSET_FETCH_SINGLE_GROUP_MAX })
  const byTopic = new Map<string, number[]>()
  for (const p of partitions ?? []) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p.partition])
  const response = await client.request(ApiKey.OffsetFetch, version, {
    groupId,
    topics: partitions === null ? null : [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
  })
  check(response.errorCode, `cannot fetch the offsets of group "${groupId}"`)
  const out = new Map<string, { topic: string; partition: number; offset: number }>()
  for (const t of response.topics) {
    for (const p of t.partitions) {
      if (p.errorCode === ErrorCode.NONE && p.committedOffset !== NO_OFFSET) out.set(key(t.name, p.partitionIndex), { topic: t.name, partition: p.partitionIndex, offset: p.committedOffset })
    }
  }
  return out
}

/** Every partition the scopes name, checked against the topics' partition counts. */
function resolvePartitions(layout: PartitionLayout, scopes: readonly TopicScope[]): TopicPartition[] {
  const seen = new Set<string>()
  const out: TopicPartition[] = []
  for (const scope of scopes) {
    const count = layout.partitionCounts.get(scope.topic)
    if (count === undefined) throw errorFromCode(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${scope.topic}" does not exist`)
    const partitions = scope.partitions ?? Array.from({ length: count }, (_, i) => i)
    for (const partition of partitions) {
      if (partition >= count) throw errorFromCode(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${scope.topic}" has no partition ${partition} (it has ${count})`)
      if (seen.has(key(scope.topic, partition))) continue
      seen.add(key(scope.topic, partition))
      out.push({ topic: scope.topic, partition })
    }
  }
  return out
}

/** ListOffsets at `timestamp` (-2 earliest, -1 latest, else a time) from each partition's leader; -1 where none is found. */
async function listOffsets(nodes: NodeConnections, layout: PartitionLayout, partitions: readonly TopicPartition[], timestamp: number): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  await sendToLeaders(nodes, layout, partitions, async (leader, led) => {
    const byTopic = new Map<string, number[]>()
    for (const p of led) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p.partition])
    const response = await leader.request(ApiKey.ListOffsets, leader.version(ApiKey.ListOffsets, { min: 1 }), {
      replicaId: -1,
      isolationLevel: 0,
      topics: [...byTopic].map(([name, indexes]) => ({ name, partitions: indexes.map((partitionIndex) => ({ partitionIndex, currentLeaderEpoch: -1, timestamp })) })),
    })
    for (const t of response.topics) {
      for (const p of t.partitions) {
        check(p.errorCode, `cannot list offsets of ${t.name}-${p.partitionIndex}`)
        out.set(key(t.name, p.partitionIndex), p.offset)
      }
    }
  })
  for (const p of partitions) if (!out.has(key(p.topic, p.partition))) throw new ResetOffsetsError(`ListOffsets returned nothing for ${p.topic}-${p.partition}`)
  return out
}

/**
 * The new offsets for `groupId`, asked of its coordinator (`client`) and of the partitions'
 * leaders (through `nodes`): `scopes` null means every partition the group has committed
 * (--all-topics). Refuses while the group is active. Changes nothing.
 */
export async function planReset(client: KafkaWireClient, nodes: NodeConnections, groupId: string, scopes: readonly TopicScope[] | null, scenario: ResetScenario): Promise<ResetPlan> {
  const state = await inactiveGroupState(client, groupId)
  const committedBefore = scopes === null ? [...(await committedOffsets(client, groupId, null)).values()] : []
  const layout = await loadPartitionLayout(nodes.bootstrap, scopes === null ? committedBefore.map((c) => c.topic) : scopes.map((s) => s.topic))
  const partitions = scopes === null ? committedBefore.map(({ topic, partition }) => ({ topic, partition })) : resolvePartitions(layout, scopes)
  if (partitions.length === 0) throw new ResetOffsetsError(`group "${groupId}" has no committed offsets to reset (name the partitions with --topic)`)
  const current = await committedOffsets(client, groupId, partitions)
  const warnings: string[] = []
  const [starts, ends] = await Promise.all([listOffsets(nodes, layout, partitions, EARLIEST_TIMESTAMP), listOffsets(nodes, layout, partitions, LATEST_TIMESTAMP)])
  const byTime = scenario.kind === 'datetime' ? await listOffsets(nodes, layout, partitions, scenario.timestamp) : null

  const offsets = partitions.map(({ topic, partition }): PlannedOffset => {
    const k = key(topic, partition)
    const start = starts.get(k)!
    const end = ends.get(k)!
    const currentOffset = current.get(k)?.offset ?? null
    const clamp = (wanted: number): number => {
      if (wanted > end) {
        warnings.push(`New offset (${wanted}) is higher than latest offset for topic partition ${topic}-${partition}. Value will be set to ${end}`)
        return end
      }
      if (wanted < start) {
        warnings.push(`New offset (${wanted}) is lower than earliest offset for topic partition ${topic}-${partition}. Value will be set to ${start}`)
        return start
      }
      return wanted
    }
    let newOffset: number
    switch (scenario.kind) {
      case 'earliest': newOffset = start; break
      case 'latest': newOffset = end; break
      case 'offset': newOffset = clamp(scenario.offset); break
      case 'shift':
        if (currentOffset === null) throw new ResetOffsetsError(`Cannot shift offset for partition ${topic}-${partition} since there is no current committed offset`)
        newOffset = clamp(currentOffset + scenario.by)
        break
      case 'datetime': {
        const found = byTime!.get(k)!
        if (found === NO_OFFSET) warnings.push(`Partition ${partition} from topic ${topic} has no record at or after that time. Falling back to latest known offset.`)
        newOffset = found === NO_OFFSET ? end : found
        break
      }
    }
    return { topic, partition, currentOffset, newOffset }
  })
  offsets.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
  return { groupId, state, offsets, warnings }
}

/** Commits the plan's offsets for the group, outside any generation (the group must have no members). */
export async function executeReset(client: KafkaWireClient, plan: ResetPlan): Promise<void> {
  const byTopic = new Map<string, PlannedOffset[]>()
  for (const p of plan.offsets) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p])
  const version = client.version(ApiKey.OffsetCommit, { min: 2 })
  const response = await client.request(ApiKey.OffsetCommit, version, {
    groupId: plan.groupId,
    generationIdOrMemberEpoch: -1,
    memberId: '',
    groupInstanceId: null,
    retentionTimeMs: -1,
    topics: [...byTopic].map(([name, partitions]) => ({
      name,
      partitions: partitions.map((p) => ({ partitionIndex: p.partition, committedOffset: p.newOffset, committedLeaderEpoch: -1, committedMetadata: '' })),
    })),
  })
  for (const t of response.topics) {
    for (const p of t.partitions) check(p.errorCode, `cannot commit the new offset of ${t.name}-${p.partitionIndex} for group "${plan.groupId}"`)
  }
}

/** kafka-consumer-groups.sh's plan table: GROUP, TOPIC, PARTITION, NEW-OFFSET. */
export function formatResetPlan(plan: ResetPlan): string {
  return formatTable(['GROUP', 'TOPIC', 'PARTITION', 'NEW-OFFSET'], plan.offsets.map((p) => [plan.groupId, p.topic, p.partition, p.newOffset]))
}
