/**
 * Damaged files, case by case, for every kind of file a node writes (issue 18 item 3): the topic
 * registry and producer ids under meta/, and in a partition directory the recovery-point,
 * log-start and cleaner checkpoints, the leader-epoch checkpoint, offset and time indexes,
 * segments and producer snapshots. A template is built once per kind; each case copies it,
 * damages one file (truncate, zero a range, flip a bit, append garbage) with a seeded random
 * source, opens what reads that file in-process, and checks that it opens, that nothing before
 * the damage point is lost, that no batch failing its CRC is served, and that a changed
 * checksummed file was renamed aside (the others are checked against the log and rebuilt).
 * Shared by test/crash/damaged-files.test.ts (npm test) and test/soak/damaged-files.test.ts.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { ProducerIdAllocator } from '../../src/core/producer-ids.js'
import { TopicRegistry, type TopicInfo } from '../../src/core/topic-registry.js'
import { CORRUPT_SUFFIX } from '../../src/storage/damaged-file.js'
import { CLEANER_OFFSET_CHECKPOINT, INDEX_SUFFIX, LEADER_EPOCH_CHECKPOINT, LOG_START_OFFSET_CHECKPOINT, LOG_SUFFIX, META_DIR, PRODUCER_IDS_FILE, PRODUCER_SNAPSHOT_SUFFIX, RECOVERY_POINT_CHECKPOINT, TIME_INDEX_SUFFIX, TOPICS_FILE, TXN_INDEX_SUFFIX } from '../../src/storage/file-names.js'
import { ProducerStateManager } from '../../src/storage/producer-state.js'
import { AbortedTxnIndex } from '../../src/storage/aborted-txn-index.js'
import { rebuildTxnIndex, TxnIndexScanCheck, txnIndexMismatch } from '../../src/storage/txn-index-check.js'
import { encodeTxnMarkerBatch } from '../../src/protocol/control-records.js'
import { PartitionScrubber } from '../../src/storage/scrub.js'
import { nodeStorageFs } from '../../src/storage/storage-fs.js'
import { RinglogError } from '../../src/errors.js'
import { PartitionLog } from '../../src/storage/partition-log.js'
import { encodeRecordBatch, validateBatch } from '../../src/protocol/record-batch.js'
import { expect } from 'vitest'
import { randomForTest, type SeededRandom } from '../seed.js'
import { damagedFileWarningsDuring as warningsDuring, testBatch } from '../storage/log-test-helpers.js'

export type DamageKind = 'truncate' | 'zero' | 'flip' | 'garbage'
export const DAMAGE_KINDS: readonly DamageKind[] = ['truncate', 'zero', 'flip', 'garbage']
export type FileKind =
  | 'topic-registry' | 'producer-ids' | 'recovery-point' | 'log-start'
  | 'cleaner-checkpoint' | 'leader-epoch' | 'offset-index' | 'time-index' | 'segment' | 'producer-snapshot' | 'txn-index'
export const FILE_KINDS: readonly FileKind[] = [
  'topic-registry', 'producer-ids', 'recovery-point', 'log-start',
  'cleaner-checkpoint', 'leader-epoch', 'offset-index', 'time-index', 'segment', 'producer-snapshot', 'txn-index',
]
/** Kinds held in the partition directory of the template log (the others are under meta/). */
const LOG_KINDS: ReadonlySet<FileKind> = new Set(['recovery-point', 'log-start', 'cleaner-checkpoint', 'leader-epoch', 'offset-index', 'time-index', 'segment', 'producer-snapshot'])
/** Kinds whose damaged file is renamed aside (checksummed); the others are checked against the log and rebuilt from it. */
export const QUARANTINED_KINDS: ReadonlySet<FileKind> = new Set(['topic-registry', 'producer-ids', 'recovery-point', 'log-start', 'cleaner-checkpoint', 'producer-snapshot'])
/** Checkpoint files written as Kafka's text format plus a crc32c line (a damaged one is renamed aside). */
const CHECKPOINT_FILES: Partial<Record<FileKind, string>> = {
  'recovery-point': RECOVERY_POINT_CHECKPOINT,
  'log-start': LOG_START_OFFSET_CHECKPOINT,
  'cleaner-checkpoint': CLEANER_OFFSET_CHECKPOINT,
}

