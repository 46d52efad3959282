/**
 * Reading the records section of a RecordBatch v2 (what follows the 61-byte header, once
 * decompressed): the varints, byte strings and checks that every record decoder shares, so
 * the tools' decoder (records.ts) and the consumer's (client/message-decoder.ts) read and
 * reject records by the same rules.
 *
 * Each record: length, attributes (int8), timestampDelta, offsetDelta, key, value, header
 * count, then each header's key and value; all lengths and deltas zigzag varints, -1 for null.
 *
 * The read position is module state rather than a cursor object, so a record costs no
 * allocation beyond the views handed out. Decoding is synchronous: one section is read from
 * `startRecords` to `endRecords` before another begins.
 */
import { Buffer } from 'node:buffer'
import { CorruptRecordError, InvalidRecordError } from '../errors.js'

/** Where the next read starts, in the section being read. */
let at = 0
/**
 * The section's memory, for the views `readBytes` makes: read once per section, because the
 * `buffer` getter is a builtin call V8 does not inline (measured: hoisting it out of the
 * per-view path made decoding 100-byte records 1.5x faster).
 */
let sectionMemory: ArrayBufferLike = new ArrayBuffer(0)
let sectionStart = 0

/**
 * A Buffer view made without `Buffer#subarray` (which re-checks and clamps its bounds, then
 * builds the same object): what Node's internal FastBuffer is, a Uint8Array whose prototype
 * chain runs through Buffer.prototype, so Buffer.isBuffer and every Buffer method work on it.
 * Bounds are checked before each view is made.
 */
class BufferView extends Uint8Array<ArrayBufferLike> {}
Object.setPrototypeOf(BufferView.prototype, Buffer.prototype)
Object.defineProperty(BufferView.prototype, 'constructor', { value: Buffer, writable: true, configurable: true })

/**
 * Starts reading `count` records from `buf`; the count is checked against the bytes first (a
 * record takes at least 7). Every read until the next start passes this same `buf`.
 */
export function startRecords(buf: Uint8Array, count: number): void {
  if (count < 0 || count * 7 > buf.length) throw new CorruptRecordError(`record count ${count} does not fit in ${buf.length} bytes`)
  at = 0
  sectionMemory = buf.buffer
  sectionStart = buf.byteOffset
}

/** After the last record: nothing may be left over. */
export function endRecords(buf: Uint8Array): void {
  if (at !== buf.length) throw new CorruptRecordError('bytes left over after the last record')
}

/** Reads a record's length; returns where the record ends (its attributes byte is next). */
export function startRecord(buf: Uint8Array): number {
  const length = readZigzag(buf, buf.length)
  if (length <= 0 || length > buf.length - at) throw new CorruptRecordError(`record length ${length} exceeds the batch or is not positive`)
  return at + length
}

/** Reads an int8 (a record's attributes) below `end`. */
export function readInt8(buf: Uint8Array, end: number): number {
  if (at >= end) throw new CorruptRecordError('record truncated')
  const v = buf[at++]
  return v > 127 ? v - 256 : v
}

/** After a record's last header: its fields must fill its length exactly. */
export function endRecord(end: number): void {
  if (at !== end) throw new CorruptRecordError('record length does not match its fields')
}

/** Skips the rest of a record (one the caller does not want). */
export function skipTo(end: number): void {
  at = end
}

/** Reads the zigzag varint at the read position, below `end`. */
export function readZigzag(buf: Uint8Array, end: number): number {
  if (at >= end) throw new CorruptRecordError('varint runs past the end of the record')
  const first = buf[at]
  if (first < 0x80) {
    // One byte: by far the common case (lengths and deltas under 64).
    at++
    return (first >>> 1) ^ -(first & 1)
  }
  let o = at
  let result = 0
  let multiplier = 1
  for (let i = 0; i < 10; i++) {
    if (o >= end) throw new CorruptRecordError('varint runs past the end of the record')
    const byte = buf[o++]
    result += (byte & 0x7f) * multiplier
    if ((byte & 0x80) === 0) {
      at = o
      if (result > Number.MAX_SAFE_INTEGER) throw new CorruptRecordError('varint exceeds 2^53')
      return result % 2 === 0 ? result / 2 : -(result + 1) / 2
    }
    multiplier *= 128
  }
  throw new CorruptRecordError('varint longer than 10 bytes')
}

/** A length-prefixed byte string below `end`, as a view into `buf`; null for length -1. */
export function readBytes(buf: Uint8Array, end: number): Buffer | null {
  // The one-byte length (under 64 bytes, or null) inline: a call less for most keys.
  const first = at < end ? buf[at] : 0x80
  let length: number
  if (first < 0x80) {
    at++
    length = (first >>> 1) ^ -(first & 1)
  } else length = readZigzag(buf, end)
  if (length === -1) return null
  const o = at
  if (length < 0 || length > end - o) throw new CorruptRecordError(`byte string length ${length} exceeds the record`)
  at = o + length
  return new BufferView(sectionMemory, sectionStart + o, length) as Buffer
}

/** The header count, checked against the bytes left in the record (a header takes at least 2). */
export function readHeaderCount(buf: Uint8Array, end: number): number {
  const count = readZigzag(buf, end)
  if (count < 0 || count * 2 > end - at) throw new CorruptRecordError(`header count ${count} exceeds the record`)
  return count
}

/** A header's key, as the UTF-8 string it is (null is refused: header keys are strings). */
export function readHeaderKey(buf: Uint8Array, end: number): string {
  const key = readBytes(buf, end)
  if (key === null) throw new CorruptRecordError('null header key')
  return key.toString('utf8')
}

/** Steps over a length-prefixed byte string below `end`; false if it is null (length -1). */
function skipBytes(buf: Uint8Array, end: number): boolean {
  const length = readZigzag(buf, end)
  if (length === -1) return false
  if (length < 0 || length > end - at) throw new CorruptRecordError(`byte string length ${length} exceeds the record`)
  at += length
  return true
}

/**
 * Checks a records section (decompressed) the way every consumer will read it, making no
 * views: `count` records whose offset deltas run 0..count-1, each record filled exactly by
 * its fields (lengths, varints, key, value, headers with non-null keys), nothing left over.
 * The produce path runs it on every batch before storing it, as Kafka parses every record:
 * a fault throws InvalidRecordError (INVALID_RECORD), and nothing is stored.
 */
export function checkRecords(buf: Uint8Array, count: number): void {
  try {
    startRecords(buf, count)
    for (let i = 0; i < count; i++) {
      const end = startRecord(buf)
      readInt8(buf, end)
      readZigzag(buf, end)
      const offsetDelta = readZigzag(buf, end)
      if (offsetDelta !== i) throw new InvalidRecordError(`record ${i} has offset delta ${offsetDelta}; deltas must run 0..${count - 1}`)
      skipBytes(buf, end)
      skipBytes(buf, end)
      const headers = readHeaderCount(buf, end)
      for (let h = 0; h < headers; h++) {
        if (!skipBytes(buf, end)) throw new InvalidRecordError(`record ${i} has a null header key`)
        skipBytes(buf, end)
      }
      endRecord(end)
    }
    endRecords(buf)
  } catch (error) {
    if (error instanceof CorruptRecordError) throw new InvalidRecordError(`invalid record: ${error.message}`)
    throw error
  }
}
