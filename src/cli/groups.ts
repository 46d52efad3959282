/**
 * `ringlog groups list | describe | reset-offsets | delete`: consumer groups of a running broker
 * over the Kafka wire protocol (ListGroups, DescribeGroups, OffsetFetch and ListOffsets through
 * the generated codecs; reset-offsets in group-offsets-reset.ts; delete with DeleteGroups), like
 * kafka-consumer-groups.sh. reset-offsets and delete talk to the group's coordinator
 * (FindCoordinator), which in a cluster may be another node than the bootstrap one.
 *
 * describe prints the members (member id, client id, host, assigned partitions decoded from
 * their ConsumerProtocol assignment) and, per partition the group is assigned or has
 * committed, the committed offset, the log end offset (high watermark) and the lag.
 * `--json` prints the same as one JSON document.
 */
import type { Command } from 'commander'
import { errorFromCode } from '../errors.js'
import { decodeAssignment, consumerProtocolType } from '../groups/consumer-protocol.js'
import { ErrorCode, errorCodeName } from '../protocol/error-codes.js'
import { ApiKey, type KafkaWireClient } from '../kafka-client/kafka-wire-client.js'
import { DEFAULT_BOOTSTRAP, withWireClient } from '../kafka-client/negotiated-client.js'
import { coordinatorConnection } from '../kafka-client/coordinator-connection.js'
import { NodeConnections } from '../kafka-client/node-connections.js'
import { executeReset, formatResetPlan, parseDateTime, parseTopicScope, planReset, type ResetPlan, type ResetScenario, type TopicScope } from './group-offsets-reset.js'
import { formatTable } from './table.js'

/** Versions spoken: the newest non-flexible ones that carry everything shown here (ListGroups v4 for states). */
const VERSIONS = { listGroups: 4, describeGroups: 4, offsetFetch: 5, listOffsets: 5 } as const
const LATEST_TIMESTAMP = -1
const NO_OFFSET = -1

export interface GroupListing {
  groupId: string
  protocolType: string
  state: string
}

export interface GroupMemberDescription {
  memberId: string
  groupInstanceId: string | null
  clientId: string
  host: string
  assignment: { topic: string; partitions: number[] }[]
}

export interface GroupPartitionDescription {
  topic: string
  partition: number
  /** The member the partition is assigned to, or null. */
  memberId: string | null
  clientId: string | null
  host: string | null
  /** null when the group has committed nothing for the partition. */
  committedOffset: number | null
  /** The high watermark; null if the broker does not know the partition. */
  logEndOffset: number | null
  /** logEndOffset - committedOffset, null when either is unknown. */
  lag: number | null
}

export interface GroupDescription {
  groupId: string
  state: string
  protocolType: string
  /** The assignor the group settled on ('' unless Stable). */
  protocol: string
  members: GroupMemberDescription[]
  partitions: GroupPartitionDescription[]
}

export class GroupCommandError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'GroupCommandError'
  }
}

function withConnection<T>(bootstrap: string, use: (connection: KafkaWireClient) => Promise<T>): Promise<T> {
  return withWireClient(bootstrap, use, { clientId: 'ringlog-groups', connectTimeoutMs: 5000 })
}

function check(errorCode: number, what: string): void {
  if (errorCode !== ErrorCode.NONE) throw errorFromCode(errorCode, `${what} failed: ${errorCodeName(errorCode)} (${errorCode})`)
}

/** Every group the broker coordinates, sorted by id; `states` filters by state name. */
export async function listGroups(bootstrap: string, states: readonly string[] = []): Promise<GroupListing[]> {
  return withConnection(bootstrap, async (connection) => {
    const response = await connection.request(ApiKey.ListGroups, VERSIONS.listGroups, { statesFilter: states })
    check(response.errorCode, 'ListGroups')
    return response.groups
      .map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, state: g.groupState }))
      .sort((a, b) => a.groupId.localeCompare(b.groupId))
  })
}

