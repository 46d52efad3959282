/**
 * Idempotent-producer state of one partition, as Kafka keeps it: per producer id the current
 * epoch and the sequence ranges and offsets of its last 5 batches (max.in.flight is at most 5,
 * so a retry can only repeat one of those).
 *
 * - A retried duplicate gets the ORIGINAL offsets back with error NONE (modern brokers do this,
 *   and clients treat it as success).
 * - A gap in sequence numbers is OUT_OF_ORDER_SEQUENCE_NUMBER; an older epoch is
 *   INVALID_PRODUCER_EPOCH; a newer epoch must start again at sequence 0.
 * - An unknown producer may start at any sequence (its state may have been dropped with old
 *   segments), as in Kafka since KIP-360.
 *
 * Persistence: `<offset>.snapshot` in the partition directory holds the state valid for every
 * batch below `offset` (Kafka's naming). It is written on clean close; on open the latest
 * usable snapshot is loaded and the batches from its offset on are replayed through
 * `replayBatch`, which rebuilds the rest.
 *
 * Transactions: a producer's first transactional batch opens its transaction at that batch's
 * offset; a control batch (COMMIT or ABORT marker, written by the transaction coordinator)
 * closes it. The lowest first offset of a transaction that is open, or whose marker is not yet
 * below the high watermark, is the partition's first unstable offset: the last stable offset
 * (LSO) read_committed consumers read up to is min(that, high watermark), as in Kafka.
 */
import { Buffer } from 'node:buffer'
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { pack, unpack } from '../msgpack.js'
import { writeFileAtomicSync } from './atomic-file.js'
import { crc32c } from '../protocol/crc32c.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { PRODUCER_SNAPSHOT_SUFFIX, producerSnapshotFileName } from './file-names.js'

/** How many batches per producer are remembered for duplicate detection (Kafka's value). */
export const PRODUCER_BATCH_CACHE = 5
const SEQUENCE_MODULUS = 2 ** 31
const NO_PRODUCER_ID = -1
const SNAPSHOT_MAGIC = 0x524c5053 // "RLPS"
const SNAPSHOT_VERSION = 1

export interface ProducerBatchMeta {
  firstSeq: number
  lastSeq: number
  firstOffset: number
  lastOffset: number
  timestamp: number
}

interface ProducerEntry {
  epoch: number
  batches: ProducerBatchMeta[]
  /** First offset of the producer's open transaction in this partition, -1 if none. */
  txnFirstOffset: number
  /** Coordinator epoch of the last marker written for the producer here, -1 if none (markers of an older coordinator are fenced). */
  coordinatorEpoch: number
}

/** A transaction a marker ended: where its batches began and the marker's own offset. */
export interface CompletedTxn {
  producerId: number
  firstOffset: number
  markerOffset: number
  committed: boolean
}

/** One producer as DescribeProducers lists it. */
export interface ActiveProducer {
  producerId: number
  producerEpoch: number
  /** Sequence of the last record written; -1 when none is remembered. */
  lastSequence: number
  /** Max timestamp of its last batch; -1 when none is remembered. */
  lastTimestamp: number
}

/** The parts of a batch header that the producer state looks at. */
export interface ProducerBatchInfo {
  producerId: number
  producerEpoch: number
  baseSequence: number
  /** recordCount - 1 (or the header's lastOffsetDelta). */
  lastOffsetDelta: number
  /** The batch header's transactional bit. */
  transactional?: boolean
}

export type SequenceVerdict =
  | { kind: 'append' }
  | { kind: 'duplicate'; firstOffset: number; lastOffset: number }
  | { kind: 'error'; code: number; message: string }

const APPEND: SequenceVerdict = { kind: 'append' }

/** Sequence numbers wrap from 2^31-1 back to 0, as in Kafka. */
export function lastSequenceOf(baseSequence: number, lastOffsetDelta: number): number {
  return (baseSequence + lastOffsetDelta) % SEQUENCE_MODULUS
}

function nextSequence(sequence: number): number {
  return sequence === SEQUENCE_MODULUS - 1 ? 0 : sequence + 1
}

