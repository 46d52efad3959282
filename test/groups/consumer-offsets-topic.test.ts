import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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
})
