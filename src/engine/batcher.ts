/**
 * Packs single records (embedded producer path) into RecordBatch v2 batches of about
 * `batchSize` bytes per partition, as Kafka's producer does with batch.size (16384) and
 * linger.ms, compressing each batch's records section (lz4 frame by default).
 *
 * Batches are built back to back in one arena: the worker takes all sealed batches of a ring
 * burst at once (`takeSealed`) and appends them with a single write, instead of one syscall
 * per 16 KiB. A frame of records is copied into the arena in one piece and rewritten in place
 * (see addFrame); the hot loop uses 32-bit varint fast paths and no record objects.
 *
 * A batch is sealed when the next record would push it past `batchSize`, or by the worker
 * when the batch has lingered `lingerMs` (see partition-runtime.ts). One record larger than
 * `batchSize` gets a batch of its own.
 */
import { compress, Compression } from '../protocol/compression.js'
import { crc32c } from '../protocol/crc32c.js'
import { ATTRIBUTES_OFFSET, BATCH_HEADER_SIZE, CRC_OFFSET, LOG_OVERHEAD, writeInt64 } from '../protocol/record-batch.js'
import { writeZigzag, zigzagSize } from '../protocol/varint.js'
import { RECORD_FIXED_BYTES } from './record-frames.js'

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

/** Bytes of the unsigned varint `u` (u < 2^53). */
function varintSize(u: number): number {
  if (u < 0x80) return 1
  if (u < 0x4000) return 2
  if (u < 0x200000) return 3
  if (u < 0x10000000) return 4
  return u < 0x800000000 ? 5 : zigzagSize(u / 2)
}

/** Writes unsigned varint `u`; the 32-bit path avoids floating-point division. */
function writeVarint(out: Buffer, o: number, u: number): number {
  if (u < 0x80) {
    out[o] = u
    return o + 1
  }
  if (u < 0x100000000) {
    while (u >= 0x80) {
      out[o++] = (u & 0x7f) | 0x80
      u >>>= 7
    }
    out[o] = u
    return o + 1
  }
  return writeZigzag(out, o, u / 2)
}

function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1
}

/** Gap kept between the write position and staged records (plus 1/8 of what is staged). */
const STAGE_HEADROOM = 256

export class RecordBatcher {
  private readonly batchSize: number
  readonly compression: number
  private arena: Buffer
  private view: DataView
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
    this.view = new DataView(this.arena.buffer, this.arena.byteOffset, this.arena.byteLength)
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
   * Adds every record of one frame body (record-frames.ts encoding, after its prefix) to the
   * open batch, sealing batches as they fill. The frame is first copied whole into the arena
   * past the write position; each record is then rewritten in place into Kafka's encoding
   * (varints) with copyWithin (a memmove, no per-record views or garbage). Kafka's form is
   * rarely longer than the frame's; if the writer would catch up with the unread staged
   * records, they are moved further ahead first.
   */
  addFrame(src: Buffer, start: number, end: number): FrameOutcome {
    this.compact()
    const frameBytes = end - start
    let stage = this.length + STAGE_HEADROOM + (frameBytes >> 3)
    this.ensureCapacity(stage + frameBytes)
    this.arena.set(src.subarray(start, end), stage)
    let stageEnd = stage + frameBytes
    let o = stage
    let seals = 0
    let firstSealed = false
    let firstIndex = -1
    while (o < stageEnd) {
      if (o + RECORD_FIXED_BYTES > stageEnd) throw new RangeError('record frame truncated')
      let view = this.view
      const timestamp = view.getFloat64(o, true)
      const keyLength = view.getInt32(o + 8, true)
      const valueLength = view.getInt32(o + 12, true)
      const headerCount = view.getInt32(o + 16, true)
      let keyStart = o + RECORD_FIXED_BYTES
      let valueStart = keyStart + (keyLength > 0 ? keyLength : 0)
      let headersStart = valueStart + (valueLength > 0 ? valueLength : 0)
      let next = headersStart
      let headersSize = 0
      for (let i = 0; i < headerCount * 2; i++) {
        if (next + 4 > stageEnd) throw new RangeError('record frame header truncated')
        const n = view.getInt32(next, true)
        next += 4 + (n > 0 ? n : 0)
        headersSize += n < 0 ? 1 : varintSize(n * 2) + n
      }
      if (next > stageEnd) throw new RangeError('record frame runs past its end')

      let fixed = 1 + varintSize(headerCount * 2) + headersSize
      fixed += keyLength < 0 ? 1 : varintSize(keyLength * 2) + keyLength
      fixed += valueLength < 0 ? 1 : varintSize(valueLength * 2) + valueLength
      let timestampDelta = this.count === 0 ? 0 : timestamp - this.baseTimestamp
      let body = fixed + varintSize(zigzag(timestampDelta)) + varintSize(this.count * 2)
      let total = varintSize(body * 2) + body
      let sealedNow = false
      if (this.count > 0 && this.length - this.sealedEnd + total > this.batchSize) {
        this.seal()
        seals++
        sealedNow = true
        timestampDelta = 0
        body = fixed + 2
        total = varintSize(body * 2) + body
      }
      if (this.count === 0) {
        this.baseTimestamp = timestamp
        this.maxTimestamp = timestamp
        this.openedAt = performance.now()
      } else if (timestamp > this.maxTimestamp) {
        this.maxTimestamp = timestamp
      }
      if (this.length + total > o) {
        // The writer would overwrite unread records: move them ahead.
        const shift = this.length + total - o + STAGE_HEADROOM + ((stageEnd - o) >> 3)
        this.ensureCapacity(stageEnd + shift)
        this.arena.copyWithin(o + shift, o, stageEnd)
        o += shift
        keyStart += shift
        valueStart += shift
        headersStart += shift
        next += shift
        stageEnd += shift
        view = this.view
      }
      const out = this.arena
      let w = writeVarint(out, this.length, body * 2)
      out[w++] = 0
      w = writeVarint(out, w, zigzag(timestampDelta))
      w = writeVarint(out, w, this.count * 2)
      if (keyLength < 0) out[w++] = 1
      else {
        w = writeVarint(out, w, keyLength * 2)
        out.copyWithin(w, keyStart, keyStart + keyLength)
        w += keyLength
      }
      if (valueLength < 0) out[w++] = 1
      else {
        w = writeVarint(out, w, valueLength * 2)
        out.copyWithin(w, valueStart, valueStart + valueLength)
        w += valueLength
      }
      w = writeVarint(out, w, headerCount * 2)
      let h = headersStart
      for (let i = 0; i < headerCount * 2; i++) {
        const n = view.getInt32(h, true)
        h += 4
        if (n < 0) {
          out[w++] = 1
          continue
        }
        w = writeVarint(out, w, n * 2)
        out.copyWithin(w, h, h + n)
        w += n
        h += n
      }
      this.length = w
      this.count++
      if (firstIndex < 0) {
        firstIndex = this.count - 1
        firstSealed = sealedNow
      }
      o = next
    }
    if (firstIndex < 0) throw new RangeError('a record frame without records')
    return { firstSealed, firstIndex, seals }
  }

  private ensureCapacity(need: number): void {
    if (need <= this.arena.length) return
    const grown = Buffer.allocUnsafe(Math.max(need, this.arena.length * 2))
    grown.set(this.arena)
    this.arena = grown
    this.view = new DataView(grown.buffer, grown.byteOffset, grown.byteLength)
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