export async function describeGroup(bootstrap: string, groupId: string): Promise<GroupDescription> {
  return withConnection(bootstrap, async (connection) => {
    const described = await connection.request(ApiKey.DescribeGroups, VERSIONS.describeGroups, { groups: [groupId] })
    const group = described.groups[0]
    if (!group) throw new GroupCommandError('DescribeGroups returned no group')
    check(group.errorCode, `DescribeGroups for "${groupId}"`)
    const committed = await connection.request(ApiKey.OffsetFetch, VERSIONS.offsetFetch, { groupId, topics: null })
    check(committed.errorCode, `OffsetFetch for "${groupId}"`)
    if (group.groupState === 'Dead' && committed.topics.length === 0) throw new GroupCommandError(`group "${groupId}" does not exist`)

    const members: GroupMemberDescription[] = group.members.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      host: m.clientHost,
      assignment: group.protocolType === consumerProtocolType ? assignedPartitions(m.memberAssignment) : [],
    }))
    const rows = new Map<string, GroupPartitionDescription>()
    const row = (topic: string, partition: number): GroupPartitionDescription => {
      const key = `${topic}\u0000${partition}`
      let found = rows.get(key)
      if (!found) {
        found = { topic, partition, memberId: null, clientId: null, host: null, committedOffset: null, logEndOffset: null, lag: null }
        rows.set(key, found)
      }
      return found
    }
    for (const member of members) {
      for (const { topic, partitions } of member.assignment) {
        for (const partition of partitions) Object.assign(row(topic, partition), { memberId: member.memberId, clientId: member.clientId, host: member.host })
      }
    }
    for (const t of committed.topics) {
      for (const p of t.partitions) {
        if (p.errorCode === ErrorCode.NONE && p.committedOffset !== NO_OFFSET) row(t.name, p.partitionIndex).committedOffset = p.committedOffset
        else row(t.name, p.partitionIndex)
      }
    }
    await fillLogEndOffsets(connection, [...rows.values()])
    for (const r of rows.values()) {
      if (r.committedOffset !== null && r.logEndOffset !== null) r.lag = Math.max(0, r.logEndOffset - r.committedOffset)
    }
    const partitions = [...rows.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
    return { groupId: group.groupId, state: group.groupState, protocolType: group.protocolType, protocol: group.protocolData, members, partitions }
  })
}

function assignedPartitions(bytes: Buffer): { topic: string; partitions: number[] }[] {
  if (bytes.length === 0) return []
  try {
    return decodeAssignment(bytes).partitions.map((p) => ({ topic: p.topic, partitions: [...p.partitions].sort((a, b) => a - b) }))
  } catch {
    // Not a ConsumerProtocol assignment after all (a custom protocol under type "consumer").
    return []
  }
}

async function fillLogEndOffsets(connection: KafkaWireClient, rows: GroupPartitionDescription[]): Promise<void> {
  if (rows.length === 0) return
  const byTopic = new Map<string, number[]>()
  for (const r of rows) {
    const list = byTopic.get(r.topic) ?? []
    list.push(r.partition)
    byTopic.set(r.topic, list)
  }
  const response = await connection.request(ApiKey.ListOffsets, VERSIONS.listOffsets, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [...byTopic].map(([name, partitions]) => ({ name, partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp: LATEST_TIMESTAMP, currentLeaderEpoch: -1 })) })),
  })
  const ends = new Map<string, number>()
  for (const t of response.topics) {
    for (const p of t.partitions) if (p.errorCode === ErrorCode.NONE) ends.set(`${t.name}\u0000${p.partitionIndex}`, p.offset)
  }
  for (const r of rows) r.logEndOffset = ends.get(`${r.topic}\u0000${r.partition}`) ?? null
}

/** Runs `use` with a connection to the coordinator of `groupId` and the connections to other brokers it may need. */
function withCoordinator<T>(bootstrap: string, groupId: string, use: (coordinator: KafkaWireClient, nodes: NodeConnections) => Promise<T>): Promise<T> {
  return withConnection(bootstrap, async (connection) => {
    const nodes = new NodeConnections(connection, { connectTimeoutMs: 5000 })
    try {
      return await use(await coordinatorConnection(nodes, groupId), nodes)
    } finally {
      await nodes.close()
    }
  })
}

/**
 * Computes the new offsets of `groupId` (scopes null: every partition it has committed) and, when
 * `execute`, commits them. Refuses while the group has members, with Kafka's message.
 */
export function resetGroupOffsets(bootstrap: string, groupId: string, scopes: readonly TopicScope[] | null, scenario: ResetScenario, execute: boolean): Promise<ResetPlan> {
  return withCoordinator(bootstrap, groupId, async (coordinator, nodes) => {
    const plan = await planReset(coordinator, nodes, groupId, scopes, scenario)
    if (execute) await executeReset(coordinator, plan)
    return plan
  })
}

