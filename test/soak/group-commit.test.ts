/**
 * Statistical: depends on thread scheduling, so it runs in `npm run test:soak`, not `npm test`.
 * test/engine/router.test.ts keeps the part that cannot flake (at least one commit per send).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Compression } from '../../src/protocol/compression.js'
import { Fixture } from '../engine/helpers.js'

const fixture = new Fixture()
afterEach(() => fixture.cleanup())

describe('group commit under flush always (soak)', () => {
  it('a send spanning two batches, awaited alone, is mostly covered by one commit (its tail is not left for the next)', async () => {
    const engine = fixture.engine({ dataDir: fixture.dir(), flush: 'always', maxWorkers: 1 })
    await engine.openPartition('s', 0)
    // 200 records of 100 bytes: more than one 16 KiB batch, so the send ends in an open batch.
    const records = Array.from({ length: 200 }, (_, i) => ({ value: Buffer.alloc(100, i) }))
    const sends = 200
    for (let i = 0; i < sends; i++) {
      const result = await engine.appendRecords('s', 0, records, { acks: -1, compression: Compression.none })
      expect(result).toMatchObject({ errorCode: 0, baseOffset: i * records.length })
    }
    // Two commits per send if the open batch waited for the first commit to end. A send can
    // still take two now and then: its worker may drain the records before the router's
    // end-of-turn mark arrives, and then writes the full batch at once.
    const commits = (await engine.stats()).perPartition[0].fdatasync.count
    expect(commits).toBeGreaterThanOrEqual(sends)
    expect(commits).toBeLessThan(sends * 1.75)
  })
})