export class ProducerStateManager {
  private readonly producers = new Map<number, ProducerEntry>()
  /** Transactions whose marker is written but not yet below the high watermark (still unstable). */
  private unstableCompleted: CompletedTxn[] = []

  /** Number of producers tracked (tests and stats). */
  get size(): number {
    return this.producers.size
  }

  /** Every producer tracked, with its epoch and last batch (DescribeProducers). */
  activeProducers(): ActiveProducer[] {
    const out: ActiveProducer[] = []
    for (const [producerId, entry] of this.producers) {
      const last = entry.batches[entry.batches.length - 1]
      out.push({ producerId, producerEpoch: entry.epoch, lastSequence: last ? last.lastSeq : -1, lastTimestamp: last ? last.timestamp : -1 })
    }
    return out
  }

  /**
   * Decides what to do with a batch before it is appended; changes nothing. `coordinatorAppend`: the batch is a group coordinator's transactional offsets (TxnOffsetCommit
   * into `__consumer_offsets`), which carry no sequence; only their epoch is checked, as Kafka
   * checks coordinator appends. A client's batch without a sequence is checked like any other.
   */
  check(batch: ProducerBatchInfo, coordinatorAppend = false): SequenceVerdict {
    const { producerId, producerEpoch, baseSequence } = batch
    if (producerId === NO_PRODUCER_ID || producerId < 0) return APPEND
    const entry = this.producers.get(producerId)
    if (!entry) return APPEND
    if (producerEpoch < entry.epoch) {
      return { kind: 'error', code: ErrorCode.INVALID_PRODUCER_EPOCH, message: `producer ${producerId} epoch ${producerEpoch} is older than the current epoch ${entry.epoch}` }
    }
    if (baseSequence < 0 && batch.transactional && coordinatorAppend) return APPEND
    const lastSeq = lastSequenceOf(baseSequence, batch.lastOffsetDelta)
    if (producerEpoch > entry.epoch) {
      if (baseSequence !== 0) {
        return { kind: 'error', code: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, message: `producer ${producerId} started epoch ${producerEpoch} at sequence ${baseSequence}, expected 0` }
      }
      return APPEND
    }
    for (const cached of entry.batches) {
      if (cached.firstSeq === baseSequence && cached.lastSeq === lastSeq) {
        return { kind: 'duplicate', firstOffset: cached.firstOffset, lastOffset: cached.lastOffset }
      }
    }
    const last = entry.batches[entry.batches.length - 1]
    if (!last) return APPEND
    if (baseSequence !== nextSequence(last.lastSeq)) {
      const oldest = entry.batches[0]
      if (baseSequence >= oldest.firstSeq && baseSequence <= last.lastSeq) {
        return { kind: 'error', code: ErrorCode.DUPLICATE_SEQUENCE_NUMBER, message: `producer ${producerId} sequence ${baseSequence} repeats part of a batch already written` }
      }
      return { kind: 'error', code: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, message: `producer ${producerId} sent sequence ${baseSequence}, expected ${nextSequence(last.lastSeq)}` }
    }
    return APPEND
  }

  /** Records an appended batch (after `check` said append, or while replaying the log). */
  update(batch: ProducerBatchInfo, firstOffset: number, timestamp: number): void {
    const { producerId, producerEpoch, baseSequence } = batch
    if (producerId < 0) return
    let entry = this.producers.get(producerId)
    if (!entry || producerEpoch > entry.epoch) {
      entry = { epoch: producerEpoch, batches: [], txnFirstOffset: entry?.txnFirstOffset ?? -1, coordinatorEpoch: entry?.coordinatorEpoch ?? -1 }
      this.producers.set(producerId, entry)
    } else if (producerEpoch < entry.epoch) {
      return
    }
    if (batch.transactional && entry.txnFirstOffset < 0) entry.txnFirstOffset = firstOffset
    if (baseSequence < 0) return
    entry.batches.push({
      firstSeq: baseSequence,
      lastSeq: lastSequenceOf(baseSequence, batch.lastOffsetDelta),
      firstOffset,
      lastOffset: firstOffset + batch.lastOffsetDelta,
      timestamp,
    })
    if (entry.batches.length > PRODUCER_BATCH_CACHE) entry.batches.shift()
  }

