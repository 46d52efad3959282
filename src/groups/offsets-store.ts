import { Buffer } from 'node:buffer'
import { mkdir, open, readdir, readFile, unlink, writeFile, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { pack, unpack } from '../msgpack.js'
import { crc32c } from '../protocol/crc32c.js'
import { atomicTempPath, writeFileAtomic } from '../storage/atomic-file.js'
import { OFFSETS_LOG_PATTERN, OFFSETS_SNAPSHOT_FILE as SNAPSHOT_FILE, offsetsLogFileName } from '../storage/file-names.js'
import { CorruptRecordError, DiskFullError, LogClosedError, StorageOfflineError } from '../errors.js'
import type { CommittedOffset, OffsetsBackend, OffsetToCommit, TopicPartition } from './offsets-backend.js'

/**
 * Durable committed offsets of consumer groups.
 *
 * On disk (in `dir`): `offsets.snapshot` (the whole state at some point, msgpackr) and
 * `offsets-<seq>.log` files of records appended since. A record is
 * `u32 length | u32 crc32c(payload) | payload` (big-endian), payload a msgpackr array:
 *   [1, groupId, commitTimestamp, [[topic, partition, offset, leaderEpoch, metadata], ...]]  commit
 *   [2, groupId, [[topic, partition], ...]]                                                 delete
 * One record per commit request, so a request is all-or-nothing after a crash.
 *
 * Durability: `commit` resolves after the record is written and fdatasync'd. Commits that
 * arrive while a sync runs are written and synced together by the next one (group commit).
 * State becomes visible to `get` only once durable, as Kafka only answers fetches with
 * offsets whose append completed.
 *
 * Compaction: when the active log passes `compactBytes`, a new empty log is created, a
 * snapshot naming that log as the first to replay is written (temp + fsync + rename +
 * directory fsync), then older logs are deleted. A crash at any step leaves a snapshot and
 * logs whose replay gives the same state: replay is last-writer-wins and the logs are
 * replayed in sequence order.
 */

export type { CommittedOffset, OffsetToCommit, TopicPartition } from './offsets-backend.js'

export interface OffsetsStoreOptions {
  dir: string
  /** Snapshot and start a new log when the log passes this size (default 16 MiB). */
  compactBytes?: number
  /** fdatasync before acknowledging (default true). Off only for throwaway stores. */
  sync?: boolean
  /** Told about each damaged record skipped while loading (default: a warning on stderr). */
  onDamage?: (message: string) => void
}

export interface OffsetsStoreStats {
  logSequence: number
  logBytes: number
  snapshots: number
  syncs: number
  recordsAppended: number
  /** Bytes cut from torn log tails while loading. */
  truncatedBytes: number
  /** Damaged records skipped while loading (intact records after them were kept). */
  damagedRecords: number
}

const SNAPSHOT_VERSION = 1
const RECORD_HEADER_BYTES = 8
/** A length beyond this is garbage from a torn write, not a record. */
const MAX_RECORD_BYTES = 64 * 1024 * 1024
const COMMIT_RECORD = 1
const DELETE_RECORD = 2
const logPattern = OFFSETS_LOG_PATTERN

const logFileName = offsetsLogFileName

type QueueItem =
  | { kind: 'record'; frame: Buffer; apply: () => void; resolve: () => void; reject: (e: Error) => void }
  | { kind: 'compact'; resolve: () => void; reject: (e: Error) => void }

type PartitionOffsets = Map<number, CommittedOffset>
type GroupOffsets = Map<string, PartitionOffsets>

export class OffsetsStore implements OffsetsBackend {
  private readonly groups = new Map<string, GroupOffsets>()
  private readonly queue: QueueItem[] = []
  private flushing = false
  private flushDone: Promise<void> = Promise.resolve()
  private closed = false
  private failure: Error | null = null
  private log!: FileHandle
  private logSeq = 0
  private logBytes = 0
  /** Raised after a failed automatic compaction so it is not retried on every flush. */
  private compactThreshold: number
  private readonly counters = { snapshots: 0, syncs: 0, recordsAppended: 0, truncatedBytes: 0, damagedRecords: 0 }

  private constructor(
    private readonly dir: string,
    private readonly compactBytes: number,
    private readonly sync: boolean,
    private readonly onDamage: (message: string) => void,
  ) {
    this.compactThreshold = compactBytes
  }

  /** Opens (or creates) the store: loads the snapshot, replays the logs, cuts a torn tail. */
  static async open(options: OffsetsStoreOptions): Promise<OffsetsStore> {
    const onDamage = options.onDamage ?? ((message: string) => { process.stderr.write(`ringlog warn: ${message}\n`) })
    const store = new OffsetsStore(options.dir, options.compactBytes ?? 16 * 1024 * 1024, options.sync ?? true, onDamage)
    await store.load()
    return store
  }

  get stats(): OffsetsStoreStats {
    return { logSequence: this.logSeq, logBytes: this.logBytes, ...this.counters }
  }

  get(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.groups.get(groupId)?.get(topic)?.get(partition)
  }

  /** All committed offsets of a group, sorted by topic then partition. */
  list(groupId: string): CommittedOffset[] {
    const topics = this.groups.get(groupId)
    if (!topics) return []
    const out: CommittedOffset[] = []
    for (const topic of [...topics.keys()].sort()) {
      const partitions = topics.get(topic)!
      for (const partition of [...partitions.keys()].sort((a, b) => a - b)) out.push(partitions.get(partition)!)
    }
    return out
  }

  groupIds(): string[] { return [...this.groups.keys()] }

  hasOffsets(groupId: string): boolean { return this.groups.has(groupId) }

  /** Durably records the offsets; resolves once they are fdatasync'd and visible. */
  commit(groupId: string, commitTimestamp: number, offsets: readonly OffsetToCommit[]): Promise<void> {
    const entries = offsets.map((o) => ({ ...o }))
    const payload = [COMMIT_RECORD, groupId, commitTimestamp, entries.map((o) => [o.topic, o.partition, o.offset, o.leaderEpoch, o.metadata])]
    return this.append(payload, () => this.applyCommit(groupId, commitTimestamp, entries))
  }

  /** Durably removes offsets (retention expiry, DeleteGroups). */
  delete(groupId: string, partitions: readonly TopicPartition[]): Promise<void> {
    const copy = partitions.map((p) => ({ ...p }))
    return this.append([DELETE_RECORD, groupId, copy.map((p) => [p.topic, p.partition])], () => this.applyDelete(groupId, copy))
  }

  /** Writes a snapshot and starts a new log now (otherwise it happens by size). */
  compact(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new LogClosedError('the offsets store is closed'))
      this.queue.push({ kind: 'compact', resolve, reject })
      this.kick()
    })
  }

  /** Waits for queued commits, then closes the log. Later calls reject with LogClosedError. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.flushDone
    await this.log.close()
  }

  private append(payload: unknown[], apply: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new LogClosedError('the offsets store is closed'))
      if (this.failure) return reject(this.failure)
      const body = pack(payload)
      const frame = Buffer.allocUnsafe(RECORD_HEADER_BYTES + body.length)
      frame.writeUInt32BE(body.length, 0)
      frame.writeUInt32BE(crc32c(body), 4)
      body.copy(frame, RECORD_HEADER_BYTES)
      this.queue.push({ kind: 'record', frame, apply, resolve, reject })
      this.kick()
    })
  }

  private kick(): void {
    if (this.flushing) return
    this.flushing = true
    this.flushDone = this.flushLoop()
  }

  /** One writer: takes everything queued, writes it, syncs once, acknowledges, repeats. */
  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const head = this.queue[0]
        if (head.kind === 'compact') {
          this.queue.shift()
          await this.runCompaction().then(head.resolve, head.reject)
          continue
        }
        let end = 0
        while (end < this.queue.length && this.queue[end].kind === 'record') end++
        const batch = this.queue.splice(0, end) as Extract<QueueItem, { kind: 'record' }>[]
        if (this.failure) { for (const item of batch) item.reject(this.failure); continue }
        try {
          await this.writeAndSync(Buffer.concat(batch.map((item) => item.frame)))
        } catch (error) {
          // A full disk refused the write and its partial bytes were cut: these commits fail, later ones may succeed.
          if (error instanceof DiskFullError) { for (const item of batch) item.reject(error); continue }
          // After a failed write or fsync the page cache can't be trusted (fsyncgate): go offline.
          this.failure = new StorageOfflineError(`offsets log write failed: ${(error as Error).message}`)
          for (const item of batch) item.reject(this.failure)
          continue
        }
        this.counters.recordsAppended += batch.length
        for (const item of batch) { item.apply(); item.resolve() }
        if (this.logBytes >= this.compactThreshold) {
          await this.runCompaction().then(
            () => { this.compactThreshold = this.compactBytes },
            () => { this.compactThreshold = this.logBytes * 2 },
          )
        }
      }
    } finally {
      // Cleared in the same tick as the last queue check, so no commit is ever stranded.
      this.flushing = false
    }
  }

  private async writeAndSync(data: Buffer): Promise<void> {
    let written = 0
    try {
      while (written < data.length) {
        const { bytesWritten } = await this.log.write(data, written, data.length - written, this.logBytes + written)
        written += bytesWritten
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code !== 'ENOSPC' && code !== 'EDQUOT') throw error
      // Nothing was synced yet: cutting the partial record leaves the log as it was (a failed cut goes offline).
      await this.log.truncate(this.logBytes)
      throw new DiskFullError(`disk full writing the offsets log in ${this.dir}; nothing was written`)
    }
    this.logBytes += written
    if (this.sync) { await this.log.datasync(); this.counters.syncs++ }
  }

  private async runCompaction(): Promise<void> {
    if (this.failure) throw this.failure
    const nextSeq = this.logSeq + 1
    const nextPath = join(this.dir, logFileName(nextSeq))
    const nextLog = await open(nextPath, 'w')
    try {
      await this.syncDir()
      await this.writeSnapshot(nextSeq)
    } catch (error) {
      await nextLog.close().catch(() => undefined)
      await unlink(nextPath).catch(() => undefined)
      throw error
    }
    const oldLog = this.log
    this.log = nextLog
    this.logSeq = nextSeq
    this.logBytes = 0
    this.counters.snapshots++
    await oldLog.close().catch(() => undefined)
    await this.deleteLogsBefore(nextSeq)
  }

  private async writeSnapshot(firstLogToReplay: number): Promise<void> {
    const groups: [string, [string, number, number, number, string, number][]][] = []
    for (const groupId of this.groups.keys()) {
      groups.push([groupId, this.list(groupId).map((o) => [o.topic, o.partition, o.offset, o.leaderEpoch, o.metadata, o.commitTimestamp])])
    }
    const body = pack({ version: SNAPSHOT_VERSION, firstLogToReplay, groups })
    const file = Buffer.allocUnsafe(4 + body.length)
    file.writeUInt32BE(crc32c(body), 0)
    body.copy(file, 4)
    await writeFileAtomic(join(this.dir, SNAPSHOT_FILE), file)
  }

  private async syncDir(): Promise<void> {
    const handle = await open(this.dir, 'r')
    try { await handle.sync() } finally { await handle.close() }
  }

  private async logSequences(): Promise<number[]> {
    const names = await readdir(this.dir)
    return names.map((n) => logPattern.exec(n)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1])).sort((a, b) => a - b)
  }

  private async deleteLogsBefore(seq: number): Promise<void> {
    for (const old of await this.logSequences()) {
      if (old < seq) await unlink(join(this.dir, logFileName(old))).catch(() => undefined)
    }
  }

  private async load(): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    let firstLog = 0
    const snapshot = await readFile(join(this.dir, SNAPSHOT_FILE)).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null
      throw e
    })
    if (snapshot) firstLog = this.loadSnapshot(snapshot)
    await unlink(atomicTempPath(join(this.dir, SNAPSHOT_FILE))).catch(() => undefined)
    await this.deleteLogsBefore(firstLog)
    const sequences = (await this.logSequences()).filter((s) => s >= firstLog)
    for (const seq of sequences) await this.replayLog(seq)
    this.logSeq = sequences.length > 0 ? sequences[sequences.length - 1] : firstLog
    const path = join(this.dir, logFileName(this.logSeq))
    this.log = await open(path, 'a+')
    this.logBytes = (await this.log.stat()).size
    if (sequences.length === 0) await this.syncDir()
  }

  private loadSnapshot(file: Buffer): number {
    // The snapshot is renamed into place whole, so a bad one is real corruption: refuse to
    // start rather than silently forget every group's position.
    if (file.length < 4 || crc32c(file.subarray(4)) !== file.readUInt32BE(0)) {
      throw new CorruptRecordError(`offsets snapshot in ${this.dir} fails its checksum`)
    }
    const body = unpack(file.subarray(4)) as { version: number; firstLogToReplay: number; groups: [string, [string, number, number, number, string, number][]][] }
    if (body.version !== SNAPSHOT_VERSION) throw new CorruptRecordError(`unknown offsets snapshot version ${body.version}`)
    for (const [groupId, offsets] of body.groups) {
      for (const [topic, partition, offset, leaderEpoch, metadata, commitTimestamp] of offsets) {
        this.setOffset(groupId, { topic, partition, offset, leaderEpoch, metadata, commitTimestamp })
      }
    }
    return body.firstLogToReplay
  }

  /**
   * Applies every whole, checksummed record. A bad record followed by an intact one was damaged
   * in place (bit rot): it is skipped, copied aside to `<log>.damaged-<position>` and reported,
   * and replay goes on. A bad record with nothing intact after it is a torn tail: cut there.
   */
  private async replayLog(seq: number): Promise<void> {
    const path = join(this.dir, logFileName(seq))
    const data = await readFile(path)
    let position = 0
    while (position + RECORD_HEADER_BYTES <= data.length) {
      const record = decodeRecordAt(data, position)
      if (record) {
        this.applyRecord(record.payload)
        position = record.end
        continue
      }
      const next = findRecordAfter(data, position + 1)
      if (next < 0) break
      await this.quarantine(path, data, position, next)
      position = next
    }
    if (position < data.length) {
      const handle = await open(path, 'r+')
      try { await handle.truncate(position); await handle.datasync() } finally { await handle.close() }
      this.counters.truncatedBytes += data.length - position
    }
  }

  private async quarantine(path: string, data: Buffer, from: number, to: number): Promise<void> {
    const aside = `${path}.damaged-${from}`
    await writeFile(aside, data.subarray(from, to), { flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e
    })
    this.counters.damagedRecords++
    this.onDamage(`offsets log ${path}: damaged record at bytes ${from}-${to} skipped (copied to ${aside}); the records after it are kept`)
  }

  private applyRecord(record: unknown[]): void {
    if (record[0] === COMMIT_RECORD) {
      const [, groupId, commitTimestamp, entries] = record as [number, string, number, [string, number, number, number, string][]]
      this.applyCommit(groupId, commitTimestamp, entries.map(([topic, partition, offset, leaderEpoch, metadata]) => ({ topic, partition, offset, leaderEpoch, metadata })))
    } else if (record[0] === DELETE_RECORD) {
      const [, groupId, entries] = record as [number, string, [string, number][]]
      this.applyDelete(groupId, entries.map(([topic, partition]) => ({ topic, partition })))
    }
  }

  private applyCommit(groupId: string, commitTimestamp: number, offsets: readonly OffsetToCommit[]): void {
    for (const o of offsets) this.setOffset(groupId, { ...o, commitTimestamp })
  }

  private setOffset(groupId: string, committed: CommittedOffset): void {
    let topics = this.groups.get(groupId)
    if (!topics) this.groups.set(groupId, topics = new Map())
    let partitions = topics.get(committed.topic)
    if (!partitions) topics.set(committed.topic, partitions = new Map())
    partitions.set(committed.partition, committed)
  }

  private applyDelete(groupId: string, partitions: readonly TopicPartition[]): void {
    const topics = this.groups.get(groupId)
    if (!topics) return
    for (const { topic, partition } of partitions) {
      const byPartition = topics.get(topic)
      if (!byPartition) continue
      byPartition.delete(partition)
      if (byPartition.size === 0) topics.delete(topic)
    }
    if (topics.size === 0) this.groups.delete(groupId)
  }
}