/** Damages `data` one way; returns the damaged bytes and where the damage starts. */
export function damage(data: Buffer, kind: DamageKind, random: SeededRandom): { bytes: Buffer; at: number } {
  switch (kind) {
    case 'truncate': {
      const at = random.int(data.length)
      return { bytes: data.subarray(0, at), at }
    }
    case 'zero': {
      const at = random.int(data.length)
      const out = Buffer.from(data)
      out.fill(0, at, Math.min(data.length, at + 1 + random.int(16)))
      return { bytes: out, at }
    }
    case 'flip': {
      const at = random.int(data.length)
      const out = Buffer.from(data)
      out[at] ^= 1 << random.int(8)
      return { bytes: out, at }
    }
    case 'garbage': {
      const extra = Buffer.alloc(1 + random.int(32))
      for (let i = 0; i < extra.length; i++) extra[i] = random.int(256)
      return { bytes: Buffer.concat([data, extra]), at: data.length }
    }
  }
}

export interface Outcome { file: FileKind; damage: DamageKind; quarantined: boolean }

function quarantinedIn(dir: string, name: string): boolean {
  return readdirSync(dir).some((n) => n.startsWith(name + CORRUPT_SUFFIX))
}

const TOPICS: readonly { name: string; partitions: number; configs: Record<string, string> }[] = [
  { name: 'orders', partitions: 3, configs: { 'retention.ms': '3600000' } },
  { name: 'orders-eu-1', partitions: 2, configs: {} },
  { name: 'x', partitions: 1, configs: { 'cleanup.policy': 'delete', 'segment.bytes': '2097152' } },
]

/** What the intact template log holds, measured by reading it back. */
interface ExpectedLog {
  start: number
  end: number
  firstBase: number
  bytes: Buffer
  epochs: string
  cleanedUpTo: number
  /** For a sample of offsets, the base offset of the batch holding it. */
  batchOf: Map<number, number>
  /** For a sample of timestamps, the ListOffsets-by-time answer. */
  byTime: Map<number, number | undefined>
  /** Every batch, in file order: its segment file, byte position and bytes. */
  batches: { file: string; position: number; base: number; last: number; bytes: Buffer }[]
}

const LOG_CONFIG = { segmentBytes: 4096, indexIntervalBytes: 256 }
const PRODUCER_ID = 4242

