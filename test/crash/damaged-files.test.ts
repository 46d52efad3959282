/**
 * Damaged files (issue 18 item 3): every kind a node writes (see damaged-files-cases.ts), each
 * damaged in every way, seeded (RINGLOG_SEED replays a run). The node's readers open every time,
 * lose nothing before the damage, serve no batch that fails its CRC, and quarantine or rebuild
 * what changed. RINGLOG_DAMAGE_CASES sets the count (default 160); test/soak/damaged-files.test.ts runs 1,200.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { DEFAULT_CONFIG } from '../../src/config.js'
import { openNodeContext } from '../../src/core/node-context.js'
import { OffsetsStore } from '../../src/groups/offsets-store.js'
import { Compression } from '../../src/protocol/compression.js'
import { META_DIR, PRODUCER_IDS_FILE, RECOVERY_POINT_CHECKPOINT, TOPICS_FILE } from '../../src/storage/file-names.js'
import { randomForTest } from '../seed.js'
import { DamageFixture, QUARANTINED_KINDS, runDamageCases } from './damaged-files-cases.js'

const fixture = new DamageFixture()
afterAll(() => fixture.cleanup())

describe('damaged files', () => {
  it('every damaged file is survived: the node opens, nothing before the damage is lost, a changed file is renamed aside and reported', async () => {
    const cases = Number(process.env.RINGLOG_DAMAGE_CASES ?? '160')
    const outcomes = await runDamageCases(fixture, cases)
    expect(outcomes).toHaveLength(cases)
    // Flips and garbage always change the file; each of those must have been caught.
    for (const o of outcomes) if (QUARANTINED_KINDS.has(o.file) && (o.damage === 'flip' || o.damage === 'garbage')) expect(o.quarantined, `${o.file} ${o.damage}`).toBe(true)
  })
})

describe('a node over damaged metadata', () => {
  it('opens with a flipped topic registry, a truncated producer-id file and a garbled checkpoint, and serves every record it had', async () => {
    const random = randomForTest()
    const dataDir = mkdtempSync(join(tmpdir(), 'ringlog-damaged-node-'))
    try {
      const config = { ...DEFAULT_CONFIG, dataDir, maxWorkers: 1, scrubIntervalMs: 0 }
      const first = await openNodeContext(config)
      await first.createTopic('events', 2)
      for (let i = 0; i < 20; i++) expect((await first.engine.appendRecords('events', i % 2, [{ value: Buffer.from(`r${i}`) }], { acks: -1, compression: Compression.none })).errorCode).toBe(0)
      const pid = first.producerIds.allocate()
      await first.close()

      const registry = join(dataDir, META_DIR, TOPICS_FILE)
      const bytes = readFileSync(registry)
      bytes[random.int(bytes.length)] ^= 1 << random.int(8)
      writeFileSync(registry, bytes)
      const ids = join(dataDir, META_DIR, PRODUCER_IDS_FILE)
      writeFileSync(ids, readFileSync(ids).subarray(0, random.int(readFileSync(ids).length)))
      writeFileSync(join(dataDir, 'events-1', RECOVERY_POINT_CHECKPOINT), 'garbage\n')

      const second = await openNodeContext(config)
      try {
        expect(second.topics.list().map((t) => [t.name, t.partitions])).toEqual([['events', 2]])
        expect(second.producerIds.allocate()).toBeGreaterThan(pid)
        for (const p of [0, 1]) {
          expect(second.engine.offsets('events', p)?.logEndOffset).toBe(10)
          const slice = await second.engine.read('events', p, 0, 1 << 20)
          expect(slice.errorCode).toBe(0)
          expect(slice.segment?.nextOffset).toBe(10)
        }
        for (const name of [TOPICS_FILE, PRODUCER_IDS_FILE]) expect(readdirSync(join(dataDir, META_DIR)).some((n) => n.startsWith(`${name}.corrupt-`))).toBe(true)
      } finally {
        await second.close()
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})

describe('group offsets with a damaged record (issue 18 M2)', () => {
  it('a flipped bit in the oldest record loses that record only: every group committed after it keeps its offset', async () => {
    const random = randomForTest()
    const dir = mkdtempSync(join(tmpdir(), 'ringlog-damaged-offsets-'))
    try {
      const store = await OffsetsStore.open({ dir, sync: false })
      // g0 first (the record to damage), then g1..g9, each its own record.
      for (let g = 0; g < 10; g++) await store.commit(`g${g}`, 1000 + g, [{ topic: 't', partition: 0, offset: 100 + g, leaderEpoch: -1, metadata: '' }])
      await store.close()
      const log = readdirSync(dir).find((n) => n.startsWith('offsets-') && n.endsWith('.log'))!
      const bytes = readFileSync(join(dir, log))
      const firstRecordEnd = 8 + bytes.readUInt32BE(0)
      const at = random.int(firstRecordEnd)
      bytes[at] ^= 1 << random.int(8)
      writeFileSync(join(dir, log), bytes)

      const reopened = await OffsetsStore.open({ dir, sync: false })
      try {
        for (let g = 1; g < 10; g++) expect(reopened.get(`g${g}`, 't', 0)?.offset, `g${g} (flip at byte ${at})`).toBe(100 + g)
        expect(reopened.get('g0', 't', 0)).toBeUndefined()
      } finally {
        await reopened.close()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
