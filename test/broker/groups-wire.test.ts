/**
 * The group APIs through real sockets with hand-built requests (generated codecs): the
 * rebalance state machine's answers and the handlers' version mapping and error codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BrokerServer } from '../../src/broker/server.js'
import { decodeAssignment, encodeAssignment, encodeSubscription } from '../../src/groups/consumer-protocol.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import type { HeartbeatResponse } from '../../src/protocol/messages/heartbeat.js'
import type { JoinGroupRequest } from '../../src/protocol/messages/join-group.js'
import type { EncodeInput } from '../../src/protocol/primitives.js'
import { ApiKey, KafkaWireClient } from '../../src/kafka-client/kafka-wire-client.js'
import { describeGroup, formatGroupDescription, listGroups } from '../../src/cli/groups.js'
import { startBroker, tempDir } from '../compat/groups-harness.js'

const { FindCoordinator, JoinGroup, Heartbeat, LeaveGroup, SyncGroup, DescribeGroups, ListGroups, OffsetCommit, OffsetFetch, ApiVersions } = ApiKey

const TOPIC = 'wire-topic'
const metadata = encodeSubscription({ topics: [TOPIC] })

function join(memberId: string, overrides: Partial<EncodeInput<JoinGroupRequest>> = {}): EncodeInput<JoinGroupRequest> {
  return {
    groupId: 'wire-group',
    sessionTimeoutMs: 5000,
    rebalanceTimeoutMs: 3000,
    memberId,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata }],
    ...overrides,
  }
}

describe('group APIs on the wire', () => {
  const dir = tempDir('groups-wire')
  let server: BrokerServer
  const connections: KafkaWireClient[] = []
  const connect = async (clientId: string): Promise<KafkaWireClient> => {
    const { host, port } = server.address()
    const c = await KafkaWireClient.connect(host, port, { clientId })
    connections.push(c)
    return c
  }

  beforeAll(async () => {
    server = await startBroker(dir.path)
    await server.context.createTopic(TOPIC, 2)
  })
  afterAll(async () => {
    await Promise.all(connections.map((c) => c.close()))
    await server?.stop()
    dir.remove()
  })

  it('advertises every group API with the versions of DESIGN.md, FindCoordinator from v0', async () => {
    const c = await connect('versions')
    const response = await c.request(ApiVersions, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' })
    const ranges = new Map(response.apiKeys.map((k) => [k.apiKey, [k.minVersion, k.maxVersion]]))
    // Every version the vendored Kafka schemas define, as Kafka 3.9 serves them.
    expect(ranges.get(10)).toEqual([0, 5])
    expect(ranges.get(11)).toEqual([0, 9])
    expect(ranges.get(14)).toEqual([0, 5])
    expect(ranges.get(12)).toEqual([0, 4])
    expect(ranges.get(13)).toEqual([0, 5])
    expect(ranges.get(8)).toEqual([0, 9])
    expect(ranges.get(9)).toEqual([0, 9])
    expect(ranges.get(15)).toEqual([0, 5])
    expect(ranges.get(16)).toEqual([0, 5])
  })

  it('FindCoordinator names this broker in every version; unknown key types are refused', async () => {
    const c = await connect('find')
    const { port } = server.address()
    for (const version of [0, 1, 2, 3]) {
      const r = await c.request(FindCoordinator, version, { key: 'any-group', keyType: 0 })
      expect(r).toMatchObject({ errorCode: 0, nodeId: 0, host: '127.0.0.1', port })
    }
    const txn = await c.request(FindCoordinator, 3, { key: 'txn', keyType: 1 })
    expect(txn.errorCode).toBe(ErrorCode.NONE)
    const bad = await c.request(FindCoordinator, 2, { key: 'x', keyType: 7 })
    expect(bad.errorCode).toBe(ErrorCode.INVALID_REQUEST)
    const batched = await c.request(FindCoordinator, 4, { keyType: 0, coordinatorKeys: ['a', 'b'] })
    expect(batched.coordinators.map((x) => [x.key, x.errorCode, x.port])).toEqual([['a', 0, port], ['b', 0, port]])
  })

  it('walks JoinGroup/SyncGroup/Heartbeat through the rebalance with Kafka error codes', async () => {
    const a = await connect('member-a')
    const b = await connect('member-b')
    const side = await connect('side')

    // Validation before anything else.
    expect((await side.request(JoinGroup, 4, join('', { groupId: '' }))).errorCode).toBe(ErrorCode.INVALID_GROUP_ID)
    expect((await side.request(JoinGroup, 4, join('', { sessionTimeoutMs: 100 }))).errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT)
    expect((await side.request(JoinGroup, 4, join('', { sessionTimeoutMs: 10_000_000 }))).errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT)

    // v4+: a new member first gets MEMBER_ID_REQUIRED and its id.
    const first = await a.request(JoinGroup, 5, join(''))
    expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED)
    expect(first.memberId).toMatch(/^member-a-/)
    const idA = first.memberId
    const joinedA = await a.request(JoinGroup, 5, join(idA))
    expect(joinedA).toMatchObject({ errorCode: 0, generationId: 1, protocolName: 'range', leader: idA, memberId: idA })
    expect(joinedA.members.map((m) => m.memberId)).toEqual([idA])
    expect(joinedA.members[0].metadata.equals(metadata)).toBe(true)

    // A member speaking another protocol type, or no common protocol, is refused.
    expect((await side.request(JoinGroup, 5, join('', { protocolType: 'connect' }))).errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
    expect((await side.request(JoinGroup, 5, join('', { protocols: [{ name: 'roundrobin', metadata }] }))).errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)

    const hb = (memberId: string, generationId: number): Promise<HeartbeatResponse> =>
      side.request(Heartbeat, 3, { groupId: 'wire-group', memberId, generationId, groupInstanceId: null })
    expect((await hb('nobody', 1)).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    expect((await hb(idA, 7)).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION)
    expect((await side.request(SyncGroup, 3, { groupId: 'wire-group', generationId: 9, memberId: idA, assignments: [] })).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION)
    expect((await side.request(SyncGroup, 3, { groupId: 'wire-group', generationId: 1, memberId: 'nobody', assignments: [] })).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)

    const onlyA = encodeAssignment({ partitions: [{ topic: TOPIC, partitions: [0, 1] }] })
    const syncedA = await a.request(SyncGroup, 5, { groupId: 'wire-group', generationId: 1, memberId: idA, protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: idA, assignment: onlyA }] })
    expect(syncedA).toMatchObject({ errorCode: 0, protocolType: 'consumer', protocolName: 'range' })
    expect(syncedA.assignment.equals(onlyA)).toBe(true)
    expect((await hb(idA, 1)).errorCode).toBe(ErrorCode.NONE)
    // v5 SyncGroup checks the protocol it names against the group's.
    expect((await side.request(SyncGroup, 5, { groupId: 'wire-group', generationId: 1, memberId: idA, protocolType: 'consumer', protocolName: 'sticky', assignments: [] })).errorCode)
      .toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)

    // B arrives: the group prepares a rebalance; A learns it from its heartbeat and rejoins.
    const idB = (await b.request(JoinGroup, 4, join(''))).memberId
    const joiningB = b.request(JoinGroup, 4, join(idB))
    await expect.poll(async () => (await hb(idA, 1)).errorCode, { timeout: 5000, interval: 20 }).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
    expect((await side.request(SyncGroup, 3, { groupId: 'wire-group', generationId: 1, memberId: idA, assignments: [] })).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
    const [rejoinedA, joinedB] = await Promise.all([a.request(JoinGroup, 5, join(idA)), joiningB])
    expect(rejoinedA).toMatchObject({ errorCode: 0, generationId: 2, leader: idA })
    expect(rejoinedA.members.map((m) => m.memberId).sort()).toEqual([idA, idB].sort())
    expect(joinedB).toMatchObject({ errorCode: 0, generationId: 2, leader: idA, memberId: idB, members: [] })

    // The follower's SyncGroup waits for the leader's assignment, then gets its own share.
    const toA = encodeAssignment({ partitions: [{ topic: TOPIC, partitions: [0] }] })
    const toB = encodeAssignment({ partitions: [{ topic: TOPIC, partitions: [1] }] })
    const syncingB = b.request(SyncGroup, 4, { groupId: 'wire-group', generationId: 2, memberId: idB, assignments: [] })
    expect((await hb(idA, 1)).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION)
    const syncA2 = await a.request(SyncGroup, 4, { groupId: 'wire-group', generationId: 2, memberId: idA, assignments: [{ memberId: idA, assignment: toA }, { memberId: idB, assignment: toB }] })
    expect(syncA2.assignment.equals(toA)).toBe(true)
    expect((await syncingB).assignment.equals(toB)).toBe(true)

    // Offsets: members commit in their generation; unknown partitions are refused one by one.
    const commit = await side.request(OffsetCommit, 8, {
      groupId: 'wire-group', generationIdOrMemberEpoch: 2, memberId: idB, groupInstanceId: null,
      topics: [
        { name: TOPIC, partitions: [{ partitionIndex: 1, committedOffset: 42, committedLeaderEpoch: 3, committedMetadata: 'm' }, { partitionIndex: 9, committedOffset: 1 }] },
        { name: 'no-such-topic', partitions: [{ partitionIndex: 0, committedOffset: 5 }] },
      ],
    })
    expect(commit.topics.map((t) => t.partitions.map((p) => p.errorCode))).toEqual([[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION], [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]])
    const stale = await side.request(OffsetCommit, 2, { groupId: 'wire-group', generationIdOrMemberEpoch: 1, memberId: idB, retentionTimeMs: 1000, topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: 1 }] }] })
    expect(stale.topics[0].partitions[0].errorCode).toBe(ErrorCode.ILLEGAL_GENERATION)
    const noGroup = await side.request(OffsetCommit, 2, { groupId: '', generationIdOrMemberEpoch: -1, memberId: '', topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: 1 }] }] })
    expect(noGroup.topics[0].partitions[0].errorCode).toBe(ErrorCode.INVALID_GROUP_ID)

    const fetched = await side.request(OffsetFetch, 7, { groupId: 'wire-group', topics: [{ name: TOPIC, partitionIndexes: [0, 1] }], requireStable: true })
    expect(fetched.errorCode).toBe(0)
    expect(fetched.topics[0].partitions.map((p) => [p.partitionIndex, p.committedOffset, p.committedLeaderEpoch, p.metadata])).toEqual([[0, -1, -1, ''], [1, 42, 3, 'm']])
    const all = await side.request(OffsetFetch, 2, { groupId: 'wire-group', topics: null })
    expect(all.topics.map((t) => [t.name, t.partitions.map((p) => p.committedOffset)])).toEqual([[TOPIC, [42]]])
    const v1 = await side.request(OffsetFetch, 1, { groupId: '', topics: [{ name: TOPIC, partitionIndexes: [1] }] })
    expect(v1.topics[0].partitions[0].errorCode).toBe(ErrorCode.INVALID_GROUP_ID)

    // Describe and list.
    const described = await side.request(DescribeGroups, 5, { groups: ['wire-group', 'never-seen', ''], includeAuthorizedOperations: true })
    const [g, unknown, empty] = described.groups
    expect(g).toMatchObject({ errorCode: 0, groupState: 'Stable', protocolType: 'consumer', protocolData: 'range' })
    expect(g.members.map((m) => [m.memberId, m.clientId, m.clientHost]).sort()).toEqual([[idA, 'member-a', '/127.0.0.1'], [idB, 'member-b', '/127.0.0.1']].sort())
    expect(decodeAssignment(g.members.find((m) => m.memberId === idB)!.memberAssignment).partitions).toEqual([{ topic: TOPIC, partitions: [1] }])
    expect(g.authorizedOperations).toBeGreaterThan(0)
    expect(unknown).toMatchObject({ errorCode: 0, groupState: 'Dead', members: [] })
    expect(empty.errorCode).toBe(ErrorCode.INVALID_GROUP_ID)
    const stable = await side.request(ListGroups, 4, { statesFilter: ['stable'] })
    expect(stable.groups).toContainEqual({ groupId: 'wire-group', protocolType: 'consumer', groupState: 'Stable', groupType: '' })
    expect((await side.request(ListGroups, 4, { statesFilter: ['Empty'] })).groups.map((x) => x.groupId)).not.toContain('wire-group')
    expect((await side.request(ListGroups, 0, {})).groups.map((x) => x.groupId)).toContain('wire-group')

    // The CLI's view of the same group.
    const bootstrap = `127.0.0.1:${server.address().port}`
    const view = await describeGroup(bootstrap, 'wire-group')
    expect(view.members.find((m) => m.memberId === idB)?.assignment).toEqual([{ topic: TOPIC, partitions: [1] }])
    expect(view.partitions).toEqual([
      { topic: TOPIC, partition: 0, memberId: idA, clientId: 'member-a', host: '/127.0.0.1', committedOffset: null, logEndOffset: 0, lag: null },
      { topic: TOPIC, partition: 1, memberId: idB, clientId: 'member-b', host: '/127.0.0.1', committedOffset: 42, logEndOffset: 0, lag: 0 },
    ])
    expect(formatGroupDescription(view)).toContain('wire-topic  1          42              0               0    ' + idB)
    expect(await listGroups(bootstrap, ['Stable'])).toContainEqual({ groupId: 'wire-group', protocolType: 'consumer', state: 'Stable' })
    await expect(describeGroup(bootstrap, 'never-seen')).rejects.toThrow(/does not exist/)

    // Leaving: v0 answers the member's own outcome; v3 batches report per member.
    expect((await side.request(LeaveGroup, 0, { groupId: 'wire-group', memberId: 'nobody' })).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    const left = await side.request(LeaveGroup, 3, { groupId: 'wire-group', members: [{ memberId: idB, groupInstanceId: null }, { memberId: 'nobody', groupInstanceId: null }] })
    expect(left.errorCode).toBe(0)
    expect(left.members.map((m) => [m.memberId, m.errorCode])).toEqual([[idB, 0], ['nobody', ErrorCode.UNKNOWN_MEMBER_ID]])
    expect((await hb(idB, 2)).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    expect((await hb(idA, 2)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
    expect((await side.request(LeaveGroup, 1, { groupId: 'wire-group', memberId: idA })).errorCode).toBe(ErrorCode.NONE)
  })

  it('JoinGroup v0-3 admits a new member without MEMBER_ID_REQUIRED; v0 uses the session timeout as rebalance timeout', async () => {
    const c = await connect('old-client')
    const joined = await c.request(JoinGroup, 0, join('', { groupId: 'old-group', rebalanceTimeoutMs: undefined }))
    expect(joined).toMatchObject({ errorCode: 0, generationId: 1, protocolName: 'range' })
    expect(joined.leader).toBe(joined.memberId)
    expect((await c.request(LeaveGroup, 0, { groupId: 'old-group', memberId: joined.memberId })).errorCode).toBe(0)
  })
})
