import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { GroupCoordinator, type GroupCoordinatorConfig, type JoinGroupRequest } from '../../src/groups/group-coordinator.js'
import type { JoinGroupResult } from '../../src/groups/group.js'
import { OffsetsStore } from '../../src/groups/offsets-store.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { FakeClock, settle, track } from './fake-clock.js'
import { realClock } from '../../src/groups/clock.js'

const SESSION = 1000
const REBALANCE = 2000
const DELAY = 100

let dir: string
let store: OffsetsStore
let clock: FakeClock
let coordinator: GroupCoordinator

async function setup(config: Partial<GroupCoordinatorConfig> = {}): Promise<void> {
  coordinator?.close()
  clock = new FakeClock()
  coordinator = new GroupCoordinator({
    offsets: store,
    clock,
    config: { initialRebalanceDelayMs: DELAY, minSessionTimeoutMs: 10, maxSessionTimeoutMs: 60_000, offsetsRetentionCheckIntervalMs: 1e12, ...config },
  })
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ringlog-groups-'))
  store = await OffsetsStore.open({ dir })
  await setup()
})

afterEach(async () => {
  coordinator.close()
  await store.close()
  await rm(dir, { recursive: true, force: true })
})

function joinRequest(overrides: Partial<JoinGroupRequest> = {}): JoinGroupRequest {
  return {
    groupId: 'g',
    memberId: '',
    sessionTimeoutMs: SESSION,
    rebalanceTimeoutMs: REBALANCE,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from(`meta-${overrides.clientId ?? 'client'}`) }],
    clientId: 'client',
    clientHost: '/127.0.0.1',
    ...overrides,
  }
}

/** Joins n members at once, lets the initial delay run out, syncs with "assign-<memberId>". */
async function stableGroup(n: number, groupId = 'g'): Promise<JoinGroupResult[]> {
  const joins = Array.from({ length: n }, (_, i) => track(coordinator.joinGroup(joinRequest({ groupId, clientId: `c${i}` }))))
  clock.advance(DELAY * 3)
  await settle()
  const results = joins.map((j) => {
    expect(j.done).toBe(true)
    return j.value!
  })
  const leader = results.find((r) => r.memberId === r.leader)!
  const syncs = results.map((r) => coordinator.syncGroup({
    groupId,
    memberId: r.memberId,
    generationId: r.generationId,
    assignments: r === leader ? results.map((x) => ({ memberId: x.memberId, assignment: Buffer.from(`assign-${x.memberId}`) })) : undefined,
  }))
  for (const s of await Promise.all(syncs)) expect(s.errorCode).toBe(ErrorCode.NONE)
  expect(coordinator.group(groupId)!.state).toBe('Stable')
  return results
}