/** The record at `position` if it is whole, checksummed and decodable. */
function decodeRecordAt(data: Buffer, position: number): { payload: unknown[]; end: number } | undefined {
  if (position + RECORD_HEADER_BYTES > data.length) return undefined
  const length = data.readUInt32BE(position)
  const end = position + RECORD_HEADER_BYTES + length
  if (length > MAX_RECORD_BYTES || end > data.length) return undefined
  const body = data.subarray(position + RECORD_HEADER_BYTES, end)
  if (crc32c(body) !== data.readUInt32BE(position + 4)) return undefined
  try {
    const payload = unpack(body)
    return Array.isArray(payload) ? { payload, end } : undefined
  } catch {
    return undefined
  }
}

/**
 * Where the next intact record starts at or after `from`, or -1. Only positions whose payload
 * opens like a record (a msgpack array of 3 or 4 with kind 1 or 2) are checksummed, so the scan
 * stays linear in practice.
 */
function findRecordAfter(data: Buffer, from: number): number {
  for (let p = from; p + RECORD_HEADER_BYTES + 2 <= data.length; p++) {
    const first = data[p + RECORD_HEADER_BYTES]
    const kind = data[p + RECORD_HEADER_BYTES + 1]
    if ((first !== 0x93 && first !== 0x94) || (kind !== COMMIT_RECORD && kind !== DELETE_RECORD)) continue
    if (decodeRecordAt(data, p)) return p
  }
  return -1
}
