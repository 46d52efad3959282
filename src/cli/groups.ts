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
 *
 * Any broker of a cluster will do, as with kafka-consumer-groups.sh: list asks every broker in
 * the Metadata answer (each lists the groups it coordinates), describe asks the group's
 * coordinator (FindCoordinator) and each partition's leader for its log end, and both wait
 * (bounded) while a coordinator is being elected or is loading its offsets partition.
 */
import type { Command } from 'commander'
import { errorFromCode, RinglogError } from '../errors.js'
import { decodeAssignment, consumerProtocolType } from '../groups/consumer-protocol.js'
import { ErrorCode, errorCodeName } from '../protocol/error-codes.js'
import { ApiKey, type KafkaWireClient } from '../kafka-client/kafka-wire-client.js'
import { withWireClient, type ToolConnectOptions } from '../kafka-client/negotiated-client.js'
import { connectOptions, withBrokerLogin, type BrokerLoginOptions } from './broker-login.js'
import { coordinatorConnection, findGroupCoordinator } from '../kafka-client/coordinator-connection.js'
import { NodeConnections } from '../kafka-client/node-connections.js'
import { executeReset, formatResetPlan, parseDateTime, parseTopicScope, planReset, type ResetPlan, type ResetScenario, type TopicScope } from './group-offsets-reset.js'
import { formatTable } from './table.js'
import { metadataRequest } from './topics.js'

/** Versions spoken: the newest non-flexible ones that carry everything shown here (ListGroups v4 for states). */
const VERSIONS = { listGroups: 4, describeGroups: 4, offsetFetch: 5, listOffsets: 5 } as const
/** Errors that mean "a coordinator is on its way": asked again until COORDINATOR_WAIT_MS passes. */
const COORDINATOR_MOVING: ReadonlySet<number> = new Set([ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.NOT_COORDINATOR])
const COORDINATOR_WAIT_MS = 15_000
const COORDINATOR_RETRY_MS = 200
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

/** Every connection, the bootstrap one and those to coordinators and leaders, logs in with `login` (--sasl, --tls). */
function withConnection<T>(bootstrap: string, use: (connection: KafkaWireClient) => Promise<T>, login: ToolConnectOptions): Promise<T> {
  return withWireClient(bootstrap, use, { clientId: 'ringlog-groups', ...login, connectTimeoutMs: 5000 })
}

function check(errorCode: number, what: string): void {
  if (errorCode !== ErrorCode.NONE) throw errorFromCode(errorCode, `${what} failed: ${errorCodeName(errorCode)} (${errorCode})`)
}

interface BrokerAddress { nodeId: number; address: string }

/** Every broker the bootstrap broker knows (itself alone in single-node mode), and each partition's leader. */
async function clusterLayout(bootstrap: string, topics: readonly string[] | null, login: ToolConnectOptions): Promise<{ brokers: BrokerAddress[]; leaders: Map<string, number> }> {
  return withConnection(bootstrap, async (connection) => {
    const version = connection.version(ApiKey.Metadata)
    const response = await connection.request(ApiKey.Metadata, version, metadataRequest(version, topics, false))
    const leaders = new Map<string, number>()
    for (const t of response.topics) for (const p of t.partitions) leaders.set(`${t.name}\u0000${p.partitionIndex}`, p.leaderId)
    return { brokers: response.brokers.map((b) => ({ nodeId: b.nodeId, address: `${b.host}:${b.port}` })), leaders }
  }, login)
}

/** Runs `step` until it does not fail with a coordinator-moving error, or the wait is over. */
async function whileCoordinatorMoves<T>(step: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + COORDINATOR_WAIT_MS
  for (;;) {
    try {
      return await step()
    } catch (error) {
      if (!(error instanceof RinglogError && COORDINATOR_MOVING.has(error.code)) || Date.now() >= deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, COORDINATOR_RETRY_MS))
    }
  }
}

/** host:port of the group's coordinator, as FindCoordinator on the bootstrap broker names it. */
async function coordinatorOf(bootstrap: string, groupId: string, login: ToolConnectOptions): Promise<string> {
  return withConnection(bootstrap, async (connection) => {
    const { host, port } = await findGroupCoordinator(connection, groupId)
    return `${host}:${port}`
  }, login)
}

/** Every group of the cluster (each broker lists those it coordinates), sorted by id; `states` filters by state name. */
export async function listGroups(bootstrap: string, states: readonly string[] = [], login: ToolConnectOptions = {}): Promise<GroupListing[]> {
  const { brokers } = await clusterLayout(bootstrap, [], login)
  const found = new Map<string, GroupListing>()
  for (const broker of brokers) {
    const listed = await whileCoordinatorMoves(() => withConnection(broker.address, async (connection) => {
      const response = await connection.request(ApiKey.ListGroups, VERSIONS.listGroups, { statesFilter: states })
      check(response.errorCode, `ListGroups from broker ${broker.nodeId}`)
      return response.groups
    }, login))
    for (const g of listed) found.set(g.groupId, { groupId: g.groupId, protocolType: g.protocolType, state: g.groupState })
  }
  return [...found.values()].sort((a, b) => a.groupId.localeCompare(b.groupId))
}