  /** Rebuilds state from a batch read back from the log during open. */
  replayBatch(batch: ProducerBatchInfo, firstOffset: number, timestamp: number): void {
    if (batch.producerId < 0 || (batch.baseSequence < 0 && !batch.transactional)) return
    this.update(batch, firstOffset, timestamp)
  }

  /**
   * Whether a transaction marker may be written: never one older than the producer's epoch, nor
   * one from a transaction coordinator older than the last that wrote a marker for the producer
   * here (TRANSACTION_COORDINATOR_FENCED: a deposed coordinator still completing, as Kafka).
   */
  checkMarker(producerId: number, producerEpoch: number, coordinatorEpoch = -1): SequenceVerdict {
    const entry = this.producers.get(producerId)
    if (entry && coordinatorEpoch < entry.coordinatorEpoch) {
      return { kind: 'error', code: ErrorCode.TRANSACTION_COORDINATOR_FENCED, message: `marker for producer ${producerId} comes from coordinator epoch ${coordinatorEpoch}, older than ${entry.coordinatorEpoch}` }
    }
    if (entry && producerEpoch < entry.epoch) {
      return { kind: 'error', code: ErrorCode.INVALID_PRODUCER_EPOCH, message: `marker for producer ${producerId} has epoch ${producerEpoch}, older than ${entry.epoch}` }
    }
    return APPEND
  }

  /**
   * A COMMIT or ABORT marker at `markerOffset` (written, or replayed from the log) ends the
   * producer's open transaction; its epoch becomes the producer's (a coordinator that fenced
   * the producer writes the bumped epoch, so the zombie's next batch is refused). Returns the
   * transaction it ended, or undefined if none was open here.
   */
  completeTxn(producerId: number, producerEpoch: number, markerOffset: number, committed: boolean, coordinatorEpoch = -1): CompletedTxn | undefined {
    let entry = this.producers.get(producerId)
    if (!entry) {
      entry = { epoch: producerEpoch, batches: [], txnFirstOffset: -1, coordinatorEpoch }
      this.producers.set(producerId, entry)
    } else if (producerEpoch > entry.epoch) {
      entry.epoch = producerEpoch
      entry.batches = []
    }
    entry.coordinatorEpoch = Math.max(entry.coordinatorEpoch, coordinatorEpoch)
    if (entry.txnFirstOffset < 0) return undefined
    const done: CompletedTxn = { producerId, firstOffset: entry.txnFirstOffset, markerOffset, committed }
    entry.txnFirstOffset = -1
    this.unstableCompleted.push(done)
    return done
  }

  /** Lowest first offset of a transaction that is open or whose marker is at or past `highWatermark`; Infinity if none. */
  firstUnstableOffset(highWatermark: number): number {
    if (this.unstableCompleted.length > 0) this.unstableCompleted = this.unstableCompleted.filter((t) => t.markerOffset >= highWatermark)
    let first = Infinity
    for (const t of this.unstableCompleted) first = Math.min(first, t.firstOffset)
    for (const entry of this.producers.values()) if (entry.txnFirstOffset >= 0) first = Math.min(first, entry.txnFirstOffset)
    return first
  }

  /** Producers with a transaction open in this partition, and where each began. */
  openTransactions(): { producerId: number; firstOffset: number }[] {
    const out: { producerId: number; firstOffset: number }[] = []
    for (const [producerId, entry] of this.producers) if (entry.txnFirstOffset >= 0) out.push({ producerId, firstOffset: entry.txnFirstOffset })
    return out
  }

  /** Forgets every producer (the log was truncated below all their batches, or dropped). */
  clear(): void {
    this.producers.clear()
    this.unstableCompleted = []
  }

  /** Drops cached batches at or above `offset` (log truncation). */
  truncateFrom(offset: number): void {
    for (const [id, entry] of this.producers) {
      entry.batches = entry.batches.filter((b) => b.lastOffset < offset)
      if (entry.txnFirstOffset >= offset) entry.txnFirstOffset = -1
      if (entry.batches.length === 0 && entry.txnFirstOffset < 0) this.producers.delete(id)
    }
    this.unstableCompleted = this.unstableCompleted.filter((t) => t.markerOffset < offset)
  }

