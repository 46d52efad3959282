/**
 * How single records (the embedded producer path) travel from the caller's thread to the
 * owning worker: already in RecordBatch v2's record encoding (varints), cut into chunks that
 * each fit one batch, so the worker turns a chunk into a batch with one copy and a header
 * instead of re-encoding every record (see worker/batcher.ts). The encoding work is done on the
 * caller's thread, which the single-writer worker would otherwise have to do alone.
 *
 * A frame body (little-endian) is `u32 largestRecordBytes` (the worker refuses an oversize
 * record without looking inside) followed by one or more chunks:
 *
 *   u32 recordsBytes | u32 recordCount | f64 baseTimestamp | f64 maxTimestamp | records
 *
 * The records are exactly Kafka's: varint length, attributes, timestampDelta from the chunk's
 * baseTimestamp (its first record's), offsetDelta from the chunk's first record, key, value,
 * headers. A chunk holds at most `chunkLimit` record bytes unless its one record is larger.
 */
import { Buffer } from 'node:buffer'
import { InvalidRecordError, RecordTooLargeError } from '../../errors.js'
import { normalizeHeaders, type RecordHeader, type RecordInput } from '../../protocol/records.js'
import { uvarintSize, writeUvarint, zigzag } from '../../protocol/varint.js'

/**
 * `TypedArray#set`, called as a known function rather than looked up as `out.set` through
 * Buffer.prototype: measured on Node 20, a 100-byte copy takes 18 instead of 28 ns
 * (micro-benchmark) and the encoder 55 instead of 60 ns a record (same-process A/B).
 */
const typedArraySet = Uint8Array.prototype.set

export const RECORDS_PREFIX_BYTES = 4
export const CHUNK_HEADER_BYTES = 24

/** Where an `encode` call stopped: the body's end offset in the buffer and the first record left out. */
export interface EncodedFrame {
  end: number
  next: number
}

function byteLengthOf(v: Buffer | string | null | undefined): number {
  if (v === null || v === undefined) return -1
  return typeof v === 'string' ? Buffer.byteLength(v) : v.length
}

/** A length-prefixed field (varint length, bytes; -1 for null). */
function writeField(out: Buffer, o: number, v: Buffer | string | null | undefined, length: number): number {
  if (length < 0) {
    out[o] = 1
    return o + 1
  }
  o = writeUvarint(out, o, length * 2)
  if (typeof v === 'string') out.write(v, o, length, 'utf8')
  else typedArraySet.call(out, v as Buffer, o)
  return o + length
}

function headersSize(headers: readonly RecordHeader[]): number {
  let size = uvarintSize(headers.length * 2)
  for (const h of headers) {
    const hk = Buffer.byteLength(h.key)
    const hv = byteLengthOf(h.value)
    size += uvarintSize(hk * 2) + hk + (hv < 0 ? 1 : uvarintSize(hv * 2) + hv)
  }
  return size
}

function writeHeaders(out: Buffer, o: number, headers: readonly RecordHeader[]): number {
  o = writeUvarint(out, o, headers.length * 2)
  for (const h of headers) {
    o = writeField(out, o, h.key, Buffer.byteLength(h.key))
    o = writeField(out, o, h.value, byteLengthOf(h.value))
  }
  return o
}

function closeChunk(view: DataView, chunkStart: number, end: number, count: number, baseTimestamp: number, maxTimestamp: number): void {
  view.setUint32(chunkStart, end - chunkStart - CHUNK_HEADER_BYTES, true)
  view.setUint32(chunkStart + 4, count, true)
  view.setFloat64(chunkStart + 8, baseTimestamp, true)
  view.setFloat64(chunkStart + 16, maxTimestamp, true)
}

/**
 * Encodes records into frame bodies in its own growing buffer, which the router then copies
 * into a ring in one piece. So the exact frame length is known before anything is reserved in
 * the ring (no sizing pass over the records), and the many small stores of encoding go to
 * private memory: V8 makes every store and copy into a SharedArrayBuffer a relaxed-atomic
 * one, measured about 1.5x slower for this loop, while one bulk copy of a finished frame
 * (native memcpy, see shared-copy.ts) costs little.
 */
export class RecordFrameEncoder {
  buffer: Buffer

  constructor(initialBytes = 64 * 1024) {
    this.buffer = Buffer.allocUnsafe(initialBytes)
  }