/** Builds each template once; `runCase` copies one per case. */
export class DamageFixture {
  private readonly root = mkdtempSync(join(tmpdir(), 'ringlog-damage-'))
  private readonly templates = new Map<string, string>()
  private expectedLog: ExpectedLog | undefined
  private snapshotState: Buffer | undefined
  private abortedTxns: string | undefined
  private caseNo = 0

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true })
  }

  private async template(kind: FileKind): Promise<string> {
    const key = LOG_KINDS.has(kind) ? 'log' : kind
    const existing = this.templates.get(key)
    if (existing) return existing
    const dir = join(this.root, `template-${key}`)
    if (kind === 'topic-registry') {
      const registry = TopicRegistry.open(join(dir, META_DIR))
      for (const t of TOPICS) {
        registry.create(t.name, t.partitions, t.configs)
        for (let p = 0; p < t.partitions; p++) mkdirSync(join(dir, `${t.name}-${p}`))
      }
    } else if (kind === 'producer-ids') {
      const ids = ProducerIdAllocator.open(join(dir, META_DIR), 1000)
      for (let i = 0; i < 1500; i++) ids.allocate()
    } else if (kind === 'txn-index') {
      await this.buildTransactionalLog(join(dir, 't-0'))
    } else {
      await this.buildLog(join(dir, 't-0'))
    }
    this.templates.set(key, dir)
    return dir
  }

  /**
   * A log of several segments written by four leader epochs, whose start was moved past its
   * first segment (DeleteRecords), with a cleaner checkpoint and a producer-state snapshot,
   * closed cleanly (so every file a partition keeps is there and nothing is re-checked on open).
   */
  private async buildLog(dir: string): Promise<void> {
    const log = await PartitionLog.open(dir, LOG_CONFIG)
    const producers = new ProducerStateManager()
    const sequences = [0, 0]
    for (let i = 0; i < 60; i++) {
      const count = 1 + (i % 3)
      const appended = log.append(testBatch(i, count, undefined, 200), { leaderEpoch: Math.floor(i / 15) })
      producers.update({ producerId: PRODUCER_ID + (i % 2), producerEpoch: 0, baseSequence: sequences[i % 2], lastOffsetDelta: count - 1 }, appended.baseOffset, 1_700_000_000_000 + i)
      sequences[i % 2] += count
    }
    await log.flush()
    log.deleteRecordsBefore(Math.floor(log.logEndOffset / 3))
    log.setCleanedUpTo(log.logStartOffset)
    producers.writeSnapshot(dir, log.logEndOffset)
    this.snapshotState = producers.encode()
    const start = log.logStartOffset
    const end = log.logEndOffset
    await log.close()
    const segmentFiles = readdirSync(dir).filter((n) => n.endsWith('.log')).sort()
    const firstBase = Number(segmentFiles[0].slice(0, -4))
    if (!(firstBase < start)) throw new Error(`template: log start ${start} should lie past the first segment ${firstBase}`)
    const batches: ExpectedLog['batches'] = []
    for (const file of segmentFiles) {
      const bytes = readFileSync(join(dir, file))
      for (let pos = 0; pos < bytes.length;) {
        const size = 12 + bytes.readInt32BE(pos + 8)
        const base = Number(bytes.readBigInt64BE(pos))
        batches.push({ file, position: pos, base, last: base + bytes.readInt32BE(pos + 23), bytes: bytes.subarray(pos, pos + size) })
        pos += size
      }
    }
    const reopened = await PartitionLog.open(dir, LOG_CONFIG)
    const batchOf = new Map<number, number>()
    for (let o = start; o < end; o += 3) batchOf.set(o, firstBatchAt(reopened, o))
    const byTime = new Map<number, number | undefined>()
    for (let t = 1_700_000_000_000 - 5; t < 1_700_000_000_000 + 70; t += 2) byTime.set(t, reopened.offsetForTimestamp(t)?.offset)
    this.expectedLog = { start, end, firstBase, bytes: readAll(reopened, start), epochs: JSON.stringify(reopened.leaderEpochEntries), cleanedUpTo: reopened.cleanedUpTo, batchOf, byTime, batches }
    await reopened.close()
  }

  /**
   * A log of transactions by three producers over several segments: committed and aborted ones,
   * aborts of partitions the transaction never wrote to (no entry), plain batches between them;
   * its `.txnindex` files kept as the partition's worker keeps them.
   */
  private async buildTransactionalLog(dir: string): Promise<void> {
    const log = await PartitionLog.open(dir, LOG_CONFIG)
    const index = AbortedTxnIndex.load(dir, 0, 0)
    const sequences = new Map<number, number>()
    for (let t = 0; t < 40; t++) {
      const producerId = 700 + (t % 3)
      const empty = t % 7 === 6
      let firstOffset = -1
      for (let b = 0; !empty && b < 1 + (t % 2); b++) {
        const baseSequence = sequences.get(producerId) ?? 0
        const batch = encodeRecordBatch({ records: [{ key: `k${t}`, value: `txn ${t} batch ${b}`.padEnd(120, '.') }], producerId, producerEpoch: 0, baseSequence, transactional: true })
        sequences.set(producerId, baseSequence + 1)
        const appended = log.append(batch, { leaderEpoch: 0 })
        if (firstOffset < 0) firstOffset = appended.baseOffset
        if (t % 5 === 0) log.append(testBatch(1000 + t, 1, undefined, 100), { leaderEpoch: 0 })
      }
      const committed = t % 2 === 0
      const marker = log.append(encodeTxnMarkerBatch({ producerId, producerEpoch: 0, committed, coordinatorEpoch: 0 }), { leaderEpoch: 0 })
      if (!committed && !empty) index.add({ producerId, firstOffset, lastOffset: marker.baseOffset, lastStableOffset: firstOffset }, log.segmentBaseOf(marker.baseOffset))
    }
    await log.close()
    if (readdirSync(dir).filter((n) => n.endsWith(TXN_INDEX_SUFFIX)).length < 2) throw new Error('template: the aborted transactions should span several segments')
    this.abortedTxns = aborted(index)
  }

  /** The file of the template a case damages (a segment-directory kind picks one of its files at random). */
  private target(kind: FileKind, dir: string, random: SeededRandom): string {
    const metaDir = join(dir, META_DIR)
    if (kind === 'topic-registry') return join(metaDir, TOPICS_FILE)
    if (kind === 'producer-ids') return join(metaDir, PRODUCER_IDS_FILE)
    const partitionDir = join(dir, 't-0')
    const checkpoint = CHECKPOINT_FILES[kind]
    if (checkpoint) return join(partitionDir, checkpoint)
    if (kind === 'leader-epoch') return join(partitionDir, LEADER_EPOCH_CHECKPOINT)
    const suffix = kind === 'offset-index' ? INDEX_SUFFIX : kind === 'time-index' ? TIME_INDEX_SUFFIX : kind === 'segment' ? LOG_SUFFIX
      : kind === 'txn-index' ? TXN_INDEX_SUFFIX : PRODUCER_SNAPSHOT_SUFFIX
    // Index files of empty tails are empty; damage one with entries (truncate and garbage work on any).
    const names = readdirSync(partitionDir).filter((n) => n.endsWith(suffix) && readFileSync(join(partitionDir, n)).length > 0).sort()
    return join(partitionDir, names[random.int(names.length)])
  }

  /** One case: copy the template, damage the file, open, check. Throws (an expect) on a violation. */
  async runCase(kind: FileKind, how: DamageKind, random: SeededRandom, check: (ok: boolean, message: string) => void): Promise<Outcome> {
    const template = await this.template(kind)
    const dir = join(this.root, `case-${this.caseNo++}`)
    cpSync(template, dir, { recursive: true })
    try {
      const metaDir = join(dir, META_DIR)
      const partitionDir = join(dir, 't-0')
      const target = this.target(kind, dir, random)
      const original = readFileSync(target)
      const damaged = damage(original, how, random)
      writeFileSync(target, damaged.bytes)
      const changed = !damaged.bytes.equals(original)
      const where = `${kind} ${basename(target)} ${how} at ${damaged.at} of ${original.length}`
      let quarantined = false
      const warnings = await warningsDuring(async () => {
        if (kind === 'topic-registry') {
          const registry = TopicRegistry.open(metaDir)
          quarantined = quarantinedIn(metaDir, TOPICS_FILE)
          const got = registry.list().map((t) => ({ name: t.name, partitions: t.partitions })).sort((a, b) => a.name.localeCompare(b.name))
          const want = TOPICS.map((t) => ({ name: t.name, partitions: t.partitions })).sort((a, b) => a.name.localeCompare(b.name))
          check(JSON.stringify(got) === JSON.stringify(want), `${where}: topics ${JSON.stringify(got)}, want ${JSON.stringify(want)}`)
          if (!quarantined) check(registry.list().every((t: TopicInfo) => JSON.stringify(t.configs) === JSON.stringify(TOPICS.find((x) => x.name === t.name)?.configs)), `${where}: configs changed without quarantine`)
          // The rebuilt registry was saved sealed: the next open reads it as is.
          const again = TopicRegistry.open(metaDir).list().map((t) => `${t.name}:${t.partitions}`).sort().join(',')
          check(again === got.map((t) => `${t.name}:${t.partitions}`).sort().join(','), `${where}: reopened registry differs`)
        } else if (kind === 'producer-ids') {
          const ids = ProducerIdAllocator.open(metaDir, 1000)
          quarantined = quarantinedIn(metaDir, PRODUCER_IDS_FILE)
          const id = ids.allocate()
          check(id >= 2000, `${where}: allocated ${id}, ids below 2000 may have been handed out`)
        } else if (kind === 'producer-snapshot') {
          // A snapshot that fails its checksum is not loaded; the caller then replays the log from an older one (or from the start).
          const producers = new ProducerStateManager()
          const from = producers.loadLatestSnapshot(partitionDir, this.expectedLog!.end)
          quarantined = from < 0
          if (!quarantined) check(producers.encode().equals(this.snapshotState!), `${where}: a damaged snapshot was loaded as different state`)
        } else if (kind === 'txn-index') {
          // As the partition's worker opens it: entries checked against the log, then a scrub pass checks each segment's markers.
          const log = await PartitionLog.open(partitionDir, LOG_CONFIG)
          try {
            const index = AbortedTxnIndex.load(partitionDir, log.logStartOffset, log.logEndOffset)
            const why = txnIndexMismatch(log, index)
            if (why !== undefined) rebuildTxnIndex(log, index, why)
            const scan = new TxnIndexScanCheck()
            const scrubber = new PartitionScrubber(partitionDir, () => undefined, nodeStorageFs, () => undefined, () => log.cleanedUpTo, (scanned) => {
              const missing = scan.mismatch(log, index, scanned)
              if (missing !== undefined) rebuildTxnIndex(log, index, missing)
            })
            for (let guard = 0; scrubber.counters.passes === 0 && guard < 100_000; guard++) scrubber.step(1 << 20, Date.now(), 0)
            check(aborted(index) === this.abortedTxns, `${where}: aborted transactions ${aborted(index)}, want ${this.abortedTxns}`)
          } finally {
            await log.close()
          }
        } else if (kind === 'segment') {
          await this.checkSegmentDamage(partitionDir, target, damaged.at, where, check)
        } else {
          const log = await PartitionLog.open(partitionDir, LOG_CONFIG)
          try {
            const checkpoint = CHECKPOINT_FILES[kind]
            if (checkpoint) quarantined = quarantinedIn(partitionDir, checkpoint)
            const want = this.expectedLog!
            check(log.logEndOffset === want.end, `${where}: log end ${log.logEndOffset}, want ${want.end}`)
            check(log.logStartOffset <= want.start && log.logStartOffset >= want.firstBase, `${where}: log start ${log.logStartOffset} outside [${want.firstBase}, ${want.start}]`)
            check(readAll(log, want.start).equals(want.bytes), `${where}: the records from ${want.start} differ`)
            // Random access goes through the offset index: every offset must land in its own batch.
            for (const [offset, base] of want.batchOf) check(firstBatchAt(log, offset) === base, `${where}: a read at ${offset} starts at batch ${firstBatchAt(log, offset)}, want ${base}`)
            // The partition's scrub pass then checks each segment's indexes against its batches (a cut time index is found there).
            scrubPass(partitionDir, log)
            // A log start that fell back to the first segment (a damaged log-start checkpoint) answers earlier records by time too.
            if (log.logStartOffset === want.start) for (const [t, offset] of want.byTime) check(log.offsetForTimestamp(t)?.offset === offset, `${where}: ListOffsets(${t}) = ${log.offsetForTimestamp(t)?.offset}, want ${offset}`)
            if (kind === 'leader-epoch') check(JSON.stringify(log.leaderEpochEntries) === want.epochs, `${where}: leader epochs ${JSON.stringify(log.leaderEpochEntries)}, want ${want.epochs}`)
            if (kind === 'cleaner-checkpoint') check(log.cleanedUpTo === want.cleanedUpTo || (quarantined && log.cleanedUpTo <= want.cleanedUpTo), `${where}: cleaner checkpoint ${log.cleanedUpTo}, want ${want.cleanedUpTo}`)
          } finally {
            await log.close()
          }
        }
      })
      if (changed && !quarantined) {
        // Only a cut exactly before the crc32c trailer leaves a whole Kafka-format checkpoint; its values are intact.
        // Index, epoch and segment files are not renamed aside: they are checked against the log and rebuilt from it.
        check(kind !== 'topic-registry' && kind !== 'producer-ids' && kind !== 'producer-snapshot', `${where}: a changed ${kind} file was accepted`)
      }
      if (quarantined && kind !== 'producer-snapshot') check(warnings.some((w) => w.includes(target)), `${where}: quarantined without a warning naming ${target}`)
      return { file: kind, damage: how, quarantined }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }

  /**
   * A damaged segment after a clean shutdown: the log opens (recovery trusts closed segments),
   * the scrubber's pass finds the damage, and a reader served through the scrubber (as the
   * partition's worker serves fetches) gets only CRC-valid batches, every batch before the
   * damage point among them, and a KAFKA_STORAGE_ERROR where the damage starts.
   */
  private async checkSegmentDamage(partitionDir: string, target: string, at: number, where: string, check: (ok: boolean, message: string) => void): Promise<void> {
    const want = this.expectedLog!
    const file = basename(target)
    // Batches wholly before the damage (in earlier files, or before it in the damaged one) and from the log start.
    const intact = want.batches.filter((b) => (b.file < file || (b.file === file && b.position + b.bytes.length <= at)) && b.last >= want.start)
    const log = await PartitionLog.open(partitionDir, LOG_CONFIG)
    try {
      const scrubber = scrubPass(partitionDir, log)
      const served: Buffer[] = []
      let offset = Math.max(log.logStartOffset, want.start)
      let refused = false
      for (let guard = 0; offset < log.logEndOffset && guard < 10_000; guard++) {
        let slice: ReturnType<PartitionLog['read']>
        let length: number
        try {
          slice = log.read(offset, 1 << 20, { maxOffset: log.logEndOffset })
          if (slice.length === 0) break
          length = scrubber.servableLength(slice.path, slice.position, slice.length)
        } catch (error) {
          // A refused range, or a damaged header the read itself cannot walk: nothing is served.
          if (!(error instanceof RinglogError)) throw error
          refused = true
          break
        }
        const bytes = log.readBytes({ ...slice, length })
        for (let pos = 0; pos < bytes.length;) {
          const size = 12 + bytes.readInt32BE(pos + 8)
          try {
            validateBatch(bytes.subarray(pos, pos + size))
          } catch (error) {
            check(false, `${where}: served a batch that fails its check at ${slice.path}:${slice.position + pos}: ${(error as Error).message}`)
          }
          served.push(bytes.subarray(pos, pos + size))
          pos += size
        }
        if (length < slice.length) { refused = true; break }
        offset = slice.nextOffset
      }
      const servedBytes = Buffer.concat(served)
      const intactBytes = Buffer.concat(intact.map((b) => b.bytes))
      check(servedBytes.subarray(0, intactBytes.length).equals(intactBytes), `${where}: served ${servedBytes.length} bytes, not every one of the ${intactBytes.length} intact bytes before the damage`)
      void refused
    } finally {
      await log.close()
    }
  }
}