  encode(): Buffer {
    const rows: [number, number, number[][], number, number][] = []
    for (const [id, entry] of this.producers) {
      rows.push([id, entry.epoch, entry.batches.map((b) => [b.firstSeq, b.lastSeq, b.firstOffset, b.lastOffset, b.timestamp]), entry.txnFirstOffset, entry.coordinatorEpoch])
    }
    const body = pack(rows)
    const out = Buffer.allocUnsafe(10 + body.length)
    out.writeUInt32BE(SNAPSHOT_MAGIC, 0)
    out.writeUInt16BE(SNAPSHOT_VERSION, 4)
    out.writeUInt32BE(crc32c(body), 6)
    body.copy(out, 10)
    return out
  }

  /** Replaces the state with a snapshot's; returns false (state untouched) if it is damaged. */
  decode(bytes: Buffer): boolean {
    if (bytes.length < 10 || bytes.readUInt32BE(0) !== SNAPSHOT_MAGIC || bytes.readUInt16BE(4) !== SNAPSHOT_VERSION) return false
    const body = bytes.subarray(10)
    if (crc32c(body) !== bytes.readUInt32BE(6)) return false
    let rows: unknown
    try {
      rows = unpack(body)
    } catch {
      return false
    }
    if (!Array.isArray(rows)) return false
    const next = new Map<number, ProducerEntry>()
    // A fourth column (open transaction's first offset) and a fifth (last marker's coordinator
    // epoch) were added later: older snapshots lack them.
    for (const row of rows as [number, number, number[][], number?, number?][]) {
      const [id, epoch, batches, txnFirstOffset, coordinatorEpoch] = row
      next.set(id, {
        epoch,
        txnFirstOffset: typeof txnFirstOffset === 'number' ? txnFirstOffset : -1,
        coordinatorEpoch: typeof coordinatorEpoch === 'number' ? coordinatorEpoch : -1,
        batches: batches.map(([firstSeq, lastSeq, firstOffset, lastOffset, timestamp]) => ({ firstSeq, lastSeq, firstOffset, lastOffset, timestamp })),
      })
    }
    this.producers.clear()
    this.unstableCompleted = []
    for (const [id, entry] of next) this.producers.set(id, entry)
    return true
  }

  /** Writes `<offset>.snapshot` (crash-safe) and removes older snapshots. */
  writeSnapshot(dir: string, offset: number): string {
    const path = join(dir, producerSnapshotFileName(offset))
    writeFileAtomicSync(path, this.encode())
    for (const other of listSnapshots(dir)) {
      if (other.offset !== offset) rmSync(join(dir, other.name), { force: true })
    }
    return path
  }

  /** Removes snapshots taken past `offset` (the log was truncated below them: they describe batches that are gone). */
  deleteSnapshotsAbove(dir: string, offset: number): void {
    for (const snapshot of listSnapshots(dir)) {
      if (snapshot.offset > offset) rmSync(join(dir, snapshot.name), { force: true })
    }
  }

  /**
   * Loads the newest intact snapshot whose offset is at most `logEndOffset` and returns its
   * offset (the caller replays batches from there), or -1 with an empty state if none fits.
   * Snapshots past the log end (the log was cut during recovery) are deleted.
   */
  loadLatestSnapshot(dir: string, logEndOffset: number): number {
    this.clear()
    const snapshots = listSnapshots(dir).sort((a, b) => b.offset - a.offset)
    for (const snapshot of snapshots) {
      if (snapshot.offset > logEndOffset) {
        rmSync(join(dir, snapshot.name), { force: true })
        continue
      }
      let bytes: Buffer
      try {
        bytes = readFileSync(join(dir, snapshot.name))
      } catch {
        continue
      }
      if (this.decode(bytes)) return snapshot.offset
    }
    return -1
  }
}

export function listSnapshots(dir: string): { name: string; offset: number }[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const out: { name: string; offset: number }[] = []
  for (const name of names) {
    if (!name.endsWith(PRODUCER_SNAPSHOT_SUFFIX)) continue
    const offset = Number(name.slice(0, -PRODUCER_SNAPSHOT_SUFFIX.length))
    if (Number.isSafeInteger(offset) && offset >= 0) out.push({ name, offset })
  }
  return out
}