describe('GroupCoordinator: join, sync, heartbeat', () => {
  it('one member: waits the initial delay, leads generation 1, gets its own assignment', async () => {
    const join = track(coordinator.joinGroup(joinRequest()))
    await settle()
    expect(coordinator.group('g')!.state).toBe('PreparingRebalance')
    clock.advance(DELAY - 1)
    await settle()
    expect(join.done).toBe(false)
    clock.advance(1)
    await settle()
    const r = join.value!
    expect(r.errorCode).toBe(ErrorCode.NONE)
    expect(r.generationId).toBe(1)
    expect(r.leader).toBe(r.memberId)
    expect(r.memberId.startsWith('client-')).toBe(true)
    expect(r.protocolType).toBe('consumer')
    expect(r.protocolName).toBe('range')
    expect(r.members).toEqual([{ memberId: r.memberId, groupInstanceId: null, metadata: Buffer.from('meta-client') }])
    expect(coordinator.group('g')!.state).toBe('CompletingRebalance')

    const sync = await coordinator.syncGroup({ groupId: 'g', memberId: r.memberId, generationId: 1, assignments: [{ memberId: r.memberId, assignment: Buffer.from('mine') }] })
    expect(sync).toEqual({ errorCode: ErrorCode.NONE, protocolType: 'consumer', protocolName: 'range', assignment: Buffer.from('mine') })
    expect(coordinator.group('g')!.state).toBe('Stable')
    expect(await coordinator.heartbeat({ groupId: 'g', memberId: r.memberId, generationId: 1 })).toBe(ErrorCode.NONE)
  })

  it('MEMBER_ID_REQUIRED hands out an id that the member then joins with', async () => {
    const first = await coordinator.joinGroup(joinRequest({ requireKnownMemberId: true }))
    expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED)
    expect(first.memberId).toMatch(/^client-/)
    expect(coordinator.group('g')!.state).toBe('Empty')
    const second = track(coordinator.joinGroup(joinRequest({ memberId: first.memberId, requireKnownMemberId: true })))
    clock.advance(DELAY)
    await settle()
    expect(second.value!.errorCode).toBe(ErrorCode.NONE)
    expect(second.value!.memberId).toBe(first.memberId)
    expect(second.value!.generationId).toBe(1)
  })

  it('an unclaimed MEMBER_ID_REQUIRED id expires after the session timeout', async () => {
    const first = await coordinator.joinGroup(joinRequest({ requireKnownMemberId: true }))
    clock.advance(SESSION)
    const late = await coordinator.joinGroup(joinRequest({ memberId: first.memberId }))
    expect(late.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
  })

  it('three members: the initial delay extends while members keep arriving', async () => {
    const a = track(coordinator.joinGroup(joinRequest({ clientId: 'a' })))
    clock.advance(50)
    const b = track(coordinator.joinGroup(joinRequest({ clientId: 'b' })))
    clock.advance(100) // t=150: first delay ran out at 100 but b arrived, so extended to 200
    const c = track(coordinator.joinGroup(joinRequest({ clientId: 'c' })))
    clock.advance(50) // t=200: c arrived during the extension: extended to 300
    await settle()
    expect(a.done || b.done || c.done).toBe(false)
    clock.advance(99)
    await settle()
    expect(a.done).toBe(false)
    clock.advance(1)
    await settle()
    const results = [a.value!, b.value!, c.value!]
    for (const r of results) {
      expect(r.errorCode).toBe(ErrorCode.NONE)
      expect(r.generationId).toBe(1)
      expect(r.leader).toBe(results[0].memberId)
    }
    expect(results[0].members.map((m) => m.memberId)).toEqual(results.map((r) => r.memberId))
    expect(results[0].members.map((m) => m.metadata.toString())).toEqual(['meta-a', 'meta-b', 'meta-c'])
    expect(results[1].members).toEqual([])
    expect(results[2].members).toEqual([])

    // Followers' SyncGroup waits for the leader's assignment.
    const followerSyncs = [track(coordinator.syncGroup({ groupId: 'g', memberId: results[1].memberId, generationId: 1 })),
      track(coordinator.syncGroup({ groupId: 'g', memberId: results[2].memberId, generationId: 1 }))]
    await settle()
    expect(followerSyncs.some((s) => s.done)).toBe(false)
    const leaderSync = await coordinator.syncGroup({
      groupId: 'g', memberId: results[0].memberId, generationId: 1,
      // c is left out on purpose: it gets an empty assignment.
      assignments: [{ memberId: results[0].memberId, assignment: Buffer.from('A') }, { memberId: results[1].memberId, assignment: Buffer.from('B') }],
    })
    await settle()
    expect(leaderSync.assignment.toString()).toBe('A')
    expect(followerSyncs[0].value!.assignment.toString()).toBe('B')
    expect(followerSyncs[1].value!.errorCode).toBe(ErrorCode.NONE)
    expect(followerSyncs[1].value!.assignment.length).toBe(0)
  })

  it('the initial delay is capped by the rebalance timeout', async () => {
    const a = track(coordinator.joinGroup(joinRequest({ clientId: 'a', rebalanceTimeoutMs: 250 })))
    for (const t of [50, 100, 70]) { // joins at 50, 150, 220
      clock.advance(t)
      coordinator.joinGroup(joinRequest({ clientId: `x${t}`, rebalanceTimeoutMs: 250 }))
    }
    clock.advance(29) // t=249
    await settle()
    expect(a.done).toBe(false)
    clock.advance(1)
    await settle()
    expect(a.value!.generationId).toBe(1)
    expect(a.value!.members).toHaveLength(4)
  })

  it('a new member triggers a rebalance; it completes as soon as everyone rejoined', async () => {
    const [a, b] = await stableGroup(2)
    const c = track(coordinator.joinGroup(joinRequest({ clientId: 'c' })))
    await settle()
    expect(coordinator.group('g')!.state).toBe('PreparingRebalance')
    expect(await coordinator.heartbeat({ groupId: 'g', memberId: a.memberId, generationId: 1 })).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
    expect((await coordinator.syncGroup({ groupId: 'g', memberId: b.memberId, generationId: 1 })).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
    const a2 = track(coordinator.joinGroup(joinRequest({ clientId: 'c0', memberId: a.memberId })))
    await settle()
    expect(a2.done).toBe(false)
    const b2 = track(coordinator.joinGroup(joinRequest({ clientId: 'c1', memberId: b.memberId })))
    await settle()
    for (const r of [a2.value!, b2.value!, c.value!]) {
      expect(r.errorCode).toBe(ErrorCode.NONE)
      expect(r.generationId).toBe(2)
      expect(r.leader).toBe(a.memberId)
    }
    expect(a2.value!.members).toHaveLength(3)
  })

  it('a member that keeps heartbeating but does not rejoin is dropped at the rebalance timeout', async () => {
    const [a, b] = await stableGroup(2)
    const a2 = track(coordinator.joinGroup(joinRequest({ clientId: 'c0', memberId: a.memberId })))
    // a is the leader: its rejoin starts a rebalance.
    expect(coordinator.group('g')!.state).toBe('PreparingRebalance')
    for (let i = 0; i < 3; i++) {
      clock.advance(500)
      expect(await coordinator.heartbeat({ groupId: 'g', memberId: b.memberId, generationId: 1 })).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
    }
    clock.advance(REBALANCE - 1500)
    await settle()
    expect(a2.value!.generationId).toBe(2)
    expect(a2.value!.members.map((m) => m.memberId)).toEqual([a.memberId])
    expect(await coordinator.heartbeat({ groupId: 'g', memberId: b.memberId, generationId: 1 })).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
  })

  it('a leaving member triggers a rebalance; the last one leaving empties the group', async () => {
    const [a, b] = await stableGroup(2)
    const left = await coordinator.leaveGroup({ groupId: 'g', members: [{ memberId: a.memberId }] })
    expect(left).toEqual({ errorCode: ErrorCode.NONE, members: [{ memberId: a.memberId, groupInstanceId: null, errorCode: ErrorCode.NONE }] })
    expect(coordinator.group('g')!.state).toBe('PreparingRebalance')
    expect(await coordinator.heartbeat({ groupId: 'g', memberId: b.memberId, generationId: 1 })).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
    const b2 = await coordinator.joinGroup(joinRequest({ clientId: 'c1', memberId: b.memberId }))
    expect(b2.generationId).toBe(2)
    expect(b2.leader).toBe(b.memberId)
    await coordinator.leaveGroup({ groupId: 'g', members: [{ memberId: b.memberId }] })
    const group = coordinator.group('g')!
    expect(group.state).toBe('Empty')
    expect(group.generationId).toBe(3)
    expect(group.members.size).toBe(0)
  })

  it('batched LeaveGroup answers per member, including by instance id alone', async () => {
    const s = track(coordinator.joinGroup(joinRequest({ clientId: 's', groupInstanceId: 'inst-1' })))
    const d = track(coordinator.joinGroup(joinRequest({ clientId: 'd' })))
    clock.advance(DELAY * 3)
    await settle()
    const result = await coordinator.leaveGroup({
      groupId: 'g',
      members: [{ memberId: d.value!.memberId }, { memberId: 'nobody' }, { memberId: '', groupInstanceId: 'inst-1' }, { memberId: 'stale', groupInstanceId: 'inst-1' }],
    })
    expect(result.members.map((m) => m.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.NONE, ErrorCode.UNKNOWN_MEMBER_ID])
    expect(coordinator.group('g')!.state).toBe('Empty')
    expect(s.value!.errorCode).toBe(ErrorCode.NONE)
    const missing = await coordinator.leaveGroup({ groupId: 'other', members: [{ memberId: 'x' }] })
    expect(missing.members[0].errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
  })

  it('session expiry removes a silent member and triggers a rebalance', async () => {
    const [a, b] = await stableGroup(2)
    for (let i = 0; i < 2; i++) {
      clock.advance(400)
      expect(await coordinator.heartbeat({ groupId: 'g', memberId: a.memberId, generationId: 1 })).toBe(ErrorCode.NONE)
    }
    clock.advance(199)
    expect(coordinator.group('g')!.has(b.memberId)).toBe(true)
    clock.advance(1) // b's last contact was its SyncGroup, SESSION ago
    expect(coordinator.group('g')!.has(b.memberId)).toBe(false)
    expect(coordinator.group('g')!.state).toBe('PreparingRebalance')
    expect(await coordinator.heartbeat({ groupId: 'g', memberId: a.memberId, generationId: 1 })).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
    const a2 = await coordinator.joinGroup(joinRequest({ clientId: 'c0', memberId: a.memberId }))
    expect(a2.generationId).toBe(2)
    expect(a2.members.map((m) => m.memberId)).toEqual([a.memberId])
  })

  it('heartbeats keep a member alive past its session timeout', async () => {
    const [a] = await stableGroup(1)
    for (let i = 0; i < 10; i++) {
      clock.advance(SESSION - 1)
      expect(await coordinator.heartbeat({ groupId: 'g', memberId: a.memberId, generationId: 1 })).toBe(ErrorCode.NONE)
    }
    expect(coordinator.group('g')!.state).toBe('Stable')
  })

  it('a leader that never syncs is removed; waiting followers get REBALANCE_IN_PROGRESS', async () => {
    const a = track(coordinator.joinGroup(joinRequest({ clientId: 'a' })))
    const b = track(coordinator.joinGroup(joinRequest({ clientId: 'b' })))
    clock.advance(DELAY * 3)
    await settle()
    const bSync = track(coordinator.syncGroup({ groupId: 'g', memberId: b.value!.memberId, generationId: 1 }))
    // The join phase ended at t=200 (extended once for b); a's session runs out at 1200.
    clock.advance(SESSION - DELAY - 1)
    await settle()
    expect(bSync.done).toBe(false)
    clock.advance(1)
    await settle()
    expect(bSync.value!.errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
    expect(coordinator.group('g')!.has(a.value!.memberId)).toBe(false)
    expect(coordinator.group('g')!.state).toBe('PreparingRebalance')
  })

  it('a join during CompletingRebalance fails parked SyncGroups with REBALANCE_IN_PROGRESS', async () => {
    const a = track(coordinator.joinGroup(joinRequest({ clientId: 'a' })))
    const b = track(coordinator.joinGroup(joinRequest({ clientId: 'b' })))
    clock.advance(DELAY * 3)
    await settle()
    expect(a.value!.leader).toBe(a.value!.memberId)
    const bSync = track(coordinator.syncGroup({ groupId: 'g', memberId: b.value!.memberId, generationId: 1 }))
    coordinator.joinGroup(joinRequest({ clientId: 'c' }))
    await settle()
    expect(bSync.value!.errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
    expect(coordinator.group('g')!.state).toBe('PreparingRebalance')
  })
})

describe('GroupCoordinator: error codes', () => {
  it('UNKNOWN_MEMBER_ID for unknown member ids', async () => {
    expect((await coordinator.joinGroup(joinRequest({ memberId: 'ghost' }))).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    await stableGroup(1)
    expect((await coordinator.joinGroup(joinRequest({ memberId: 'ghost' }))).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    expect((await coordinator.syncGroup({ groupId: 'g', memberId: 'ghost', generationId: 1 })).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    expect(await coordinator.heartbeat({ groupId: 'g', memberId: 'ghost', generationId: 1 })).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    expect(await coordinator.heartbeat({ groupId: 'nogroup', memberId: 'ghost', generationId: 1 })).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
  })

  it('INCONSISTENT_GROUP_PROTOCOL for another protocol type or no common protocol', async () => {
    expect((await coordinator.joinGroup(joinRequest({ protocolType: '' }))).errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
    expect((await coordinator.joinGroup(joinRequest({ protocols: [] }))).errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
    const [a] = await stableGroup(1)
    expect((await coordinator.joinGroup(joinRequest({ protocolType: 'connect' }))).errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
    const other = [{ name: 'roundrobin', metadata: Buffer.alloc(0) }]
    expect((await coordinator.joinGroup(joinRequest({ protocols: other }))).errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
    // Supporting the current protocol among others is fine.
    const both = track(coordinator.joinGroup(joinRequest({ protocols: [...other, { name: 'range', metadata: Buffer.alloc(0) }] })))
    await settle()
    expect(both.done).toBe(false)
    expect((await coordinator.syncGroup({ groupId: 'g', memberId: a.memberId, generationId: 1, protocolName: 'roundrobin' })).errorCode)
      .toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
  })

  it('ILLEGAL_GENERATION for a stale generation', async () => {
    const [a] = await stableGroup(1)
    expect((await coordinator.syncGroup({ groupId: 'g', memberId: a.memberId, generationId: 0 })).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION)
    expect(await coordinator.heartbeat({ groupId: 'g', memberId: a.memberId, generationId: 7 })).toBe(ErrorCode.ILLEGAL_GENERATION)
  })

  it('INVALID_SESSION_TIMEOUT and INVALID_GROUP_ID', async () => {
    expect((await coordinator.joinGroup(joinRequest({ sessionTimeoutMs: 5 }))).errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT)
    expect((await coordinator.joinGroup(joinRequest({ sessionTimeoutMs: 60_001 }))).errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT)
    expect((await coordinator.joinGroup(joinRequest({ groupId: '' }))).errorCode).toBe(ErrorCode.INVALID_GROUP_ID)
  })
})

describe('GroupCoordinator: static membership', () => {
  async function staticGroup(): Promise<{ d: JoinGroupResult; s: JoinGroupResult }> {
    const d = track(coordinator.joinGroup(joinRequest({ clientId: 'd' })))
    const s = track(coordinator.joinGroup(joinRequest({ clientId: 's', groupInstanceId: 'inst-1' })))
    clock.advance(DELAY * 3)
    await settle()
    const sSync = coordinator.syncGroup({ groupId: 'g', memberId: s.value!.memberId, generationId: 1, groupInstanceId: 'inst-1' })
    await coordinator.syncGroup({
      groupId: 'g', memberId: d.value!.memberId, generationId: 1,
      assignments: [{ memberId: d.value!.memberId, assignment: Buffer.from('D') }, { memberId: s.value!.memberId, assignment: Buffer.from('S') }],
    })
    expect((await sSync).assignment.toString()).toBe('S')
    expect(s.value!.memberId.startsWith('inst-1-')).toBe(true)
    return { d: d.value!, s: s.value! }
  }

  it('a restarted static member replaces its old id without a rebalance and fences the old id', async () => {
    const { d, s } = await staticGroup()
    const again = await coordinator.joinGroup(joinRequest({ clientId: 's', groupInstanceId: 'inst-1' }))
    expect(again.errorCode).toBe(ErrorCode.NONE)
    expect(again.memberId).not.toBe(s.memberId)
    expect(again.generationId).toBe(1)
    expect(again.leader).toBe(d.memberId)
    expect(coordinator.group('g')!.state).toBe('Stable')
    expect(await coordinator.heartbeat({ groupId: 'g', memberId: s.memberId, generationId: 1, groupInstanceId: 'inst-1' })).toBe(ErrorCode.FENCED_INSTANCE_ID)
    expect(await coordinator.heartbeat({ groupId: 'g', memberId: s.memberId, generationId: 1 })).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    expect((await coordinator.joinGroup(joinRequest({ clientId: 's', memberId: s.memberId, groupInstanceId: 'inst-1' }))).errorCode).toBe(ErrorCode.FENCED_INSTANCE_ID)
    expect(await coordinator.heartbeat({ groupId: 'g', memberId: again.memberId, generationId: 1, groupInstanceId: 'inst-1' })).toBe(ErrorCode.NONE)
    const sync = await coordinator.syncGroup({ groupId: 'g', memberId: again.memberId, generationId: 1, groupInstanceId: 'inst-1' })
    expect(sync.assignment.toString()).toBe('S')
    expect(await coordinator.heartbeat({ groupId: 'g', memberId: d.memberId, generationId: 1 })).toBe(ErrorCode.NONE)
  })

  it('JoinGroup v9 (supportSkippingAssignment): a returning static follower is answered as before, with no skipAssignment', async () => {
    const { d, s } = await staticGroup()
    const again = await coordinator.joinGroup(joinRequest({ clientId: 's', groupInstanceId: 'inst-1', supportSkippingAssignment: true }))
    expect(again).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1, leader: d.memberId, members: [] })
    expect(again.skipAssignment).not.toBe(true)
    expect(again.memberId).not.toBe(s.memberId)
    expect(coordinator.group('g')!.state).toBe('Stable')
  })

  it('JoinGroup v9: a returning static leader gets every member and skipAssignment, keeps the assignment, and no rebalance starts', async () => {
    const s = track(coordinator.joinGroup(joinRequest({ clientId: 's', groupInstanceId: 'inst-1' })))
    const d = track(coordinator.joinGroup(joinRequest({ clientId: 'd' })))
    clock.advance(DELAY * 3)
    await settle()
    expect(s.value!.leader).toBe(s.value!.memberId)
    const dSync = coordinator.syncGroup({ groupId: 'g', memberId: d.value!.memberId, generationId: 1 })
    await coordinator.syncGroup({
      groupId: 'g', memberId: s.value!.memberId, generationId: 1, groupInstanceId: 'inst-1',
      assignments: [{ memberId: d.value!.memberId, assignment: Buffer.from('D') }, { memberId: s.value!.memberId, assignment: Buffer.from('S') }],
    })
    await dSync
    const again = await coordinator.joinGroup(joinRequest({ clientId: 's', groupInstanceId: 'inst-1', supportSkippingAssignment: true }))
    expect(again).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1, skipAssignment: true })
    expect(again.leader).toBe(again.memberId)
    expect(again.members.map((m) => m.memberId).sort()).toEqual([again.memberId, d.value!.memberId].sort())
    expect(coordinator.group('g')!.state).toBe('Stable')
    const sync = await coordinator.syncGroup({ groupId: 'g', memberId: again.memberId, generationId: 1, groupInstanceId: 'inst-1' })
    expect(sync.assignment.toString()).toBe('S')
    expect(await coordinator.heartbeat({ groupId: 'g', memberId: d.value!.memberId, generationId: 1 })).toBe(ErrorCode.NONE)
  })

  it('a static member coming back with other metadata triggers a rebalance', async () => {
    await staticGroup()
    const again = track(coordinator.joinGroup(joinRequest({ clientId: 's', groupInstanceId: 'inst-1', protocols: [{ name: 'range', metadata: Buffer.from('new-topics') }] })))
    await settle()
    expect(again.done).toBe(false)
    expect(coordinator.group('g')!.state).toBe('PreparingRebalance')
  })

  it('a static member that does not rejoin stays until its session expires', async () => {
    const { d, s } = await staticGroup()
    await coordinator.leaveGroup({ groupId: 'g', members: [{ memberId: d.memberId }] })
    expect(coordinator.group('g')!.state).toBe('PreparingRebalance')
    // s keeps heartbeating (REBALANCE_IN_PROGRESS) but never sends JoinGroup.
    for (let i = 0; i < 4; i++) {
      clock.advance(REBALANCE / 4)
      expect(await coordinator.heartbeat({ groupId: 'g', memberId: s.memberId, generationId: 1, groupInstanceId: 'inst-1' })).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
    }
    // The join phase ran out with nobody rejoined: still waiting, the static member kept.
    expect(coordinator.group('g')!.state).toBe('PreparingRebalance')
    expect(coordinator.group('g')!.has(s.memberId)).toBe(true)
    clock.advance(SESSION)
    expect(coordinator.group('g')!.state).toBe('Empty')
    expect(coordinator.group('g')!.members.size).toBe(0)
  })

  it('a static leader coming back unchanged is told the old leader id and syncs as a follower', async () => {
    const s = track(coordinator.joinGroup(joinRequest({ clientId: 's', groupInstanceId: 'inst-1' })))
    clock.advance(DELAY)
    await settle()
    await coordinator.syncGroup({ groupId: 'g', memberId: s.value!.memberId, generationId: 1, assignments: [{ memberId: s.value!.memberId, assignment: Buffer.from('S') }] })
    const again = await coordinator.joinGroup(joinRequest({ clientId: 's', groupInstanceId: 'inst-1' }))
    expect(again.leader).toBe(s.value!.memberId)
    expect(again.members).toEqual([])
    expect(coordinator.group('g')!.leaderId).toBe(again.memberId)
    const sync = await coordinator.syncGroup({ groupId: 'g', memberId: again.memberId, generationId: 1, groupInstanceId: 'inst-1' })
    expect(sync.assignment.toString()).toBe('S')
  })

  it('the old incarnation parked in JoinGroup is answered FENCED_INSTANCE_ID', async () => {
    const { s } = await staticGroup()
    const old = track(coordinator.joinGroup(joinRequest({ clientId: 's', memberId: s.memberId, groupInstanceId: 'inst-1', protocols: [{ name: 'range', metadata: Buffer.from('v2') }] })))
    await settle()
    expect(coordinator.group('g')!.state).toBe('PreparingRebalance')
    const fresh = track(coordinator.joinGroup(joinRequest({ clientId: 's', groupInstanceId: 'inst-1' })))
    await settle()
    expect(old.value!.errorCode).toBe(ErrorCode.FENCED_INSTANCE_ID)
    expect(fresh.done).toBe(false)
  })
})

describe('GroupCoordinator: offsets', () => {
  const tp = (topic: string, partition: number, offset: number, metadata: string | null = 'm') => ({ topic, partition, offset, leaderEpoch: 3, metadata })

  it('a simple consumer commits to an unknown group and fetches back', async () => {
    const result = await coordinator.commitOffsets({ groupId: 'simple', memberId: '', generationId: -1, offsets: [tp('t', 0, 10), tp('t', 1, 20, null)] })
    expect(result).toEqual([{ topic: 't', partition: 0, errorCode: 0 }, { topic: 't', partition: 1, errorCode: 0 }])
    const fetched = await coordinator.fetchOffsets('simple', [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }, { topic: 't', partition: 2 }])
    expect(fetched.partitions).toEqual([
      { topic: 't', partition: 0, offset: 10, leaderEpoch: 3, metadata: 'm', errorCode: 0 },
      { topic: 't', partition: 1, offset: 20, leaderEpoch: 3, metadata: '', errorCode: 0 },
      { topic: 't', partition: 2, offset: -1, leaderEpoch: -1, metadata: '', errorCode: 0 },
    ])
    expect((await coordinator.fetchOffsets('simple', null)).partitions.map((p) => p.offset)).toEqual([10, 20])
    expect((await coordinator.fetchOffsets('nobody', null)).partitions).toEqual([])
    expect(await coordinator.listGroups()).toEqual([{ groupId: 'simple', protocolType: '', state: 'Empty' }])
    expect((await coordinator.commitOffsets({ groupId: 'fresh', memberId: 'm', generationId: 4, offsets: [tp('t', 0, 1)] }))[0].errorCode).toBe(ErrorCode.ILLEGAL_GENERATION)
  })

  it('members commit with their generation; wrong generation, unknown member and mid-rebalance are refused', async () => {
    const [a] = await stableGroup(1)
    const ok = await coordinator.commitOffsets({ groupId: 'g', memberId: a.memberId, generationId: 1, offsets: [tp('t', 0, 5)] })
    expect(ok[0].errorCode).toBe(ErrorCode.NONE)
    expect((await coordinator.commitOffsets({ groupId: 'g', memberId: a.memberId, generationId: 0, offsets: [tp('t', 0, 6)] }))[0].errorCode).toBe(ErrorCode.ILLEGAL_GENERATION)
    expect((await coordinator.commitOffsets({ groupId: 'g', memberId: 'ghost', generationId: 1, offsets: [tp('t', 0, 6)] }))[0].errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    // A simple commit into a live group is refused too.
    expect((await coordinator.commitOffsets({ groupId: 'g', memberId: '', generationId: -1, offsets: [tp('t', 0, 6)] }))[0].errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    // PreparingRebalance still accepts commits from the current generation.
    const b = track(coordinator.joinGroup(joinRequest({ clientId: 'b' })))
    expect((await coordinator.commitOffsets({ groupId: 'g', memberId: a.memberId, generationId: 1, offsets: [tp('t', 0, 7)] }))[0].errorCode).toBe(ErrorCode.NONE)
    await coordinator.joinGroup(joinRequest({ clientId: 'c0', memberId: a.memberId }))
    await settle()
    expect(b.value!.generationId).toBe(2)
    expect(coordinator.group('g')!.state).toBe('CompletingRebalance')
    expect((await coordinator.commitOffsets({ groupId: 'g', memberId: a.memberId, generationId: 2, offsets: [tp('t', 0, 8)] }))[0].errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
    expect((await coordinator.fetchOffsets('g', [{ topic: 't', partition: 0 }])).partitions[0].offset).toBe(7)
  })

  it('OFFSET_METADATA_TOO_LARGE only for the partitions over the limit', async () => {
    const result = await coordinator.commitOffsets({ groupId: 's', memberId: '', generationId: -1, offsets: [tp('t', 0, 1, 'x'.repeat(4097)), tp('t', 1, 2, 'y'.repeat(4096))] })
    expect(result.map((r) => r.errorCode)).toEqual([ErrorCode.OFFSET_METADATA_TOO_LARGE, ErrorCode.NONE])
    const fetched = await coordinator.fetchOffsets('s', null)
    expect(fetched.partitions.map((p) => [p.partition, p.offset])).toEqual([[1, 2]])
  })

  it('offsets of a simple group expire after the retention period, then the group goes', async () => {
    await setup({ offsetsRetentionMs: 10_000 })
    await coordinator.commitOffsets({ groupId: 'simple', memberId: '', generationId: -1, offsets: [tp('t', 0, 10)] })
    clock.advance(9_999)
    expect(await coordinator.expireOffsets()).toBe(0)
    clock.advance(1)
    expect(await coordinator.expireOffsets()).toBe(1)
    expect((await coordinator.fetchOffsets('simple', [{ topic: 't', partition: 0 }])).partitions[0].offset).toBe(-1)
    expect(await coordinator.listGroups()).toEqual([])
  })

  it('a live group keeps its offsets; retention counts from when it became empty', async () => {
    await setup({ offsetsRetentionMs: 10_000 })
    const [a] = await stableGroup(1)
    await coordinator.commitOffsets({ groupId: 'g', memberId: a.memberId, generationId: 1, offsets: [tp('t', 0, 10)] })
    for (let i = 0; i < 30; i++) {
      clock.advance(500)
      await coordinator.heartbeat({ groupId: 'g', memberId: a.memberId, generationId: 1 })
    }
    expect(await coordinator.expireOffsets()).toBe(0)
    await coordinator.leaveGroup({ groupId: 'g', members: [{ memberId: a.memberId }] })
    expect(coordinator.group('g')!.state).toBe('Empty')
    clock.advance(9_999)
    expect(await coordinator.expireOffsets()).toBe(0)
    clock.advance(1)
    expect(await coordinator.expireOffsets()).toBe(1)
  })

  it('the retention check runs on its own timer', async () => {
    await setup({ offsetsRetentionMs: 1_000, offsetsRetentionCheckIntervalMs: 5_000 })
    await coordinator.commitOffsets({ groupId: 'simple', memberId: '', generationId: -1, offsets: [tp('t', 0, 10)] })
    clock.advance(5_000)
    for (let i = 0; i < 200 && store.hasOffsets('simple'); i++) await new Promise((r) => setTimeout(r, 5))
    expect(store.hasOffsets('simple')).toBe(false)
  })

  it('groups known from stored offsets are listed as Empty after a restart', async () => {
    await coordinator.commitOffsets({ groupId: 'old', memberId: '', generationId: -1, offsets: [tp('t', 0, 10)] })
    await setup()
    expect(await coordinator.listGroups(['empty'])).toEqual([{ groupId: 'old', protocolType: '', state: 'Empty' }])
  })
})

describe('GroupCoordinator: describe, list, close', () => {
  it('describes members with metadata and assignment only while Stable', async () => {
    const [a, b] = await stableGroup(2)
    const [described, unknown] = await coordinator.describeGroups(['g', 'nope'])
    expect(described.state).toBe('Stable')
    expect(described.protocolType).toBe('consumer')
    expect(described.protocolName).toBe('range')
    expect(described.members.map((m) => [m.memberId, m.clientId, m.metadata.toString(), m.assignment.toString()])).toEqual([
      [a.memberId, 'c0', 'meta-c0', `assign-${a.memberId}`],
      [b.memberId, 'c1', 'meta-c1', `assign-${b.memberId}`],
    ])
    expect(unknown).toMatchObject({ groupId: 'nope', errorCode: 0, state: 'Dead', members: [] })
    coordinator.joinGroup(joinRequest({ clientId: 'c' }))
    const [rebalancing] = await coordinator.describeGroups(['g'])
    expect(rebalancing.state).toBe('PreparingRebalance')
    expect(rebalancing.protocolName).toBe('')
    expect(rebalancing.members.every((m) => m.metadata.length === 0 && m.assignment.length === 0)).toBe(true)
  })

  it('lists groups with an optional state filter', async () => {
    await stableGroup(1, 'g1')
    coordinator.joinGroup(joinRequest({ groupId: 'g2' }))
    expect((await coordinator.listGroups()).map((g) => g.groupId).sort()).toEqual(['g1', 'g2'])
    expect(await coordinator.listGroups(['Stable'])).toEqual([{ groupId: 'g1', protocolType: 'consumer', state: 'Stable' }])
    expect((await coordinator.listGroups(['preparingrebalance', 'Dead'])).map((g) => g.groupId)).toEqual(['g2'])
  })

  it('works on real timers by default', async () => {
    coordinator.close()
    coordinator = new GroupCoordinator({ offsets: store, config: { initialRebalanceDelayMs: 20, minSessionTimeoutMs: 10 } })
    expect(realClock.now()).toBeGreaterThan(0)
    const joined = await coordinator.joinGroup(joinRequest())
    expect(joined.generationId).toBe(1)
    const synced = await coordinator.syncGroup({ groupId: 'g', memberId: joined.memberId, generationId: 1, assignments: [{ memberId: joined.memberId, assignment: Buffer.from('x') }] })
    expect(synced.assignment.toString()).toBe('x')
  })

  it('an emptied group without offsets is dropped at the next retention check', async () => {
    const [a] = await stableGroup(1)
    await coordinator.leaveGroup({ groupId: 'g', members: [{ memberId: a.memberId }] })
    expect(await coordinator.listGroups()).toHaveLength(1)
    await coordinator.expireOffsets()
    expect(await coordinator.listGroups()).toEqual([])
  })

  it('close answers parked calls and clears every timer', async () => {
    await stableGroup(1, 'g1')
    const parked = track(coordinator.joinGroup(joinRequest({ groupId: 'g2' })))
    expect(clock.pendingTimers).toBeGreaterThan(0)
    coordinator.close()
    await settle()
    expect(parked.value!.errorCode).toBe(ErrorCode.NOT_COORDINATOR)
    expect(clock.pendingTimers).toBe(0)
    expect((await coordinator.joinGroup(joinRequest())).errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE)
  })
})
