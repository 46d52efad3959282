/**
 * Packs single records (embedded producer path) into RecordBatch v2 batches of about
 * `batchSize` bytes per partition, as Kafka's producer does with batch.size (16384) and
 * linger.ms, compressing each batch's records section (lz4 frame by default).
 *
 * Records arrive already in Kafka's record encoding, in chunks of at most one batch's worth
 * (channel/record-frames.ts). A chunk that starts a batch is copied in whole: its deltas are already
 * right. A chunk joining a batch that has records gets its timestamp and offset deltas
 * rewritten record by record (the rest of each record is copied as one block), sealing the
 * batch when it is full; but a chunk over a quarter of a batch that would overflow the open
 * batch seals it first and starts the next batch whole, so batch-sized sends stay on the
 * copy path (the partial batch at the end of one such send is then sealed as it is).
 *
 * Batches are built back to back in one arena: the worker takes all sealed batches of a ring
 * burst at once (`takeSealed`) and appends them with a single write, instead of one syscall
 * per 16 KiB.
 *
 * A batch is sealed when the next chunk or record would push it past `batchSize`, or by the
 * worker when the batch has lingered `lingerMs` (see partition-runtime.ts). One record larger
 * than `batchSize` gets a batch of its own.
 */
import { Buffer } from 'node:buffer'
import { performance } from 'node:perf_hooks'
import { compress, Compression } from '../../protocol/compression.js'
import { crc32c } from '../../protocol/crc32c.js'
import { ATTRIBUTES_OFFSET, BATCH_HEADER_SIZE, CRC_OFFSET, LOG_OVERHEAD, writeInt64 } from '../../protocol/record-batch.js'
import { readUvarint, unzigzag, uvarintSize, writeUvarint, zigzag } from '../../protocol/varint.js'
import { CHUNK_HEADER_BYTES } from '../channel/record-frames.js'
import { copyBytes } from '../channel/shared-copy.js'

export const DEFAULT_BATCH_SIZE = 16384
export const DEFAULT_LINGER_MS = 1
/** Sealed bytes the arena holds before the caller should take them (one write each). */
export const ARENA_FLUSH_BYTES = 128 * 1024

export interface BatcherOptions {
  batchSize: number
  compression: number
}

/** Where one frame's records went, so the caller can track which batch holds each call's first and last record. */
export interface FrameOutcome {
  /** The frame's first record sealed the batch open before it (and so starts a new one). */
  firstSealed: boolean
  /** Index of the frame's first record within its batch. */
  firstIndex: number
  /** Batches sealed while adding the frame (including one counted by firstSealed). */
  seals: number
}

export interface SealedBatches {
  /** Whole batches back to back; a view valid until the next `add`. */
  bytes: Buffer
  /** Record count of each batch, in order. */
  recordCounts: number[]
}

export class RecordBatcher {
  private readonly batchSize: number
  readonly compression: number
  private arena: Buffer
  /** End of the sealed batches at the arena's start. */
  private sealedEnd = 0
  private readonly sealedCounts: number[] = []
  /** Write position of the open batch's records (its header room starts at sealedEnd). */
  private length = BATCH_HEADER_SIZE
  private count = 0
  private baseTimestamp = 0
  private maxTimestamp = 0
  /** performance.now() when the open batch got its first record. */
  openedAt = 0
  /** The sealed batches were handed out; compact before writing again. */
  private taken = false

  constructor(options: BatcherOptions) {
    this.batchSize = Math.max(BATCH_HEADER_SIZE + 1, options.batchSize)
    this.compression = options.compression
    this.arena = Buffer.allocUnsafe(ARENA_FLUSH_BYTES + 2 * this.batchSize)
  }

  /** Records in the open batch. */
  get pending(): number {
    return this.count
  }

  /** Bytes of sealed batches waiting for `takeSealed`. */
  get sealedBytes(): number {
    return this.sealedEnd
  }

  /**
   * Adds every chunk of one frame body (channel/record-frames.ts, after its prefix) to the open batch,
   * sealing batches as they fill. `src` is trusted (the engine's own encoding); only the
   * chunk headers are checked against the frame's end.
   */
  addChunks(src: Buffer, start: number, end: number): FrameOutcome {
    this.compact()
    let seals = 0
    let firstSealed = false
    let firstIndex = -1
    const srcView = new DataView(src.buffer, src.byteOffset, src.byteLength)
    for (let at = start; at < end;) {
      if (at + CHUNK_HEADER_BYTES > end) throw new RangeError('record chunk header truncated')
      const bytes = srcView.getUint32(at, true)
      const count = srcView.getUint32(at + 4, true)
      const baseTimestamp = srcView.getFloat64(at + 8, true)
      const maxTimestamp = srcView.getFloat64(at + 16, true)
      const recordsStart = at + CHUNK_HEADER_BYTES
      const recordsEnd = recordsStart + bytes
      if (recordsEnd > end || count === 0 || !Number.isSafeInteger(baseTimestamp) || !Number.isSafeInteger(maxTimestamp)) throw new RangeError('malformed record chunk header')
      let sealedNow = false
      // A large chunk that does not fit seals the open batch and starts the next one whole
      // (kept on the copy path); a small one fills the open batch record by record.
      if (this.count > 0 && this.length - this.sealedEnd + bytes > this.batchSize && bytes > this.batchSize >> 2) {
        this.seal()
        seals++
        sealedNow = true
      }
      if (this.count === 0) {
        // A fresh batch: the chunk's deltas are already relative to its first record.
        this.ensureCapacity(this.length + bytes)
        copyBytes(this.arena, this.length, src, recordsStart, bytes)
        this.length += bytes
        this.count = count
        this.baseTimestamp = baseTimestamp
        this.maxTimestamp = maxTimestamp
        this.openedAt = performance.now()
        if (firstIndex < 0) {
          firstIndex = 0
          firstSealed = sealedNow
        }
      } else {
        const rebased = this.rebase(src, recordsStart, recordsEnd, baseTimestamp)
        if (firstIndex < 0) {
          firstIndex = rebased.firstIndex
          firstSealed = sealedNow || rebased.firstSealed
        }
        seals += rebased.seals
      }
      at = recordsEnd
    }
    if (firstIndex < 0) throw new RangeError('a record frame without records')
    return { firstSealed, firstIndex, seals }
  }

