/**
 * Turns the bytes of a segment read (whole RecordBatch v2 batches) straight into kafkajs-shaped
 * messages: one pass per record, key/value/header values as views into the (decompressed)
 * batch, no intermediate record objects. Each batch's CRC is checked before it is decoded;
 * control batches (transaction markers) are skipped, as a consumer never sees them.
 */
import { Buffer } from 'node:buffer'
import { CorruptRecordError } from '../errors.js'
import { decompress } from '../protocol/compression.js'
import { BATCH_HEADER_SIZE, BatchAttribute, LOG_OVERHEAD, readInt64, validateBatch } from '../protocol/record-batch.js'
import type { KafkaMessage } from './types.js'

export interface DecodedRange {
  messages: KafkaMessage[]
  /** The offset after the last whole batch decoded (where the next read starts). */
  nextOffset: number
  /** Bytes of `bytes` consumed (whole batches); decoding more starts here. */
  consumedBytes: number
}

/**
 * Decodes whole batches from `bytes` (starting at byte `start`), keeping records at or after
 * `fromOffset`. A partial batch at the end (a read cut short) is left for the next read.
 * Decoding stops after the batch that brings the messages to `maxMessages`, so a large read
 * can be handed over in pieces whose objects die young (cheap for the garbage collector).
 */
export function decodeMessages(bytes: Buffer, fromOffset: number, maxDecompressedBytes: number, start = 0, maxMessages = Infinity): DecodedRange {
  const messages: KafkaMessage[] = []
  let nextOffset = fromOffset
  let at = start
  while (at + LOG_OVERHEAD <= bytes.length && messages.length < maxMessages) {
    const size = LOG_OVERHEAD + bytes.readInt32BE(at + 8)
    if (at + size > bytes.length) break
    validateBatch(bytes, at, at + size)
    const baseOffset = readInt64(bytes, at)
    const lastOffsetDelta = bytes.readInt32BE(at + 23)
    const attributes = bytes.readInt16BE(at + 21)
    const end = baseOffset + lastOffsetDelta + 1
    if (end > fromOffset && (attributes & BatchAttribute.Control) === 0) {
      const codec = attributes & BatchAttribute.CompressionMask
      const body = decompress(codec, bytes.subarray(at + BATCH_HEADER_SIZE, at + size), maxDecompressedBytes)
      const logAppendTime = (attributes & BatchAttribute.LogAppendTime) !== 0
      const baseTimestamp = readInt64(bytes, at + 27)
      const maxTimestamp = readInt64(bytes, at + 35)
      decodeRecords(body, bytes.readInt32BE(at + 57), baseOffset, logAppendTime ? maxTimestamp : -1, baseTimestamp, fromOffset, messages)
    }
    if (end > nextOffset) nextOffset = end
    at += size
  }
  return { messages, nextOffset, consumedBytes: at }
}

/**
 * A Buffer view made without `Buffer#subarray` (which re-checks and clamps its bounds, then
 * builds the same object): what Node's internal FastBuffer is, a Uint8Array whose prototype
 * chain runs through Buffer.prototype, so Buffer.isBuffer and every Buffer method work on it.
 * Bounds are checked by the decoder before each view is made.
 */
class BufferView extends Uint8Array<ArrayBufferLike> {}
Object.setPrototypeOf(BufferView.prototype, Buffer.prototype)
Object.defineProperty(BufferView.prototype, 'constructor', { value: Buffer, writable: true, configurable: true })

/** Read position inside the records section being decoded (module state: no cursor object per record). */
let at = 0

/** Reads the zigzag varint at `at` below `end`, advancing `at`. */
function zigzag(buf: Buffer, end: number): number {
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

function bytesAt(buf: Buffer, end: number): Buffer | null {
  // The one-byte length (under 64 bytes, or null) inline: a call less for most keys.
  const first = at < end ? buf[at] : 0x80
  let length: number
  if (first < 0x80) {
    at++
    length = (first >>> 1) ^ -(first & 1)
  } else length = zigzag(buf, end)
  if (length === -1) return null
  const o = at
  if (length < 0 || length > end - o) throw new CorruptRecordError(`byte string length ${length} exceeds the record`)
  at = o + length
  return new BufferView(buf.buffer, buf.byteOffset + o, length) as Buffer
}

const THREE_DIGITS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'))
let thousands = -1
let thousandsText = ''

/**
 * An offset as the decimal string kafkajs gives: the thousands are converted once per 1000
 * consecutive offsets and the last three digits come from a table (about 22 vs 35 ns a record
 * for String(offset), measured).
 */
function offsetText(offset: number): string {
  if (offset < 1000) return String(offset)
  const high = Math.floor(offset / 1000)
  if (high !== thousands) {
    thousands = high
    thousandsText = String(high)
  }
  return thousandsText + THREE_DIGITS[offset - high * 1000]
}

function decodeRecords(
  buf: Buffer, count: number, baseOffset: number, appendTime: number, baseTimestamp: number,
  fromOffset: number, out: KafkaMessage[],
): void {
  if (count < 0 || count * 7 > buf.length) throw new CorruptRecordError(`record count ${count} does not fit in ${buf.length} bytes`)
  at = 0
  const total = buf.length
  // Records of a batch mostly share a timestamp: convert it to a string once.
  let lastTimestamp = NaN
  let lastTimestampText = ''
  for (let i = 0; i < count; i++) {
    const length = zigzag(buf, total)
    const start = at
    if (length <= 0 || length > total - start) throw new CorruptRecordError(`record length ${length} exceeds the batch`)
    const end = start + length
    const recordAttributes = buf[start]
    at = start + 1
    const timestampDelta = zigzag(buf, end)
    const offset = baseOffset + zigzag(buf, end)
    if (offset < fromOffset) {
      at = end
      continue
    }
    const key = bytesAt(buf, end)
    const value = bytesAt(buf, end)
    const headerCount = zigzag(buf, end)
    if (headerCount < 0 || headerCount * 2 > end - at) throw new CorruptRecordError(`header count ${headerCount} exceeds the record`)
    const headers: Record<string, Buffer | null> = {}
    for (let h = 0; h < headerCount; h++) {
      const hk = bytesAt(buf, end)
      if (hk === null) throw new CorruptRecordError('null header key')
      const name = hk.toString('utf8')
      const headerValue = bytesAt(buf, end)
      // A header named __proto__ must stay a header, not replace the object's prototype.
      if (name === '__proto__') Object.defineProperty(headers, name, { value: headerValue, enumerable: true, writable: true, configurable: true })
      else headers[name] = headerValue
    }
    if (at !== end) throw new CorruptRecordError('record length does not match its fields')
    const timestamp = appendTime >= 0 ? appendTime : baseTimestamp + timestampDelta
    if (timestamp !== lastTimestamp) {
      lastTimestamp = timestamp
      lastTimestampText = String(timestamp)
    }
    out.push({ key, value, headers, timestamp: lastTimestampText, offset: offsetText(offset), attributes: recordAttributes })
  }
  if (at !== total) throw new CorruptRecordError('bytes left over after the last record')
}