export interface GroupDeletion { groupId: string; errorCode: number }

const DELETE_FAILURE_DETAILS: Readonly<Record<number, string>> = {
  [ErrorCode.NON_EMPTY_GROUP]: 'the group has active members',
  [ErrorCode.GROUP_ID_NOT_FOUND]: 'no such group',
  [ErrorCode.INVALID_GROUP_ID]: 'not a valid group id',
}

/** Deletes each group (its committed offsets too) through DeleteGroups on its coordinator; one result per group, in order. */
export function deleteGroups(bootstrap: string, groupIds: readonly string[]): Promise<GroupDeletion[]> {
  return withConnection(bootstrap, async (connection) => {
    const nodes = new NodeConnections(connection, { connectTimeoutMs: 5000 })
    try {
      return await Promise.all(groupIds.map(async (groupId) => {
        const coordinator = await coordinatorConnection(nodes, groupId)
        const response = await coordinator.request(ApiKey.DeleteGroups, coordinator.version(ApiKey.DeleteGroups), { groupsNames: [groupId] })
        const result = response.results.find((r) => r.groupId === groupId)
        if (!result) throw new GroupCommandError(`DeleteGroups returned no result for "${groupId}"`)
        return { groupId, errorCode: result.errorCode }
      }))
    } finally {
      await nodes.close()
    }
  })
}

/** The one error for the groups that could not be deleted, or null when all were. */
export function deletionFailure(results: readonly GroupDeletion[]): Error | null {
  const failed = results.filter((r) => r.errorCode !== ErrorCode.NONE)
  if (failed.length === 0) return null
  const message = failed.map((r) => {
    const detail = DELETE_FAILURE_DETAILS[r.errorCode]
    return `cannot delete group "${r.groupId}": ${errorCodeName(r.errorCode)}${detail ? ` (${detail})` : ''}`
  }).join('; ')
  return errorFromCode(failed[0].errorCode, message)
}

export function formatGroupList(groups: readonly GroupListing[]): string {
  if (groups.length === 0) return 'no groups'
  return formatTable(['GROUP', 'STATE', 'PROTOCOL-TYPE'], groups.map((g) => [g.groupId, g.state, g.protocolType]))
}

export function formatGroupDescription(d: GroupDescription): string {
  const lines = [`group ${d.groupId}  state ${d.state}  protocol ${d.protocolType || '-'}/${d.protocol || '-'}  members ${d.members.length}`, '']
  if (d.members.length > 0) {
    lines.push(formatTable(['MEMBER-ID', 'CLIENT-ID', 'HOST', 'ASSIGNMENT'], d.members.map((m) => [
      m.memberId,
      m.clientId,
      m.host,
      m.assignment.map((a) => `${a.topic}:${a.partitions.join(',')}`).join(' ') || '-',
    ])), '')
  }
  if (d.partitions.length > 0) {
    lines.push(formatTable(['TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-END-OFFSET', 'LAG', 'MEMBER-ID', 'CLIENT-ID', 'HOST'], d.partitions.map((p) => [
      p.topic, p.partition, p.committedOffset, p.logEndOffset, p.lag, p.memberId, p.clientId, p.host,
    ])))
  } else {
    lines.push('no assigned partitions and no committed offsets')
  }
  return lines.join('\n')
}

interface GroupsOptions { bootstrap: string; json?: boolean }