  /**
   * Appends the chunk's records to the open batch, rewriting each one's timestamp and offset
   * deltas (their sizes may change, so the length too). Returns the batches sealed on the
   * way and where the chunk's first record went (a grown first record may seal the batch).
   */
  private rebase(src: Buffer, start: number, end: number, chunkBaseTimestamp: number): { seals: number; firstIndex: number; firstSealed: boolean } {
    const cursor = { at: start }
    let seals = 0
    let firstIndex = -1
    let firstSealed = false
    while (cursor.at < end) {
      const bodyLength = readUvarint(src, cursor) / 2
      const bodyStart = cursor.at
      cursor.at++ // attributes
      const timestamp = chunkBaseTimestamp + unzigzag(readUvarint(src, cursor))
      readUvarint(src, cursor) // the chunk's offset delta
      const restStart = cursor.at
      const restEnd = bodyStart + bodyLength
      const fixed = 1 + (restEnd - restStart)
      let timestampDelta = this.count === 0 ? 0 : zigzag(timestamp - this.baseTimestamp)
      let body = fixed + uvarintSize(timestampDelta) + uvarintSize(this.count * 2)
      let total = uvarintSize(body * 2) + body
      if (this.count > 0 && this.length - this.sealedEnd + total > this.batchSize) {
        this.seal()
        seals++
        timestampDelta = 0
        body = fixed + 2
        total = uvarintSize(body * 2) + body
        if (firstIndex < 0) firstSealed = true
      }
      if (firstIndex < 0) firstIndex = this.count
      if (this.count === 0) {
        this.baseTimestamp = timestamp
        this.maxTimestamp = timestamp
        this.openedAt = performance.now()
      } else if (timestamp > this.maxTimestamp) this.maxTimestamp = timestamp
      this.ensureCapacity(this.length + total)
      const out = this.arena
      let w = writeUvarint(out, this.length, body * 2)
      out[w++] = 0
      w = writeUvarint(out, w, timestampDelta)
      w = writeUvarint(out, w, this.count * 2)
      copyBytes(out, w, src, restStart, restEnd - restStart)
      this.length = w + (restEnd - restStart)
      this.count++
      cursor.at = restEnd
    }
    return { seals, firstIndex, firstSealed }
  }

  private ensureCapacity(need: number): void {
    if (need <= this.arena.length) return
    const grown = Buffer.allocUnsafe(Math.max(need, this.arena.length * 2))
    grown.set(this.arena)
    this.arena = grown
  }

  /** Closes the open batch (header, compression, CRC) after the sealed ones; false if empty. */
  seal(): boolean {
    this.compact()
    if (this.count === 0) return false
    const start = this.sealedEnd
    let end = this.length
    let codec = this.compression
    if (codec !== Compression.none) {
      const compressed = compress(codec, this.arena.subarray(start + BATCH_HEADER_SIZE, this.length))
      if (BATCH_HEADER_SIZE + compressed.length < end - start) {
        compressed.copy(this.arena, start + BATCH_HEADER_SIZE)
        end = start + BATCH_HEADER_SIZE + compressed.length
      } else {
        // Incompressible records: store them plain (consumers read any codec). This also keeps
        // the batch within the bytes it occupies, ahead of which unread staged records may sit.
        codec = Compression.none
      }
    }
    const batch = this.arena.subarray(start, end)
    const count = this.count
    writeInt64(batch, 0, 0)
    batch.writeInt32BE(batch.length - LOG_OVERHEAD, 8)
    batch.writeInt32BE(-1, 12)
    batch.writeInt8(2, 16)
    batch.writeInt16BE(codec, ATTRIBUTES_OFFSET)
    batch.writeInt32BE(count - 1, 23)
    writeInt64(batch, 27, this.baseTimestamp)
    writeInt64(batch, 35, this.maxTimestamp)
    writeInt64(batch, 43, -1)
    batch.writeInt16BE(-1, 51)
    batch.writeInt32BE(-1, 53)
    batch.writeInt32BE(count, 57)
    batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET)
    this.sealedEnd = end
    this.sealedCounts.push(count)
    this.length = end + BATCH_HEADER_SIZE
    this.count = 0
    return true
  }

  /**
   * Hands out the sealed batches (null if none). The view stays valid until the next `add`,
   * `seal` or `takeSealed`, which first move the open batch to the arena's start.
   */
  takeSealed(): SealedBatches | null {
    this.compact()
    if (this.sealedEnd === 0) return null
    const bytes = this.arena.subarray(0, this.sealedEnd)
    const recordCounts = this.sealedCounts.splice(0)
    this.taken = true
    return { bytes, recordCounts }
  }

  /** After a take: moves the open batch to the arena's start (the taken view is written by now). */
  private compact(): void {
    if (!this.taken) return
    this.taken = false
    this.arena.copyWithin(0, this.sealedEnd, this.length)
    this.length -= this.sealedEnd
    this.sealedEnd = 0
  }
}
