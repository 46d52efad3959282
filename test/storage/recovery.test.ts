import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { PartitionLog } from '../../src/storage/partition-log.js'
import type { LogConfig } from '../../src/storage/log-config.js'
import { scanSegmentFile } from '../../src/storage/recovery.js'
import { damagedFileWarningsDuring, tempPartitionDir, testBatch } from './log-test-helpers.js'

const CONFIG: Partial<LogConfig> = { segmentBytes: 1024, indexIntervalBytes: 100, flush: 'always' }
const cleanups: (() => void)[] = []
afterEach(() => { for (const c of cleanups.splice(0)) c() })

interface Written { offset: number; bytes: Buffer }

/** Appends `count` one-record batches, waits for them to be durable, returns the log still open (a crash image can be copied). */
async function writtenLog(count: number): Promise<{ log: PartitionLog; dir: string; written: Written[] }> {
  const { dir, cleanup } = tempPartitionDir()
  cleanups.push(cleanup)
  const log = await PartitionLog.open(dir, CONFIG)
  cleanups.unshift(() => { void log.close().catch(() => undefined) })
  const written: Written[] = []
  for (let i = 0; i < count; i++) {
    const batch = testBatch(i)
    const r = log.append(batch, { leaderEpoch: 3 })
    written.push({ offset: r.baseOffset, bytes: Buffer.from(batch) })
  }
  await log.whenDurable(log.logEndOffset - 1)
  return { log, dir, written }
}

/** Copies the partition directory as a crashed process would have left it (no clean close). */
function crashImage(dir: string): string {
  const root = mkdtempSync(join(tmpdir(), 'ringlog-crash-'))
  cleanups.push(() => rmSync(root, { recursive: true, force: true }))
  const copy = join(root, 'topic-0')
  cpSync(dir, copy, { recursive: true })
  return copy
}

function logFiles(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith('.log')).sort().map((n) => join(dir, n))
}

/** Reopens `dir` and checks it serves exactly written[0..expected) byte for byte, then still appends. */
async function expectIntactPrefix(dir: string, written: Written[], expected: number): Promise<void> {
  const log = await PartitionLog.open(dir, CONFIG)
  try {
    expect(log.logEndOffset).toBe(expected)
    for (let i = 0; i < expected; i++) {
      const slice = log.read(written[i].offset, 1)
      expect(slice.baseOffsetOfFirstBatch).toBe(written[i].offset)
      expect(log.readBytes(slice).equals(written[i].bytes)).toBe(true)
    }
    expect(log.append(testBatch(9999), { leaderEpoch: 4 }).baseOffset).toBe(expected)
  } finally {
    await log.close()
  }
}