  /**
   * Encodes records from `from` (before `to`) as a frame body at `offset` of `buffer`, within
   * `maxBodyBytes`: it stops before the first record that would not fit. The frame's first
   * record may take up to `firstRecordMaxBodyBytes` alone. Records without a timestamp get
   * `defaultTimestamp`. Throws RecordTooLargeError if the first record does not fit, and
   * InvalidRecordError for a timestamp that is not a safe integer.
   */
  encode(offset: number, records: readonly RecordInput[], from: number, to: number, defaultTimestamp: number, chunkLimit: number, maxBodyBytes = Infinity, firstRecordMaxBodyBytes = maxBodyBytes): EncodedFrame {
    const limit = offset + maxBodyBytes
    if (this.buffer.length < offset + RECORDS_PREFIX_BYTES + CHUNK_HEADER_BYTES) this.buffer = Buffer.allocUnsafe(offset + 64 * 1024)
    let out = this.buffer
    let view = new DataView(out.buffer, out.byteOffset, out.byteLength)
    let largest = 0
    let chunkStart = offset + RECORDS_PREFIX_BYTES
    let o = chunkStart + CHUNK_HEADER_BYTES
    let count = 0
    let baseTimestamp = 0
    let maxTimestamp = 0
    let i = from
    for (; i < to; i++) {
      const r = records[i]
      const key = r.key
      const value = r.value
      const timestamp = r.timestamp ?? defaultTimestamp
      if (!Number.isSafeInteger(timestamp)) throw new InvalidRecordError(`record timestamp must be whole milliseconds, got ${String(r.timestamp)}`)
      const keyLength = byteLengthOf(key)
      const valueLength = byteLengthOf(value)
      const headers = r.headers ? normalizeHeaders(r.headers) : null
      // Attributes, key, value and headers: all of the record but its length and two deltas.
      // (Varints of one or two bytes are sized and written inline throughout: the helpers are
      // past TurboFan's inlining budget in this loop, and calls cost ~20% of it.)
      const fields = 1 + (keyLength < 0 ? 1 : (keyLength < 64 ? 1 : uvarintSize(keyLength * 2)) + keyLength) +
        (valueLength < 0 ? 1 : (valueLength < 64 ? 1 : valueLength < 0x2000 ? 2 : uvarintSize(valueLength * 2)) + valueLength) +
        (headers === null ? 1 : headersSize(headers))
      let timestampDelta = count === 0 ? 0 : zigzag(timestamp - baseTimestamp)
      let body = fields + (timestampDelta < 0x80 ? 1 : uvarintSize(timestampDelta)) + (count < 64 ? 1 : count < 0x2000 ? 2 : uvarintSize(count * 2))
      let size = (body < 64 ? 1 : body < 0x2000 ? 2 : uvarintSize(body * 2)) + body
      const startsChunk = count > 0 && o - chunkStart - CHUNK_HEADER_BYTES + size > chunkLimit
      if (startsChunk) {
        timestampDelta = 0
        body = fields + 2
        size = uvarintSize(body * 2) + body
      }
      const need = o + (startsChunk ? CHUNK_HEADER_BYTES : 0) + size
      if (need > limit) {
        if (i > from) break
        if (need > offset + firstRecordMaxBodyBytes) throw new RecordTooLargeError(`a record of ${size} bytes does not fit the largest frame (${firstRecordMaxBodyBytes} bytes)`)
      }
      if (need > out.length) {
        const grown = Buffer.allocUnsafe(Math.max(need, out.length * 2))
        grown.set(out.subarray(0, o))
        this.buffer = out = grown
        view = new DataView(out.buffer, out.byteOffset, out.byteLength)
      }
      if (startsChunk) {
        closeChunk(view, chunkStart, o, count, baseTimestamp, maxTimestamp)
        chunkStart = o
        o += CHUNK_HEADER_BYTES
        count = 0
      }
      if (count === 0) {
        baseTimestamp = timestamp
        maxTimestamp = timestamp
      } else if (timestamp > maxTimestamp) maxTimestamp = timestamp
      if (size > largest) largest = size
      let u = body * 2
      if (u < 0x80) out[o++] = u
      else if (u < 0x4000) {
        out[o++] = (u & 0x7f) | 0x80
        out[o++] = u >>> 7
      } else o = writeUvarint(out, o, u)
      out[o++] = 0
      if (timestampDelta < 0x80) out[o++] = timestampDelta
      else o = writeUvarint(out, o, timestampDelta)
      u = count * 2
      if (u < 0x80) out[o++] = u
      else if (u < 0x4000) {
        out[o++] = (u & 0x7f) | 0x80
        out[o++] = u >>> 7
      } else o = writeUvarint(out, o, u)
      if (keyLength >= 0 && keyLength <= 16 && typeof key !== 'string') {
        // Short Buffer keys: a loop beats TypedArray#set's fixed cost (about 25 ns a call),
        // four bytes a step (loads before stores: ~5 ns less per 8-byte key, measured A/B).
        out[o++] = keyLength * 2
        const bytes = key as Buffer
        let k = 0
        for (; k + 4 <= keyLength; k += 4) {
          const b0 = bytes[k]
          const b1 = bytes[k + 1]
          const b2 = bytes[k + 2]
          const b3 = bytes[k + 3]
          out[o + k] = b0
          out[o + k + 1] = b1
          out[o + k + 2] = b2
          out[o + k + 3] = b3
        }
        for (; k < keyLength; k++) out[o + k] = bytes[k]
        o += keyLength
      } else o = writeField(out, o, key, keyLength)
      if (valueLength >= 64 && valueLength < 0x2000 && typeof value !== 'string') {
        u = valueLength * 2
        out[o++] = (u & 0x7f) | 0x80
        out[o++] = u >>> 7
        typedArraySet.call(out, value as Buffer, o)
        o += valueLength
      } else o = writeField(out, o, value, valueLength)
      if (headers === null) out[o++] = 0
      else o = writeHeaders(out, o, headers)
      count++
    }
    closeChunk(view, chunkStart, o, count, baseTimestamp, maxTimestamp)
    view.setUint32(offset, largest, true)
    return { end: o, next: i }
  }
}

/** A whole frame body of `records` in a new buffer (the single-thread path and tests). */
export function encodeRecordFrameBuffer(records: readonly RecordInput[], defaultTimestamp: number, chunkLimit: number): Buffer {
  const encoder = new RecordFrameEncoder()
  const { end } = encoder.encode(0, records, 0, records.length, defaultTimestamp, chunkLimit)
  return encoder.buffer.subarray(0, end)
}

/** The `largestRecordBytes` prefix of a frame body at `offset`. */
export function largestRecordBytes(buf: Buffer, offset: number): number {
  return buf.readUInt32LE(offset)
}