/** The aborted transactions an index holds, as a comparable string (the LSO field is informational: left out). */
function aborted(index: AbortedTxnIndex): string {
  return JSON.stringify(index.all().map((e) => [e.producerId, e.firstOffset, e.lastOffset]))
}

/** One whole scrub pass over the partition, wired as its worker wires it (damage marked, indexes checked). */
function scrubPass(partitionDir: string, log: PartitionLog): PartitionScrubber {
  const scrubber = new PartitionScrubber(partitionDir, () => undefined, nodeStorageFs, () => undefined, () => log.cleanedUpTo, (scanned) => log.checkIndexes(scanned))
  for (let guard = 0; scrubber.counters.passes === 0 && guard < 100_000; guard++) scrubber.step(1 << 20, Date.now(), 0)
  return scrubber
}

/** The base offset of the first batch a read at `offset` returns (-1: nothing). */
function firstBatchAt(log: PartitionLog, offset: number): number {
  const slice = log.read(offset, 1, { maxOffset: log.logEndOffset })
  return slice.length === 0 ? -1 : slice.baseOffsetOfFirstBatch
}

/** Every batch from `from` to the log end, checked batch by batch (a batch whose CRC fails throws). */
function readAll(log: PartitionLog, from: number): Buffer {
  const parts: Buffer[] = []
  let offset = from
  for (let guard = 0; offset < log.logEndOffset && guard < 10_000; guard++) {
    const slice = log.read(offset, 1 << 20, { maxOffset: log.logEndOffset })
    if (slice.length === 0) break
    const bytes = log.readBytes(slice)
    for (let pos = 0; pos < bytes.length;) {
      const size = 12 + bytes.readInt32BE(pos + 8)
      validateBatch(bytes.subarray(pos, pos + size))
      pos += size
    }
    parts.push(bytes)
    offset = slice.nextOffset
  }
  return Buffer.concat(parts)
}