export async function describeGroup(bootstrap: string, groupId: string, login: ToolConnectOptions = {}): Promise<GroupDescription> {
  const { group, committed } = await whileCoordinatorMoves(async () => {
    const coordinator = await coordinatorOf(bootstrap, groupId, login)
    return withConnection(coordinator, async (connection) => {
      const described = await connection.request(ApiKey.DescribeGroups, VERSIONS.describeGroups, { groups: [groupId] })
      const group = described.groups[0]
      if (!group) throw new GroupCommandError('DescribeGroups returned no group')
      check(group.errorCode, `DescribeGroups for "${groupId}"`)
      const committed = await connection.request(ApiKey.OffsetFetch, VERSIONS.offsetFetch, { groupId, topics: null })
      check(committed.errorCode, `OffsetFetch for "${groupId}"`)
      return { group, committed }
    }, login)
  })
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
  await fillLogEndOffsets(bootstrap, [...rows.values()], login)
  for (const r of rows.values()) {
    if (r.committedOffset !== null && r.logEndOffset !== null) r.lag = Math.max(0, r.logEndOffset - r.committedOffset)
  }
  const partitions = [...rows.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
  return { groupId: group.groupId, state: group.groupState, protocolType: group.protocolType, protocol: group.protocolData, members, partitions }
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

/** Log end offsets (high watermarks) from each partition's leader. */
async function fillLogEndOffsets(bootstrap: string, rows: GroupPartitionDescription[], login: ToolConnectOptions): Promise<void> {
  if (rows.length === 0) return
  const { brokers, leaders } = await clusterLayout(bootstrap, [...new Set(rows.map((r) => r.topic))], login)
  const byLeader = new Map<number, Map<string, number[]>>()
  for (const r of rows) {
    const leader = leaders.get(`${r.topic}\u0000${r.partition}`)
    if (leader === undefined || leader < 0) continue
    let byTopic = byLeader.get(leader)
    if (!byTopic) byLeader.set(leader, byTopic = new Map())
    const list = byTopic.get(r.topic) ?? []
    list.push(r.partition)
    byTopic.set(r.topic, list)
  }
  const ends = new Map<string, number>()
  for (const [leader, byTopic] of byLeader) {
    const address = brokers.find((b) => b.nodeId === leader)?.address
    if (!address) continue
    const response = await withConnection(address, (connection) => connection.request(ApiKey.ListOffsets, VERSIONS.listOffsets, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [...byTopic].map(([name, partitions]) => ({ name, partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp: LATEST_TIMESTAMP, currentLeaderEpoch: -1 })) })),
    }), login)
    for (const t of response.topics) {
      for (const p of t.partitions) if (p.errorCode === ErrorCode.NONE) ends.set(`${t.name}\u0000${p.partitionIndex}`, p.offset)
    }
  }
  for (const r of rows) r.logEndOffset = ends.get(`${r.topic}\u0000${r.partition}`) ?? null
}

/** Runs `use` with a connection to the coordinator of `groupId` and the connections to other brokers it may need. */
function withCoordinator<T>(bootstrap: string, groupId: string, login: ToolConnectOptions, use: (coordinator: KafkaWireClient, nodes: NodeConnections) => Promise<T>): Promise<T> {
  return withConnection(bootstrap, async (connection) => {
    const nodes = new NodeConnections(connection, { ...login, connectTimeoutMs: 5000 })
    try {
      return await use(await coordinatorConnection(nodes, groupId), nodes)
    } finally {
      await nodes.close()
    }
  }, login)
}

/**
 * Computes the new offsets of `groupId` (scopes null: every partition it has committed) and, when
 * `execute`, commits them. Refuses while the group has members, with Kafka's message.
 */
export function resetGroupOffsets(bootstrap: string, groupId: string, scopes: readonly TopicScope[] | null, scenario: ResetScenario, execute: boolean, login: ToolConnectOptions = {}): Promise<ResetPlan> {
  return withCoordinator(bootstrap, groupId, login, async (coordinator, nodes) => {
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
export function deleteGroups(bootstrap: string, groupIds: readonly string[], login: ToolConnectOptions = {}): Promise<GroupDeletion[]> {
  return withConnection(bootstrap, async (connection) => {
    const nodes = new NodeConnections(connection, { ...login, connectTimeoutMs: 5000 })
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
  }, login)
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

interface GroupsOptions extends BrokerLoginOptions { json?: boolean }

export function register(program: Command): void {
  const groups = program.command('groups').description('inspect, reset and delete consumer groups of a running broker')
  withBrokerLogin(groups.command('list'))
    .description('list consumer groups with their state')
    .option('--state <states...>', 'only groups in these states (Empty, Stable, PreparingRebalance, ...)')
    .option('--json', 'print JSON')
    .action(async (options: GroupsOptions & { state?: string[] }) => {
      const listed = await listGroups(options.bootstrap, options.state ?? [], connectOptions(options, 'ringlog-groups'))
      process.stdout.write((options.json ? JSON.stringify(listed, null, 2) : formatGroupList(listed)) + '\n')
    })
  withBrokerLogin(groups.command('describe <group>'))
    .description('members, assignments, committed offsets and lag of one group')
    .option('--json', 'print JSON')
    .action(async (groupId: string, options: GroupsOptions) => {
      const described = await describeGroup(options.bootstrap, groupId, connectOptions(options, 'ringlog-groups'))
      process.stdout.write((options.json ? JSON.stringify(described, null, 2) : formatGroupDescription(described)) + '\n')
    })
  withBrokerLogin(groups.command('reset-offsets <group>'))
    .description('set the committed offsets of an inactive group; prints the plan and changes nothing unless --execute')
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
      const plan = await resetGroupOffsets(options.bootstrap, groupId, scopes, scenario, options.execute === true, connectOptions(options, 'ringlog-groups'))
      for (const warning of plan.warnings) process.stderr.write(`warning: ${warning}\n`)
      process.stdout.write((options.json ? JSON.stringify(plan.offsets, null, 2) : formatResetPlan(plan)) + '\n')
    })
  withBrokerLogin(groups.command('delete <groups...>'))
    .description('delete inactive groups and their committed offsets')
    .action(async (groupIds: string[], options: GroupsOptions) => {
      const results = await deleteGroups(options.bootstrap, groupIds, connectOptions(options, 'ringlog-groups'))
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