describe('log recovery', () => {
  it('cuts a torn last batch at every byte offset and keeps everything before it', async () => {
    const { dir, written } = await writtenLog(30)
    const image = crashImage(dir)
    const last = logFiles(image).at(-1) as string
    const size = statSync(last).size
    const lastBatch = written[29].bytes.length
    for (let cut = 0; cut < lastBatch; cut++) {
      const copy = crashImage(image)
      truncateSync(logFiles(copy).at(-1) as string, size - lastBatch + cut)
      await expectIntactPrefix(copy, written, 29)
    }
    // The untouched image keeps all 30.
    await expectIntactPrefix(crashImage(image), written, 30)
  })

  it('cuts at a torn tail even after a clean shutdown marker', async () => {
    const { log, dir, written } = await writtenLog(20)
    await log.close()
    const copy = crashImage(dir)
    const last = logFiles(copy).at(-1) as string
    truncateSync(last, statSync(last).size - 5)
    await expectIntactPrefix(copy, written, 19)
  })

  it('drops the last batch when any of its checked bytes flips', async () => {
    const { dir, written } = await writtenLog(25)
    const image = crashImage(dir)
    const lastBatch = written[24].bytes.length
    for (let at = 0; at < lastBatch; at++) {
      // partitionLeaderEpoch (bytes 12-15) is outside the CRC by design: a flip there is undetectable.
      if (at >= 12 && at < 16) continue
      const copy = crashImage(image)
      const file = logFiles(copy).at(-1) as string
      const bytes = readFileSync(file)
      bytes[bytes.length - lastBatch + at] ^= 1 << (at % 8)
      writeFileSync(file, bytes)
      await expectIntactPrefix(copy, written, 24)
    }
  })

  it('cuts at a corrupt batch in the middle of the unflushed segment', async () => {
    const { dir, written } = await writtenLog(25)
    const copy = crashImage(dir)
    const file = logFiles(copy).at(-1) as string
    const bytes = readFileSync(file)
    const scan = scanSegmentFile(file, 100)
    expect(scan.batchCount).toBeGreaterThan(3)
    // Damage the 3rd batch of the active segment: it and everything after it go.
    const firstOffset = scan.baseOffset
    let position = 0
    for (let i = 0; i < 2; i++) position += written[firstOffset + i].bytes.length
    bytes[position + 40] ^= 0xff
    writeFileSync(file, bytes)
    await expectIntactPrefix(copy, written, firstOffset + 2)
  })

  it('rebuilds deleted and corrupt index files, says which, and serves the same reads and timestamp lookups', async () => {
    const { log, dir, written } = await writtenLog(120)
    await log.close()
    const expectedTimestamp = { offset: 57, timestamp: 1_700_000_000_057 }
    const reopenAndCheck = async (copy: string): Promise<void> => {
      const reopened = await PartitionLog.open(copy, CONFIG)
      try {
        expect(reopened.logEndOffset).toBe(120)
        for (const w of written) expect(reopened.readBytes(reopened.read(w.offset, 1)).equals(w.bytes)).toBe(true)
        expect(reopened.offsetForTimestamp(expectedTimestamp.timestamp)).toEqual(expectedTimestamp)
      } finally {
        await reopened.close()
      }
    }
    const indexFiles = (d: string, suffix: string): string[] => readdirSync(d).filter((n) => n.endsWith(suffix)).sort().map((n) => join(d, n))

    const deleted = crashImage(dir)
    const deletedIndexes = indexFiles(deleted, '.index')
    for (const f of [...deletedIndexes, ...indexFiles(deleted, '.timeindex')]) unlinkSync(f)
    // A clean shutdown trusts every segment's saved indexes: each missing one is reported by path.
    const deletedWarnings = await damagedFileWarningsDuring(() => reopenAndCheck(deleted))
    for (const f of deletedIndexes) expect(deletedWarnings.some((w) => w.includes(f))).toBe(true)
    expect(indexFiles(deleted, '.index').length).toBeGreaterThan(1)

    const garbage = crashImage(dir)
    const [firstIndex, secondIndex] = indexFiles(garbage, '.index')
    const entries = readFileSync(firstIndex)
    expect(entries.length).toBeGreaterThanOrEqual(16)
    entries.writeUInt32BE(0xffff, entries.length - 4) // a position past the end of the log
    writeFileSync(firstIndex, entries)
    writeFileSync(secondIndex, Buffer.alloc(16)) // entries that do not increase
    const [firstTime, secondTime] = indexFiles(garbage, '.timeindex')
    truncateSync(firstTime, statSync(firstTime).size - 1) // not a whole number of entries
    const times = readFileSync(secondTime)
    times.writeUInt32BE(0xffffff, 8) // an offset outside the segment
    writeFileSync(secondTime, times)
    const garbageWarnings = await damagedFileWarningsDuring(() => reopenAndCheck(garbage))
    for (const f of [firstIndex, secondIndex, firstTime.replace(/\.timeindex$/, '.index'), secondTime.replace(/\.timeindex$/, '.index')]) {
      expect(garbageWarnings.some((w) => w.includes(f)), `no warning names ${f}: ${garbageWarnings.join(' | ')}`).toBe(true)
    }
  })

  it('drops later segments when a rebuilt older segment turns out corrupt', async () => {
    const { log, dir, written } = await writtenLog(120)
    await log.close()
    const copy = crashImage(dir)
    const files = logFiles(copy)
    expect(files.length).toBeGreaterThan(3)
    const victim = files[1]
    unlinkSync(victim.replace(/\.log$/, '.index'))
    const bytes = readFileSync(victim)
    const scan = scanSegmentFile(victim, 100)
    bytes[bytes.length - 10] ^= 0x55 // the victim's last batch
    writeFileSync(victim, bytes)
    await expectIntactPrefix(copy, written, scan.nextOffset - 1)
    for (const later of files.slice(2)) expect(existsSync(later)).toBe(false)
  })
})