/** Runs `cases` cases round-robin over file and damage kinds; prints the seed and a tally. */
export async function runDamageCases(fixtureToUse: DamageFixture, cases: number): Promise<Outcome[]> {
  const random = randomForTest()
  process.stdout.write(`damaged-files: seed=${random.seed} cases=${cases}\n`)
  const outcomes: Outcome[] = []
  for (let i = 0; i < cases; i++) {
    const file = FILE_KINDS[i % FILE_KINDS.length]
    const how = DAMAGE_KINDS[Math.floor(i / FILE_KINDS.length) % DAMAGE_KINDS.length]
    outcomes.push(await fixtureToUse.runCase(file, how, random, (ok, message) => expect(ok, message).toBe(true)))
  }
  const tally = new Map<string, { cases: number; quarantined: number }>()
  for (const o of outcomes) {
    const key = `${o.file}/${o.damage}`
    const t = tally.get(key) ?? { cases: 0, quarantined: 0 }
    t.cases++
    if (o.quarantined) t.quarantined++
    tally.set(key, t)
  }
  for (const [key, t] of [...tally].sort()) {
    const kind = key.slice(0, key.indexOf('/')) as FileKind
    process.stdout.write(`  ${key}: ${t.cases} cases, ${kind === 'segment' ? 'scrubbed (the damaged range refused, nothing before it lost)' : kind === 'producer-snapshot' ? `${t.quarantined} refused (the log is replayed instead)` : QUARANTINED_KINDS.has(kind) ? `${t.quarantined} renamed aside` : 'checked against the log (rebuilt where they differ)'}, all opened\n`)
  }
  return outcomes
}

