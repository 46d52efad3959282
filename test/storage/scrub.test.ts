/**
 * PartitionScrubber on a real log directory (storage/scrub.ts): the byte budget bounds each
 * step, intact segments are never marked, and each kind of damage is found and refused with
 * the right extent. Damage positions come from a seeded random source (RINGLOG_SEED replays).
 */
import { closeSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { RinglogError } from '../../src/errors.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { splitBatches } from '../../src/protocol/record-batch.js'
import { LOG_SUFFIX, parseSegmentFileName } from '../../src/storage/file-names.js'
import { PartitionLog } from '../../src/storage/partition-log.js'
import { PartitionScrubber, type ScrubDamage } from '../../src/storage/scrub.js'
import { randomForTest } from '../seed.js'
import { tempPartitionDir, testBatch } from './log-test-helpers.js'

const cleanups: (() => void)[] = []
afterEach(() => { for (const c of cleanups.splice(0)) c() })

/** A closed log of several 4 KiB segments; returns its dir and the closed segment paths in order. */
/** A cleanly closed log: its segment files (`closed`: all but the newest, `all`: every one). */
async function closedLog(): Promise<{ dir: string; closed: string[]; all: string[] }> {
  const { dir, cleanup } = tempPartitionDir()
  cleanups.push(cleanup)
  const log = await PartitionLog.open(dir, { segmentBytes: 4096 })
  for (let i = 0; i < 50; i++) log.append(testBatch(i, 1, undefined, 300), { leaderEpoch: 0 })
  await log.close()
  const bases = readdirSync(dir).map((n) => parseSegmentFileName(n, LOG_SUFFIX)).filter((b): b is number => b !== undefined).sort((a, b) => a - b)
  const all = bases.map((b) => join(dir, `${String(b).padStart(20, '0')}${LOG_SUFFIX}`))
  return { dir, closed: all.slice(0, -1), all }
}

function patch(path: string, at: number, bytes: Buffer): void {
  const fd = openSync(path, 'r+')
  try { writeSync(fd, bytes, 0, bytes.length, at) } finally { closeSync(fd) }
}

function fullPass(scrubber: PartitionScrubber): void {
  for (let i = 0; i < 10_000 && scrubber.counters.passes === 0; i++) scrubber.step(1 << 20, 0, 1000)
  expect(scrubber.counters.passes).toBe(1)
}

function refusalCode(fn: () => unknown): number | undefined {
  try { fn() } catch (error) { return error instanceof RinglogError ? error.code : -1 }
  return undefined
}

describe('PartitionScrubber', () => {
  it('reads at most the budget per step (plus one batch), never marks an intact log, and waits out the interval between passes', async () => {
    const { dir, all } = await closedLog()
    const reports: string[] = []
    const scrubber = new PartitionScrubber(dir, (m) => reports.push(m))
    // Every segment, the newest too: after a clean shutdown no recovery re-reads it either.
    const total = all.reduce((sum, p) => sum + readFileSync(p).length, 0)
    let steps = 0
    for (; steps < 10_000 && scrubber.counters.passes === 0; steps++) expect(scrubber.step(1000, 0, 5000)).toBeLessThanOrEqual(1000 + 400)
    expect(scrubber.counters).toEqual({ passes: 1, scannedBytes: total, corruptBatches: 0, repairedBatches: 0 })
    expect(steps).toBeGreaterThanOrEqual(Math.floor(total / 1400))
    expect(reports).toEqual([])
    expect(scrubber.step(1000, 4999, 5000)).toBe(0) // the interval has not passed since the pass began at 0
    expect(scrubber.step(1000, 5000, 5000)).toBeGreaterThan(0)
  })

  it('the newest segment is scrubbed too; a damaged batch there is refused, batches appended after the scan are served', async () => {
    const random = randomForTest()
    const { dir, all } = await closedLog()
    const path = all[all.length - 1]
    const { batches } = splitBatches(readFileSync(path))
    const victim = batches[random.int(batches.length)]
    // In the records (past the 61-byte header): a flipped header field could fail the clean open's
    // header walk, and recovery would then cut the batch rather than leave it for the scrubber.
    const at = victim.offset + 61 + random.int(victim.size - 61)
    patch(path, at, Buffer.from([readFileSync(path)[at] ^ (1 << random.int(8))]))
    // segment.ms out of the way: the test batches carry 2023 timestamps, which would roll the segment at once.
    const log = await PartitionLog.open(dir, { segmentBytes: 4096, segmentMs: 2 ** 50 })
    try {
      const scrubber = new PartitionScrubber(dir, () => undefined)
      fullPass(scrubber)
      expect(scrubber.counters.corruptBatches).toBe(1)
      expect(refusalCode(() => scrubber.servableLength(path, victim.offset, victim.size))).toBe(ErrorCode.KAFKA_STORAGE_ERROR)
      const end = readFileSync(path).length
      log.append(testBatch(99, 1, undefined, 10), { leaderEpoch: 0 })
      expect(readFileSync(path).length).toBeGreaterThan(end)
      expect(scrubber.servableLength(path, end, readFileSync(path).length - end)).toBe(readFileSync(path).length - end)
    } finally {
      await log.close()
    }
  })

  it('a flipped bit in a batch body: that batch alone is refused, reads before it stop short of it', async () => {
    const random = randomForTest()
    const { dir, closed } = await closedLog()
    const path = closed[random.int(closed.length)]
    const { batches } = splitBatches(readFileSync(path))
    const victim = batches[1 + random.int(batches.length - 2)]
    const at = victim.offset + 21 + random.int(victim.size - 21)
    const original = readFileSync(path)[at]
    patch(path, at, Buffer.from([original ^ (1 << random.int(8))]))
    const reports: string[] = []
    const scrubber = new PartitionScrubber(dir, (m) => reports.push(m))
    fullPass(scrubber)
    expect(scrubber.counters.corruptBatches).toBe(1)
    expect(reports.length).toBe(1)
    expect(reports[0]).toContain(path)
    expect(refusalCode(() => scrubber.servableLength(path, victim.offset, victim.size))).toBe(ErrorCode.KAFKA_STORAGE_ERROR)
    expect(scrubber.servableLength(path, batches[0].offset, 4096)).toBe(victim.offset - batches[0].offset)
    const next = batches[batches.indexOf(victim) + 1]
    expect(scrubber.servableLength(path, next.offset, next.size)).toBe(next.size)
  })

  it('a flipped base offset (outside the batch CRC) is caught by offset continuity', async () => {
    const { dir, closed } = await closedLog()
    const path = closed[0]
    const { batches } = splitBatches(readFileSync(path))
    patch(path, batches[1].offset + 7, Buffer.from([0x7f]))
    const scrubber = new PartitionScrubber(dir, () => undefined)
    fullPass(scrubber)
    expect(scrubber.counters.corruptBatches).toBe(1)
    expect(refusalCode(() => scrubber.servableLength(path, batches[1].offset, 1))).toBe(ErrorCode.KAFKA_STORAGE_ERROR)
    expect(refusalCode(() => scrubber.servableLength(path, batches[2].offset, 1))).toBeUndefined()
  })

  it('a zeroed batch length: the rest of that segment is refused, later segments are not', async () => {
    const { dir, closed } = await closedLog()
    const path = closed[0]
    const { batches } = splitBatches(readFileSync(path))
    patch(path, batches[1].offset + 8, Buffer.alloc(4))
    const scrubber = new PartitionScrubber(dir, () => undefined)
    fullPass(scrubber)
    expect(scrubber.counters.corruptBatches).toBe(1)
    const last = batches[batches.length - 1]
    expect(refusalCode(() => scrubber.servableLength(path, last.offset, last.size))).toBe(ErrorCode.KAFKA_STORAGE_ERROR)
    expect(scrubber.servableLength(closed[1], 0, 100)).toBe(100)
    scrubber.forget()
    expect(scrubber.servableLength(path, last.offset, last.size)).toBe(last.size)
  })

  it('repairs a damaged batch with an intact copy of it: the range is served again and a new pass finds the file whole', async () => {
    const random = randomForTest()
    const { dir, closed } = await closedLog()
    const path = closed[random.int(closed.length)]
    const intact = readFileSync(path)
    const { batches } = splitBatches(intact)
    const victim = batches[1 + random.int(batches.length - 2)]
    patch(path, victim.offset + 30, Buffer.from([intact[victim.offset + 30] ^ 0x10]))
    const damages: ScrubDamage[] = []
    const scrubber = new PartitionScrubber(dir, () => undefined, undefined, (d) => damages.push(d))
    fullPass(scrubber)
    expect(damages).toEqual([{ path, position: victim.offset, length: victim.size, firstOffset: Number(intact.readBigInt64BE(victim.offset)), reason: expect.any(String) }])
    // A copy of another length, or of other batches, is refused and nothing is written.
    expect(() => scrubber.repair(path, victim.offset, intact.subarray(victim.offset, victim.offset + victim.size - 1))).toThrow(/bytes/)
    const neighbour = batches[batches.indexOf(victim) + 1]
    if (neighbour.size === victim.size) expect(() => scrubber.repair(path, victim.offset, intact.subarray(neighbour.offset, neighbour.offset + neighbour.size))).toThrow(/offset/)
    expect(refusalCode(() => scrubber.servableLength(path, victim.offset, 1))).toBe(ErrorCode.KAFKA_STORAGE_ERROR)
    scrubber.repair(path, victim.offset, intact.subarray(victim.offset, victim.offset + victim.size))
    expect(readFileSync(path).equals(intact)).toBe(true)
    expect(scrubber.servableLength(path, victim.offset, victim.size)).toBe(victim.size)
    expect(scrubber.counters.repairedBatches).toBe(1)
    for (let i = 0; i < 10_000 && scrubber.counters.passes < 2; i++) scrubber.step(1 << 20, 1, 1000)
    expect(scrubber.counters).toMatchObject({ passes: 2, corruptBatches: 1 })
  })

  it('repairs an unparsable segment tail with the copy of everything from the damage to the end of the segment', async () => {
    const { dir, closed } = await closedLog()
    const path = closed[0]
    const intact = readFileSync(path)
    const { batches } = splitBatches(intact)
    patch(path, batches[2].offset + 8, Buffer.alloc(4))
    const damages: ScrubDamage[] = []
    const scrubber = new PartitionScrubber(dir, () => undefined, undefined, (d) => damages.push(d))
    fullPass(scrubber)
    expect(damages).toMatchObject([{ path, position: batches[2].offset, length: intact.length - batches[2].offset }])
    expect(() => scrubber.repair(path, batches[2].offset, intact.subarray(batches[2].offset, batches[3].offset))).toThrow(/bytes/)
    scrubber.repair(path, batches[2].offset, intact.subarray(batches[2].offset))
    expect(readFileSync(path).equals(intact)).toBe(true)
    const last = batches[batches.length - 1]
    expect(scrubber.servableLength(path, last.offset, last.size)).toBe(last.size)
  })
})
