/**
 * Up-conversion for Produce v0-2: the legacy message sets (magic 0 and 1) old clients send
 * become one RecordBatch v2, which is the only format ringlog stores. A legacy message is
 *   offset int64, size int32, crc int32 (CRC-32 of the rest), magic int8, attributes int8,
 *   [timestamp int64, magic 1 only], key bytes (int32 length, -1 for null), value bytes;
 * a compressed one (attributes bits 0-2) is a wrapper whose value is an inner message set.
 * A RecordBatch v2 in these versions is INVALID_RECORD, as Kafka's ProduceRequest refuses it;
 * zstd in a wrapper is UNSUPPORTED_COMPRESSION_TYPE (Kafka: zstd needs Produce v7+).
 * Checked as Kafka's LogValidator checks them: every CRC (wrappers and inner messages), magic
 * 0 or 1, no compression inside a wrapper, no bytes left over, and the total decompressed size
 * under the same cap the v2 path has (a bomb is CORRUPT_MESSAGE). Offsets the client wrote
 * are ignored (the partition assigns them); magic 0 records get no timestamp (-1, Kafka's
 * NO_TIMESTAMP); a magic 1 wrapper stamped LogAppendTime gives its timestamp to its records.
 * The batch keeps the wrapper's codec (Kafka's compression.type=producer), else none.
 */
import { crc32 } from 'node:zlib'
import { CorruptRecordError, InvalidRecordError, UnsupportedCompressionError } from '../errors.js'
import { Compression, DEFAULT_MAX_DECOMPRESSED_BYTES, decompress } from './compression.js'
import { encodeRecordBatch } from './record-batch.js'
import type { RecordInput } from './records.js'

/** offset int64 + size int32. */
const LEGACY_LOG_OVERHEAD = 12
/** crc, magic, attributes, key length, value length: the smallest magic 0 message. */
const MIN_MESSAGE_SIZE = 4 + 1 + 1 + 4 + 4
const CODEC_MASK = 0x07
const LOG_APPEND_TIME_FLAG = 0x08
const NO_TIMESTAMP = -1
/** The magic byte sits at the same place in both formats: after offset, size and crc (or epoch). */
const MAGIC_AT = 16

interface LegacyMessage {
  magic: number
  codec: number
  logAppendTime: boolean
  timestamp: number
  key: Buffer | null
  value: Buffer | null
}

/** True when the bytes start with a legacy message (magic 0 or 1) rather than a v2 batch. */
export function isLegacyMessageSet(records: Buffer): boolean {
  return records.length > MAGIC_AT && records[MAGIC_AT] < 2
}

function readBytes(buf: Buffer, at: number, end: number, what: string): { value: Buffer | null; next: number } {
  if (at + 4 > end) throw new CorruptRecordError(`legacy message ${what} length runs past the message`)
  const length = buf.readInt32BE(at)
  if (length === -1) return { value: null, next: at + 4 }
  if (length < 0 || at + 4 + length > end) throw new CorruptRecordError(`legacy message ${what} length ${length} runs past the message`)
  return { value: buf.subarray(at + 4, at + 4 + length), next: at + 4 + length }
}

/** The messages of one message set, in order; each checked against its CRC-32. */
function readMessageSet(buf: Buffer): LegacyMessage[] {
  const messages: LegacyMessage[] = []
  let at = 0
  while (at < buf.length) {
    if (at + LEGACY_LOG_OVERHEAD > buf.length) throw new CorruptRecordError(`legacy message set has ${buf.length - at} trailing bytes`)
    const size = buf.readInt32BE(at + 8)
    const start = at + LEGACY_LOG_OVERHEAD
    const end = start + size
    if (size < MIN_MESSAGE_SIZE || end > buf.length) throw new CorruptRecordError(`legacy message size ${size} is invalid or runs past the set`)
    const stored = buf.readUInt32BE(start)
    if (crc32(buf.subarray(start + 4, end)) !== stored) throw new CorruptRecordError('legacy message CRC-32 mismatch')
    const magic = buf[start + 4]
    if (magic > 1) throw new CorruptRecordError(`legacy message set holds a magic ${magic} message`)
    const attributes = buf[start + 5]
    let p = start + 6
    let timestamp = NO_TIMESTAMP
    if (magic === 1) {
      if (p + 8 > end) throw new CorruptRecordError('legacy message timestamp runs past the message')
      timestamp = Number(buf.readBigInt64BE(p))
      p += 8
    }
    const key = readBytes(buf, p, end, 'key')
    const value = readBytes(buf, key.next, end, 'value')
    if (value.next !== end) throw new CorruptRecordError('legacy message has bytes after its value')
    messages.push({ magic, codec: attributes & CODEC_MASK, logAppendTime: magic === 1 && (attributes & LOG_APPEND_TIME_FLAG) !== 0, timestamp, key: key.value, value: value.value })
    at = end
  }
  return messages
}

function toRecord(m: LegacyMessage, timestamp: number): RecordInput {
  return { key: m.key, value: m.value, timestamp }
}

/**
 * Converts a Produce v0-2 partition's message set to one RecordBatch v2 (base offset 0, no
 * producer id). Throws CorruptRecordError for anything Kafka would refuse as CORRUPT_MESSAGE.
 */
export function upConvertMessageSet(records: Buffer, maxDecompressedBytes = DEFAULT_MAX_DECOMPRESSED_BYTES): Buffer {
  if (records.length > MAGIC_AT && !isLegacyMessageSet(records)) throw new InvalidRecordError(`Produce v0-2 carries message format v0/v1 only, got magic ${records[MAGIC_AT]}`)
  const out: RecordInput[] = []
  let codec: number = Compression.none
  let budget = maxDecompressedBytes
  for (const m of readMessageSet(records)) {
    if (m.codec === Compression.none) {
      out.push(toRecord(m, m.timestamp))
      continue
    }
    if (m.codec === Compression.zstd) throw new UnsupportedCompressionError('zstd needs message format v2 (Produce v7+)')
    if (m.value === null) throw new CorruptRecordError('compressed legacy message has no value')
    const inner = decompress(m.codec, m.value, budget)
    budget -= inner.length
    if (codec === Compression.none) codec = m.codec
    for (const im of readMessageSet(inner)) {
      if (im.codec !== Compression.none) throw new CorruptRecordError('compressed legacy message inside a compressed message')
      out.push(toRecord(im, m.logAppendTime ? m.timestamp : im.magic === 0 ? NO_TIMESTAMP : im.timestamp))
    }
  }
  if (out.length === 0) throw new CorruptRecordError('legacy message set holds no messages')
  return encodeRecordBatch({ records: out, compression: codec })
}