export function register(program: Command): void {
  const groups = program.command('groups').description('inspect, reset and delete consumer groups of a running broker')
  groups
    .command('list')
    .description('list consumer groups with their state')
    .option('-b, --bootstrap <host:port>', 'broker address', DEFAULT_BOOTSTRAP)
    .option('--state <states...>', 'only groups in these states (Empty, Stable, PreparingRebalance, ...)')
    .option('--json', 'print JSON')
    .action(async (options: GroupsOptions & { state?: string[] }) => {
      const listed = await listGroups(options.bootstrap, options.state ?? [])
      process.stdout.write((options.json ? JSON.stringify(listed, null, 2) : formatGroupList(listed)) + '\n')
    })
  groups
    .command('describe <group>')
    .description('members, assignments, committed offsets and lag of one group')
    .option('-b, --bootstrap <host:port>', 'broker address', DEFAULT_BOOTSTRAP)
    .option('--json', 'print JSON')
    .action(async (groupId: string, options: GroupsOptions) => {
      const described = await describeGroup(options.bootstrap, groupId)
      process.stdout.write((options.json ? JSON.stringify(described, null, 2) : formatGroupDescription(described)) + '\n')
    })
  groups
    .command('reset-offsets <group>')
    .description('set the committed offsets of an inactive group; prints the plan and changes nothing unless --execute')
    .option('-b, --bootstrap <host:port>', 'broker address', DEFAULT_BOOTSTRAP)
    .option('--topic <topic[:partitions]>', 'a topic, or some of its partitions as topic:0,1,2 (repeatable)', collect)
    .option('--all-topics', 'every partition the group has committed offsets for')
    .option('--to-earliest', 'to the log start offset')
    .option('--to-latest', 'to the log end offset')
    .option('--to-offset <offset>', 'to this offset (moved into the log\'s range)', integer('--to-offset'))
    .option('--to-datetime <iso>', 'to the first offset at or after this time, e.g. 2024-05-01T12:00:00.000Z (no zone: local time)')
    .option('--shift-by <n>', 'move the committed offset by n (negative: back)', integer('--shift-by'))
    .option('--dry-run', 'only print the plan (the default)')
    .option('--execute', 'commit the new offsets')
    .option('--json', 'print the plan as JSON')
    .action(async (groupId: string, options: ResetOptions) => {
      const scenario = resetScenario(options)
      const scopes = resetScopes(options)
      if (options.execute && options.dryRun) throw new GroupCommandError('--dry-run and --execute exclude each other')
      const plan = await resetGroupOffsets(options.bootstrap, groupId, scopes, scenario, options.execute === true)
      for (const warning of plan.warnings) process.stderr.write(`warning: ${warning}\n`)
      process.stdout.write((options.json ? JSON.stringify(plan.offsets, null, 2) : formatResetPlan(plan)) + '\n')
    })
  groups
    .command('delete <groups...>')
    .description('delete inactive groups and their committed offsets')
    .option('-b, --bootstrap <host:port>', 'broker address', DEFAULT_BOOTSTRAP)
    .action(async (groupIds: string[], options: GroupsOptions) => {
      const results = await deleteGroups(options.bootstrap, groupIds)
      const deleted = results.filter((r) => r.errorCode === ErrorCode.NONE)
      if (deleted.length > 0) process.stdout.write(deleted.map((r) => `deleted group ${r.groupId}\n`).join(''))
      const failure = deletionFailure(results)
      if (failure) throw failure
    })
}

interface ResetOptions extends GroupsOptions {
  topic?: string[]
  allTopics?: boolean
  toEarliest?: boolean
  toLatest?: boolean
  toOffset?: number
  toDatetime?: string
  shiftBy?: number
  dryRun?: boolean
  execute?: boolean
}

const SCENARIO_FLAGS = '--to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by'

function resetScenario(options: ResetOptions): ResetScenario {
  const given: ResetScenario[] = []
  if (options.toEarliest) given.push({ kind: 'earliest' })
  if (options.toLatest) given.push({ kind: 'latest' })
  if (options.toOffset !== undefined) given.push({ kind: 'offset', offset: options.toOffset })
  if (options.toDatetime !== undefined) given.push({ kind: 'datetime', timestamp: parseDateTime(options.toDatetime) })
  if (options.shiftBy !== undefined) given.push({ kind: 'shift', by: options.shiftBy })
  if (given.length !== 1) throw new GroupCommandError(`give exactly one of ${SCENARIO_FLAGS}`)
  return given[0]
}

function resetScopes(options: ResetOptions): TopicScope[] | null {
  const topics = options.topic ?? []
  if (options.allTopics && topics.length > 0) throw new GroupCommandError('--topic and --all-topics exclude each other')
  if (options.allTopics) return null
  if (topics.length === 0) throw new GroupCommandError('give the partitions to reset: --topic or --all-topics')
  return topics.map(parseTopicScope)
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

function integer(what: string): (value: string) => number {
  return (value) => {
    const n = Number(value)
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new GroupCommandError(`${what} must be an integer, got "${value}"`)
    return n
  }
}
