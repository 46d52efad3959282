/**
 * The log cleaner on real segment files (storage level): last value per key kept with its
 * original offset, tombstones removed only after delete.retention.ms, the active segment and
 * records younger than min.compaction.lag.ms untouched, the dirty ratio respected, a reopen
 * (clean or after a crash) accepting the offset gaps, and every leftover of an interrupted
 * swap finished on open.
 */
import { closeSync, copyFileSync, existsSync, openSync, readdirSync, readSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import nativeBinding from '../../native-bindings/index.js'
import { Compression } from '../../src/protocol/compression.js'
import { decodeRecordBatch, encodeRecordBatch, splitBatches } from '../../src/protocol/record-batch.js'
import type { RecordInput } from '../../src/protocol/records.js'
import { hasKeylessRecord } from '../../src/storage/cleaner-records.js'
import { CleanerPacer, LogCleaner } from '../../src/storage/log-cleaner.js'
import type { LogConfig } from '../../src/storage/log-config.js'
import { PartitionLog } from '../../src/storage/partition-log.js'
import { PartitionScrubber } from '../../src/storage/scrub.js'
import { tempPartitionDir } from './log-test-helpers.js'

const T0 = 1_700_000_000_000
const cleanups: (() => void)[] = []
afterEach(async () => { for (const c of cleanups.splice(0)) await c() })

const COMPACT: Partial<LogConfig> = { segmentBytes: 4096, indexIntervalBytes: 256, flush: 'never', compact: true, deleteByRetention: false, fileDeleteDelayMs: 0 }

async function openLog(config: Partial<LogConfig> = {}, clock: () => number = () => T0 + 10_000, dir?: string): Promise<{ log: PartitionLog; dir: string }> {
  let where = dir
  if (!where) {
    const made = tempPartitionDir()
    cleanups.push(made.cleanup)
    where = made.dir
  }
  const log = await PartitionLog.open(where, { ...COMPACT, ...config }, { clock })
  cleanups.unshift(() => log.close().catch(() => undefined))
  return { log, dir: where }
}

function batch(records: { key: string | null; value: string | null; ts?: number }[], compression: number = Compression.none): Buffer {
  const input: RecordInput[] = records.map((r) => ({ key: r.key, value: r.value, timestamp: r.ts ?? T0 }))
  return encodeRecordBatch({ records: input, compression })
}

interface Read { offset: number; key: string; value: string | null }

function readAll(log: PartitionLog): Read[] {
  const out: Read[] = []
  let offset = log.logStartOffset
  for (let guard = 0; guard < 10_000; guard++) {
    const slice = log.read(offset, 1 << 20)
    if (slice.length === 0) break
    const bytes = log.readBytes(slice)
    for (const b of splitBatches(bytes).batches) {
      const { header, records } = decodeRecordBatch(bytes, b.offset)
      for (const r of records) out.push({ offset: header.baseOffset + r.offsetDelta, key: String(r.key), value: r.value === null ? null : String(r.value) })
    }
    offset = slice.nextOffset
  }
  return out
}

/** Runs cleaner steps until a pass ends (bounded). */
function cleanFully(cleaner: LogCleaner, lso = Number.MAX_SAFE_INTEGER): number {
  let steps = 0
  let read = cleaner.step(lso)
  while (cleaner.busy && steps < 1000) { read += cleaner.step(lso); steps++ }
  expect(cleaner.busy).toBe(false)
  return read
}

/** key -> last value in `records` (what a compacted log must still say). */
function lastValues(records: Read[]): Map<string, string | null> {
  const m = new Map<string, string | null>()
  for (const r of records) m.set(r.key, r.value)
  return m
}

/** Appends `updates` rounds of one record for each of `keys` keys, `perBatch` records a batch. */
function writeUpdates(log: PartitionLog, keys: number, updates: number, perBatch: number, compression: number = Compression.none): void {
  const pending: { key: string; value: string }[] = []
  for (let u = 0; u < updates; u++) {
    for (let k = 0; k < keys; k++) {
      pending.push({ key: `key-${k}`, value: `value-${k}-${u}-${'x'.repeat(20)}` })
      if (pending.length === perBatch) log.append(batch(pending.splice(0), compression), { leaderEpoch: 0 })
    }
  }
  if (pending.length > 0) log.append(batch(pending.splice(0), compression), { leaderEpoch: 0 })
}

describe('LogCleaner', () => {
  it('keeps exactly the last value of every key at its original offset, across batches and codecs', async () => {
    for (const compression of [Compression.none, Compression.lz4, Compression.gzip]) {
      const { log, dir } = await openLog()
      writeUpdates(log, 25, 12, 7, compression)
      const before = readAll(log)
      const cleaner = new LogCleaner(log)
      expect(cleanFully(cleaner)).toBeGreaterThan(0)
      const after = readAll(log)
      expect(lastValues(after)).toEqual(lastValues(before))
      // Strictly increasing offsets with gaps; every kept record sits at its original offset.
      const original = new Map(before.map((r) => [r.offset, r]))
      for (let i = 1; i < after.length; i++) expect(after[i].offset).toBeGreaterThan(after[i - 1].offset)
      for (const r of after) expect(original.get(r.offset)).toEqual(r)
      // The closed segments hold one record per key at most; the active segment is untouched.
      const activeBase = log.activeSegmentBaseOffset
      const cleaned = after.filter((r) => r.offset < activeBase)
      expect(new Set(cleaned.map((r) => r.key)).size).toBe(cleaned.length)
      expect(after.filter((r) => r.offset >= activeBase)).toEqual(before.filter((r) => r.offset >= activeBase))
      expect(cleaned.length).toBeLessThanOrEqual(25)
      expect(after.length).toBeLessThan(before.length)
      expect(cleaner.counters.passes).toBe(1)
      expect(cleaner.counters.removedRecords).toBe(before.length - after.length)
      expect(cleaner.counters.removedBytes).toBeGreaterThan(0)
      expect(readdirSync(dir).filter((n) => n.endsWith('.cleaned') || n.endsWith('.swap'))).toEqual([])
      expect(log.cleanedUpTo).toBe(activeBase)
      // The next open (clean) keeps the same records; so does one after a crash (no marker).
      const endBefore = log.logEndOffset
      await log.close()
      const reopened = await openLog({}, undefined, dir)
      expect(readAll(reopened.log)).toEqual(after)
      expect(reopened.log.logEndOffset).toBe(endBefore)
    }
  })

  it('accepts the offset gaps on a recovery scan below the cleaner checkpoint only', async () => {
    const { log, dir } = await openLog()
    writeUpdates(log, 10, 20, 5)
    cleanFully(new LogCleaner(log))
    const after = readAll(log)
    const end = log.logEndOffset
    await log.close()
    // A crash: no clean-shutdown marker and no recovery point, so every segment is scanned.
    for (const name of ['.ringlog-clean-shutdown', 'recovery-point-offset-checkpoint']) if (existsSync(join(dir, name))) renameSync(join(dir, name), join(dir, `${name}.gone`))
    const recovered = await openLog({}, undefined, dir)
    expect(recovered.log.recovery.segmentsScanned).toBeGreaterThan(1)
    expect(recovered.log.recovery.corruption).toBeUndefined()
    expect(readAll(recovered.log)).toEqual(after)
    expect(recovered.log.logEndOffset).toBe(end)
  })

  it('the scrubber takes the cleaned gaps for the cleaner\'s work, below the checkpoint only', async () => {
    const { log, dir } = await openLog()
    writeUpdates(log, 10, 20, 5)
    cleanFully(new LogCleaner(log))
    const aware: string[] = []
    new PartitionScrubber(dir, (m) => aware.push(m), undefined, undefined, () => log.cleanedUpTo).step(1 << 30, T0, 0)
    expect(aware).toEqual([])
    const unaware: string[] = []
    new PartitionScrubber(dir, (m) => unaware.push(m)).step(1 << 30, T0, 0)
    expect(unaware.join('\n')).toMatch(/where \d+ was due/)
  })

  it('removes a tombstone only once it is older than delete.retention.ms', async () => {
    let now = T0 + 1000
    const { log } = await openLog({ deleteRetentionMs: 60_000 }, () => now)
    writeUpdates(log, 10, 5, 10)
    log.append(batch([{ key: 'key-3', value: null, ts: T0 + 500 }]), { leaderEpoch: 0 })
    writeUpdates(log, 2, 60, 10) // rolls the tombstone out of the active segment
    const cleaner = new LogCleaner(log)
    cleanFully(cleaner)
    let records = readAll(log)
    expect(records.filter((r) => r.key === 'key-3')).toEqual([expect.objectContaining({ value: null })])
    now = T0 + 500 + 60_001
    // Dirty again (new updates), so a second pass runs and drops the expired tombstone.
    writeUpdates(log, 2, 60, 10)
    cleanFully(cleaner)
    records = readAll(log)
    expect(records.filter((r) => r.key === 'key-3')).toEqual([])
    expect(lastValues(records).get('key-4')).toBe('value-4-4-' + 'x'.repeat(20))
  })

  it('waits for the dirty ratio and leaves records younger than min.compaction.lag.ms', async () => {
    const now = T0 + 100_000
    const { log } = await openLog({ minCleanableDirtyRatio: 0.99 }, () => now)
    writeUpdates(log, 10, 20, 5)
    const cleaner = new LogCleaner(log)
    cleanFully(cleaner)
    const once = readAll(log)
    writeUpdates(log, 10, 4, 5)
    // Little dirty data against a large clean section: below the 0.99 ratio, nothing happens.
    expect(cleaner.step(Number.MAX_SAFE_INTEGER)).toBe(0)
    expect(readAll(log).length).toBeGreaterThan(once.length)

    const young = await openLog({ minCompactionLagMs: 50_000 }, () => now)
    const records: { key: string; value: string; ts: number }[] = []
    for (let i = 0; i < 400; i++) records.push({ key: `k${i % 5}`, value: `v${i}-${'y'.repeat(30)}`, ts: i < 200 ? T0 : now - 1000 })
    for (let i = 0; i < records.length; i += 5) young.log.append(batch(records.slice(i, i + 5)), { leaderEpoch: 0 })
    const youngCleaner = new LogCleaner(young.log)
    const state = youngCleaner.cleanableState(Number.MAX_SAFE_INTEGER)
    cleanFully(youngCleaner)
    const left = readAll(young.log)
    // Every record at or past the first uncleanable offset (the first too-young segment) is still there.
    expect(left.filter((r) => r.offset >= state.firstUncleanable).length).toBe(records.length - state.firstUncleanable)
    expect(left.length).toBeLessThan(records.length)
    // The last stable offset bounds the range too: nothing at or past it is cleaned.
    const lso = await openLog()
    writeUpdates(lso.log, 5, 40, 5)
    const lsoCleaner = new LogCleaner(lso.log)
    expect(lsoCleaner.cleanableState(0).dirty).toEqual([])
    expect(lsoCleaner.step(0)).toBe(0)
  })

  it('finishes an interrupted swap on open: .cleaned is dropped, a complete .swap replaces the original', async () => {
    const { log, dir } = await openLog()
    // Keys written once, so the first segment keeps records after cleaning.
    log.append(batch(Array.from({ length: 10 }, (_, i) => ({ key: `once-${i}`, value: `v${i}` }))), { leaderEpoch: 0 })
    writeUpdates(log, 10, 20, 5)
    const before = readAll(log)
    const firstLog = readdirSync(dir).filter((n) => n.endsWith('.log')).sort()[0]
    const stem = firstLog.slice(0, -'.log'.length)
    const original = join(dir, 'original.bak')
    copyFileSync(join(dir, firstLog), original)
    const originalIndexes = ['.index', '.timeindex'].map((suffix) => {
      const kept = join(dir, `original${suffix}.bak`)
      copyFileSync(join(dir, stem + suffix), kept)
      return [kept, join(dir, stem + suffix)] as const
    })
    cleanFully(new LogCleaner(log))
    const after = readAll(log)
    await log.close()
    // Crash after the `.log.swap` rename but before the original was retired: the swap wins.
    renameSync(join(dir, firstLog), join(dir, `${firstLog}.swap`))
    copyFileSync(original, join(dir, firstLog))
    renameSync(join(dir, `${stem}.index`), join(dir, `${stem}.index.swap`))
    // And a stray `.cleaned` from a later, unfinished pass.
    writeFileSync(join(dir, `${stem}.log.cleaned`), 'partial')
    const reopened = await openLog({}, undefined, dir)
    expect(readAll(reopened.log)).toEqual(after)
    expect(readdirSync(dir).filter((n) => n.endsWith('.cleaned') || n.endsWith('.swap'))).toEqual([])
    await reopened.log.close()
    // Crash while the replacement was still `.cleaned`: the original stays.
    copyFileSync(join(dir, firstLog), `${join(dir, firstLog)}.cleaned`)
    copyFileSync(original, join(dir, firstLog))
    for (const [kept, path] of originalIndexes) copyFileSync(kept, path)
    const third = await openLog({}, undefined, dir)
    // The first segment reads as it was before cleaning; the later (cleaned) ones as after.
    const reread = readAll(third.log)
    expect(reread.slice(0, 15)).toEqual(before.slice(0, 15))
    expect(lastValues(reread)).toEqual(lastValues(before))
    expect(reread.length).toBeGreaterThan(after.length)
    expect(readdirSync(dir).filter((n) => n.endsWith('.cleaned'))).toEqual([])
  })

  it('keeps transactional and control batches as they are and does not let them supersede', async () => {
    const { log } = await openLog()
    log.append(batch([{ key: 'a', value: 'plain-1' }]), { leaderEpoch: 0 })
    log.append(encodeRecordBatch({ records: [{ key: 'a', value: 'txn-2', timestamp: T0 }], transactional: true, producerId: 7, producerEpoch: 0, baseSequence: 0 }), { leaderEpoch: 0 })
    writeUpdates(log, 3, 80, 6)
    cleanFully(new LogCleaner(log))
    const values = readAll(log).filter((r) => r.key === 'a').map((r) => r.value)
    expect(values).toEqual(['plain-1', 'txn-2'])
  })

  it('a fetch holding its segment file during a swap reads the old bytes intact', async () => {
    // fileDeleteDelayMs 0: the original is unlinked the moment it is swapped out.
    const { log } = await openLog({ fileDeleteDelayMs: 0 })
    log.append(batch(Array.from({ length: 10 }, (_, i) => ({ key: `once-${i}`, value: `v${i}` }))), { leaderEpoch: 0 })
    writeUpdates(log, 10, 20, 5)
    const slice = log.read(0, 1 << 20)
    const before = Buffer.from(log.readBytes(slice))
    // What the worker does for a fetch (holdSegmentFile): a descriptor of the reader's own.
    const held = nativeBinding !== null ? nativeBinding.dup(slice.fd) : openSync(slice.path, 'r')
    try {
      cleanFully(new LogCleaner(log))
      const now = Buffer.alloc(slice.length)
      const fresh = openSync(slice.path, 'r')
      const freshBytes = readSync(fresh, now, 0, slice.length, slice.position)
      closeSync(fresh)
      // Under the same name there is now the cleaned segment...
      expect(freshBytes < slice.length || !now.equals(before)).toBe(true)
      // ...while the held descriptor still streams the original bytes.
      const out = Buffer.alloc(slice.length)
      expect(readSync(held, out, 0, slice.length, slice.position)).toBe(slice.length)
      expect(out.equals(before)).toBe(true)
    } finally {
      closeSync(held)
    }
  })

  it('the pacer keeps the cleaner to a fifth of the thread', () => {
    const pacer = new CleanerPacer()
    expect(pacer.ready(0)).toBe(true)
    pacer.ran(100, 110) // a 10 ms step: the next may start 50 ms after this one began
    expect(pacer.ready(149)).toBe(false)
    expect(pacer.ready(150)).toBe(true)
  })

  it('tells a batch with a keyless record', () => {
    const keyed = batch([{ key: 'a', value: '1' }, { key: 'b', value: '2' }], Compression.lz4)
    const keyless = batch([{ key: 'a', value: '1' }, { key: null, value: '2' }], Compression.lz4)
    expect(hasKeylessRecord(keyed, 0, keyed.length)).toBe(false)
    expect(hasKeylessRecord(keyless, 0, keyless.length)).toBe(true)
  })
})
