/**
 * The background scrubber in a running engine (issue 18 item 4): a byte flipped in a closed
 * segment is found by a scrub pass, a fetch of that batch gets KAFKA_STORAGE_ERROR, a fetch
 * running into it stops before it, and the batches around it are still served.
 * The byte flipped is chosen with a seeded random source (RINGLOG_SEED replays).
 */
import { openSync, readdirSync, readFileSync, readSync, writeSync, closeSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { ScrubDamageEvent } from '../../src/engine/log-engine.js'
import type { PartitionRouter } from '../../src/engine/main/router.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { readBatchHeader, splitBatches, validateBatch } from '../../src/protocol/record-batch.js'
import { LOG_SUFFIX, parseSegmentFileName } from '../../src/storage/file-names.js'
import { randomForTest } from '../seed.js'
import { testBatch } from '../storage/log-test-helpers.js'
import { Fixture } from './helpers.js'

const fixture = new Fixture()
afterEach(() => fixture.cleanup())

/** Polls the engine's stats until `done` holds (bounded: 500 rounds, each awaiting a timer turn of 20 ms). */
async function statsUntil(engine: PartitionRouter, done: (s: { passes: number; corruptBatches: number }) => boolean): Promise<{ passes: number; corruptBatches: number; scannedBytes: number }> {
  for (let round = 0; round < 500; round++) {
    const scrub = (await engine.stats()).perPartition[0].scrub
    if (done(scrub)) return scrub
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error('the scrubber did not get there in 500 rounds')
}

describe('background scrubber', () => {
  it('a flipped byte in a closed segment is found and its batch refused with KAFKA_STORAGE_ERROR; the rest is served', async () => {
    const random = randomForTest()
    const dataDir = fixture.dir()
    const engine = fixture.engine({ dataDir, flush: 'always', maxWorkers: 1, scrubIntervalMs: 20, scrubBytesPerSecond: 50e6 })
    await engine.openPartition('s', 0, { segmentBytes: 4096 })
    for (let i = 0; i < 40; i++) expect((await engine.appendBatches('s', 0, testBatch(i, 1, undefined, 300), -1)).errorCode).toBe(0)
    // A clean pass first: nothing intact is ever marked.
    const clean = await statsUntil(engine, (s) => s.passes >= 2)
    expect(clean.corruptBatches).toBe(0)

    const dir = join(dataDir, 's-0')
    const bases = readdirSync(dir).map((n) => parseSegmentFileName(n, LOG_SUFFIX)).filter((b): b is number => b !== undefined).sort((a, b) => a - b)
    expect(bases.length).toBeGreaterThan(3)
    const victimPath = join(dir, `${String(bases[1]).padStart(20, '0')}${LOG_SUFFIX}`)
    const content = readFileSync(victimPath)
    const { batches } = splitBatches(content)
    expect(batches.length).toBeGreaterThanOrEqual(3)
    const victim = batches[1]
    const victimBase = readBatchHeader(content.subarray(victim.offset)).baseOffset
    // Flip one bit somewhere in the CRC-covered part of the batch (attributes onwards).
    const at = victim.offset + 21 + random.int(victim.size - 21)
    const fd = openSync(victimPath, 'r+')
    const byte = Buffer.alloc(1)
    readSync(fd, byte, 0, 1, at)
    byte[0] ^= 1 << random.int(8)
    writeSync(fd, byte, 0, 1, at)
    closeSync(fd)

    const damages: ScrubDamageEvent[] = []
    engine.on('scrubDamage', (event: ScrubDamageEvent) => damages.push(event))
    const found = await statsUntil(engine, (s) => s.corruptBatches >= 1)
    expect(found.corruptBatches).toBe(1)
    expect(damages).toEqual([{ type: 'scrubDamage', topic: 's', partition: 0, path: victimPath, position: victim.offset, length: victim.size, firstOffset: victimBase, reason: expect.any(String) }])

    // The damaged batch itself: refused.
    const refused = await engine.read('s', 0, victimBase, 1 << 20)
    expect(refused.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR)
    expect(refused.segment).toBeNull()

    // A fetch from the batch before it stops right before it.
    const before = await engine.read('s', 0, victimBase - 1, 1 << 20)
    expect(before.errorCode).toBe(0)
    expect(before.segment!.position).toBe(batches[0].offset)
    expect(before.segment!.length).toBe(victim.offset - batches[0].offset)

    // Every batch after it (same segment and later ones) is still served, and intact.
    const after = readBatchHeader(content.subarray(batches[2].offset)).baseOffset
    let offset = after
    let served = 0
    for (let round = 0; round < 1000; round++) {
      const slice = await engine.read('s', 0, offset, 1 << 20, { holdFile: true })
      expect(slice.errorCode).toBe(0)
      if (!slice.segment) break
      const bytes = Buffer.alloc(slice.segment.length)
      try { readSync(slice.segment.heldFd!, bytes, 0, bytes.length, slice.segment.position) } finally { closeSync(slice.segment.heldFd!) }
      for (const b of splitBatches(bytes).batches) { validateBatch(bytes.subarray(b.offset, b.offset + b.size)); served++ }
      offset = slice.segment.nextOffset!
    }
    expect(offset).toBe(40)
    expect(served).toBe(40 - after)

    // An intact copy of the batch (what a replica fetches from its leader) repairs it in place.
    await expect(engine.repairDamagedRange('s', 0, victimPath, victim.offset, content.subarray(victim.offset, victim.offset + victim.size - 1))).rejects.toThrow(/bytes/)
    await engine.repairDamagedRange('s', 0, victimPath, victim.offset, content.subarray(victim.offset, victim.offset + victim.size))
    const repaired = await engine.read('s', 0, victimBase, 1 << 20)
    expect(repaired.errorCode).toBe(0)
    expect(repaired.segment!.position).toBe(victim.offset)
    expect(readFileSync(victimPath).equals(content)).toBe(true)
    expect((await statsUntil(engine, (s) => s.passes >= 1)).corruptBatches).toBe(1)
  })

  it('with scrubIntervalMs 0 nothing is scrubbed', async () => {
    const engine = fixture.engine({ dataDir: fixture.dir(), flush: 'always', maxWorkers: 1, scrubIntervalMs: 0 })
    await engine.openPartition('s', 0, { segmentBytes: 4096 })
    for (let i = 0; i < 20; i++) await engine.appendBatches('s', 0, testBatch(i, 1, undefined, 300), -1)
    const stats = (await engine.stats()).perPartition[0].scrub
    expect(stats).toEqual({ passes: 0, scannedBytes: 0, corruptBatches: 0, repairedBatches: 0 })
  })
})
