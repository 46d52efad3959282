import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Buffer } from 'node:buffer'
import { afterEach, describe, expect, it } from 'vitest'
import { OffsetsStore } from '../../src/groups/offsets-store.js'
import { partitionForGroup } from '../../src/protocol/consumer-offsets-records.js'
import { startTestBroker, type TestBroker } from '../broker/test-broker.js'

const brokers: TestBroker[] = []
afterEach(async () => { for (const b of brokers.splice(0)) await b.destroy().catch(() => undefined) })

describe('__consumer_offsets in single-node mode', () => {
  it('a commit is stored in the group\'s offsets partition and survives a restart', async () => {
    const broker = await startTestBroker()
    await broker.server.context.createTopic('t', 2)
    const groups = broker.server.context.groups
    const results = await groups.commitOffsets({ groupId: 'g1', memberId: '', generationId: -1, offsets: [{ topic: 't', partition: 1, offset: 42, metadata: 'm' }] })
    expect(results.map((r) => r.errorCode)).toEqual([0])
    const partition = partitionForGroup('g1', 3)
    const offsets = broker.server.context.engine.offsets('__consumer_offsets', partition)
    expect(offsets?.logEndOffset).toBe(1)
    const again = await broker.restart()
    brokers.push(again)
    const fetched = await again.server.context.groups.fetchOffsets('g1', [{ topic: 't', partition: 1 }])
    expect(fetched.partitions[0]).toMatchObject({ offset: 42, metadata: 'm', errorCode: 0 })
  })

  it('migrates the old meta/group-offsets store on first start, keeping every offset', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringlog-migrate-'))
    try {
      const store = await OffsetsStore.open({ dir: join(dir, 'meta', 'group-offsets') })
      for (let g = 0; g < 5; g++) {
        await store.commit(`group-${g}`, 1_000 + g, [{ topic: 't', partition: 0, offset: 10 + g, leaderEpoch: 1, metadata: '' }, { topic: 't', partition: 1, offset: 20 + g, leaderEpoch: -1, metadata: 'x' }])
      }
      await store.close()
      const broker = await startTestBroker({}, undefined, dir)
      brokers.push(broker)
      for (let g = 0; g < 5; g++) {
        const fetched = await broker.server.context.groups.fetchOffsets(`group-${g}`, null)
        expect(fetched.partitions.map((p) => [p.partition, p.offset])).toEqual([[0, 10 + g], [1, 20 + g]])
      }
      expect(readdirSync(join(dir, 'meta'))).toContain('group-offsets.migrated')
      const restarted = await broker.restart()
      brokers.splice(0, 1, restarted)
      expect((await restarted.server.context.groups.fetchOffsets('group-3', null)).partitions.map((p) => p.offset)).toEqual([13, 23])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
  it('a new coordinator restores the group from its GroupMetadataValue: members commit on without rejoining', async () => {
    const broker = await startTestBroker({ groupInitialRebalanceDelayMs: 0 })
    await broker.server.context.createTopic('t', 2)
    const groups = broker.server.context.groups
    const protocols = [{ name: 'range', metadata: Buffer.from('subscription') }]
    const joined = await groups.joinGroup({ groupId: 'g2', memberId: '', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, protocolType: 'consumer', protocols, clientId: 'c1', clientHost: '/127.0.0.1' })
    expect(joined.errorCode).toBe(0)
    const synced = await groups.syncGroup({ groupId: 'g2', memberId: joined.memberId, generationId: joined.generationId, assignments: [{ memberId: joined.memberId, assignment: Buffer.from('assigned') }] })
    expect(synced.errorCode).toBe(0)
    const again = await broker.restart()
    brokers.push(again)
    const restored = again.server.context.groups
    const [described] = await restored.describeGroups(['g2'])
    expect(described).toMatchObject({ errorCode: 0, state: 'Stable', protocolType: 'consumer', protocolName: 'range' })
    expect(described.members.map((m) => [m.memberId, m.clientId, m.assignment.toString()])).toEqual([[joined.memberId, 'c1', 'assigned']])
    expect(await restored.heartbeat({ groupId: 'g2', memberId: joined.memberId, generationId: joined.generationId })).toBe(0)
    const committed = await restored.commitOffsets({ groupId: 'g2', memberId: joined.memberId, generationId: joined.generationId, offsets: [{ topic: 't', partition: 0, offset: 5 }] })
    expect(committed.map((r) => r.errorCode)).toEqual([0])
    // The member leaves: the empty generation is stored, so the next load restores no one.
    await restored.leaveGroup({ groupId: 'g2', members: [{ memberId: joined.memberId }] })
    const third = await again.restart()
    brokers.splice(brokers.indexOf(again), 1, third)
    const [empty] = await third.server.context.groups.describeGroups(['g2'])
    expect(empty).toMatchObject({ errorCode: 0, state: 'Empty', members: [] })
    expect((await third.server.context.groups.fetchOffsets('g2', null)).partitions.map((p) => p.offset)).toEqual([5])
  })
  it('a commit waits for an fdatasync under flush never (the offsets topic sets flush.messages=1)', async () => {
    const broker = await startTestBroker({ flush: 'never' })
    brokers.push(broker)
    const { context } = broker.server
    await context.createTopic('t', 1)
    await context.engine.appendRecords('t', 0, [{ key: null, value: Buffer.from('x') }], { acks: -1, compression: 0 })
    for (let i = 0; i < 3; i++) {
      const results = await context.groups.commitOffsets({ groupId: 'g3', memberId: '', generationId: -1, offsets: [{ topic: 't', partition: 0, offset: i }] })
      expect(results.map((r) => r.errorCode)).toEqual([0])
    }
    const stats = (await context.engine.stats()).perPartition
    const offsetsPartition = stats.find((p) => p.topic === '__consumer_offsets' && p.partition === partitionForGroup('g3', 3))!
    expect(offsetsPartition.appendedBatches).toBe(3)
    expect(offsetsPartition.fdatasync.count).toBeGreaterThanOrEqual(3)
    // The user topic keeps the node's policy: acknowledged without an fdatasync.
    expect(stats.find((p) => p.topic === 't')!.fdatasync.count).toBe(0)
  })
})
