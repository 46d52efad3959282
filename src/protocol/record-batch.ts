/**
 * RecordBatch v2 (magic 2), the unit Kafka stores, replicates and serves.
 *
 *   0 baseOffset i64 | 8 batchLength i32 | 12 partitionLeaderEpoch i32 | 16 magic i8 | 17 crc u32
 *  21 attributes i16 | 23 lastOffsetDelta i32 | 27 baseTimestamp i64 | 35 maxTimestamp i64
 *  43 producerId i64 | 51 producerEpoch i16 | 53 baseSequence i32 | 57 recordCount i32 | 61 records
 *
 * The CRC-32C covers attributes..end, so baseOffset and partitionLeaderEpoch can be stamped by
 * the broker without recomputing it. Offsets, timestamps and producer ids are JS numbers (exact
 * to 2^53). Every reader here checks lengths against the bytes present before using them.
 */
import { Buffer } from 'node:buffer'
import { CorruptRecordError, InvalidRecordError, UnsupportedCompressionError } from '../errors.js'
import { compress, Compression, decompress, DEFAULT_MAX_DECOMPRESSED_BYTES } from './compression.js'
import { crc32c } from './crc32c.js'
import { checkRecords } from './record-reader.js'
import { decodeRecords, encodeRecords, type DecodedRecord, type RecordInput } from './records.js'

export const BATCH_HEADER_SIZE = 61
/** baseOffset + batchLength: the bytes not counted by batchLength. */
export const LOG_OVERHEAD = 12
/** Smallest legal batchLength: the header after the length field, zero records. */
export const MIN_BATCH_LENGTH = BATCH_HEADER_SIZE - LOG_OVERHEAD
/** Where each header field starts, from the start of the batch (see the table above). */
export const BATCH_LENGTH_OFFSET = 8
export const PARTITION_LEADER_EPOCH_OFFSET = 12
export const MAGIC_OFFSET = 16
export const CRC_OFFSET = 17
export const ATTRIBUTES_OFFSET = 21
export const LAST_OFFSET_DELTA_OFFSET = 23
export const BASE_TIMESTAMP_OFFSET = 27
export const MAX_TIMESTAMP_OFFSET = 35
export const PRODUCER_ID_OFFSET = 43
export const PRODUCER_EPOCH_OFFSET = 51
export const BASE_SEQUENCE_OFFSET = 53
export const RECORD_COUNT_OFFSET = 57

export const enum BatchAttribute {
  CompressionMask = 0x07,
  LogAppendTime = 0x08,
  Transactional = 0x10,
  Control = 0x20,
}

/** Timestamp type, attributes bit 3: producer's create time or the broker's append time. */
export type TimestampType = 'CreateTime' | 'LogAppendTime'

/** The attribute bits of a batch, spelled out. */
export interface BatchAttributes {
  compression: number
  timestampType: TimestampType
  transactional: boolean
  control: boolean
}

export function parseBatchAttributes(attributes: number): BatchAttributes {
  return {
    compression: attributes & BatchAttribute.CompressionMask,
    timestampType: attributes & BatchAttribute.LogAppendTime ? 'LogAppendTime' : 'CreateTime',
    transactional: (attributes & BatchAttribute.Transactional) !== 0,
    control: (attributes & BatchAttribute.Control) !== 0,
  }
}

export interface BatchHeader {
  baseOffset: number
  batchLength: number
  partitionLeaderEpoch: number
  magic: number
  crc: number
  attributes: number
  lastOffsetDelta: number
  baseTimestamp: number
  maxTimestamp: number
  producerId: number
  producerEpoch: number
  baseSequence: number
  recordCount: number
}

export function readInt64(buf: Buffer, offset: number): number {
  return buf.readInt32BE(offset) * 4294967296 + buf.readUInt32BE(offset + 4)
}

export function writeInt64(buf: Buffer, offset: number, value: number): void {
  const high = Math.floor(value / 4294967296)
  buf.writeInt32BE(high, offset)
  buf.writeUInt32BE(value - high * 4294967296, offset + 4)
}

/** Total size in bytes (LOG_OVERHEAD + batchLength) of the batch at `offset`, or -1 if the 12-byte prefix is not all there. */
export function batchSizeAt(buf: Buffer, offset: number): number {
  if (offset + LOG_OVERHEAD > buf.length) return -1
  return LOG_OVERHEAD + buf.readInt32BE(offset + BATCH_LENGTH_OFFSET)
}

export function readBatchHeader(buf: Buffer, offset = 0): BatchHeader {
  if (offset + BATCH_HEADER_SIZE > buf.length) throw new CorruptRecordError('record batch header truncated')
  return {
    baseOffset: readInt64(buf, offset),
    batchLength: buf.readInt32BE(offset + BATCH_LENGTH_OFFSET),
    partitionLeaderEpoch: buf.readInt32BE(offset + PARTITION_LEADER_EPOCH_OFFSET),
    magic: buf.readInt8(offset + MAGIC_OFFSET),
    crc: buf.readUInt32BE(offset + CRC_OFFSET),
    attributes: buf.readInt16BE(offset + ATTRIBUTES_OFFSET),
    lastOffsetDelta: buf.readInt32BE(offset + LAST_OFFSET_DELTA_OFFSET),
    baseTimestamp: readInt64(buf, offset + BASE_TIMESTAMP_OFFSET),
    maxTimestamp: readInt64(buf, offset + MAX_TIMESTAMP_OFFSET),
    producerId: readInt64(buf, offset + PRODUCER_ID_OFFSET),
    producerEpoch: buf.readInt16BE(offset + PRODUCER_EPOCH_OFFSET),
    baseSequence: buf.readInt32BE(offset + BASE_SEQUENCE_OFFSET),
    recordCount: buf.readInt32BE(offset + RECORD_COUNT_OFFSET),
  }
}

export function computeBatchCrc(buf: Buffer, offset: number, size: number): number {
  return crc32c(buf.subarray(offset + ATTRIBUTES_OFFSET, offset + size))
}

/**
 * Checks the batch at `offset` is whole and intact: magic 2, a sane length that fits in the
 * buffer, a record count and offset delta that agree, and a matching CRC. Returns its total
 * size. Throws CorruptRecordError otherwise.
 */
export function validateBatch(buf: Buffer, offset = 0, end = buf.length): number {
  if (!Number.isInteger(offset) || offset < 0) throw new CorruptRecordError(`invalid batch position ${offset}`)
  if (end > buf.length) end = buf.length
  if (offset + BATCH_HEADER_SIZE > end) throw new CorruptRecordError('record batch truncated before its header ends')
  const batchLength = buf.readInt32BE(offset + BATCH_LENGTH_OFFSET)
  if (batchLength < MIN_BATCH_LENGTH) throw new CorruptRecordError(`batch length ${batchLength} below the minimum`)
  const size = LOG_OVERHEAD + batchLength
  if (offset + size > end) throw new CorruptRecordError(`batch of ${size} bytes runs past the ${end - offset} bytes present`)
  const magic = buf.readInt8(offset + MAGIC_OFFSET)
  if (magic !== 2) throw new CorruptRecordError(`unsupported record batch magic ${magic}`)
  const recordCount = buf.readInt32BE(offset + RECORD_COUNT_OFFSET)
  const lastOffsetDelta = buf.readInt32BE(offset + LAST_OFFSET_DELTA_OFFSET)
  if (recordCount < 0 || lastOffsetDelta < 0 || (recordCount > 0 && lastOffsetDelta < recordCount - 1)) {
    throw new CorruptRecordError(`record count ${recordCount} disagrees with last offset delta ${lastOffsetDelta}`)
  }
  const stored = buf.readUInt32BE(offset + CRC_OFFSET)
  const actual = computeBatchCrc(buf, offset, size)
  if (stored !== actual) throw new CorruptRecordError(`batch CRC mismatch (stored ${stored}, computed ${actual})`)
  return size
}

/**
 * Checks every record of the batch at `offset` (already through validateBatch): at least one
 * record, lastOffsetDelta = recordCount - 1, and the records section parses exactly (see
 * checkRecords), after decompression for gzip and lz4 (capped at `maxDecompressedBytes`; a
 * frame that does not decompress is CORRUPT_MESSAGE). Snappy and zstd batches, which ringlog
 * stores without a decoder, are checked to the header only. A batch claiming 1,000 records
 * that holds one is refused here (INVALID_RECORD) instead of leaving a 999-offset gap.
 */
export function validateBatchRecords(buf: Buffer, offset: number, size: number, maxDecompressedBytes = DEFAULT_MAX_DECOMPRESSED_BYTES): void {
  const count = buf.readInt32BE(offset + 57)
  const lastOffsetDelta = buf.readInt32BE(offset + 23)
  if (count === 0) throw new InvalidRecordError('a record batch must hold at least one record')
  if (lastOffsetDelta !== count - 1) throw new InvalidRecordError(`last offset delta ${lastOffsetDelta} does not match record count ${count}`)
  const codec = buf.readInt16BE(offset + ATTRIBUTES_OFFSET) & BatchAttribute.CompressionMask
  const section = buf.subarray(offset + BATCH_HEADER_SIZE, offset + size)
  if (codec === Compression.none) checkRecords(section, count)
  else if (codec === Compression.gzip || codec === Compression.lz4) checkRecords(decompress(codec, section, maxDecompressedBytes), count)
}

/** Stamps baseOffset in place (outside the CRC). */
export function setBaseOffset(buf: Buffer, offset: number, baseOffset: number): void {
  writeInt64(buf, offset, baseOffset)
}

/** Stamps partitionLeaderEpoch in place (outside the CRC). */
export function setPartitionLeaderEpoch(buf: Buffer, offset: number, epoch: number): void {
  buf.writeInt32BE(epoch, offset + PARTITION_LEADER_EPOCH_OFFSET)
}

export interface EncodeBatchOptions {
  records: readonly RecordInput[]
  baseOffset?: number
  compression?: number
  partitionLeaderEpoch?: number
  producerId?: number
  producerEpoch?: number
  baseSequence?: number
  transactional?: boolean
  /** Marks a control batch (transaction markers); the caller supplies the control records. */
  control?: boolean
  logAppendTime?: boolean
  /** Defaults to the first record's timestamp, else now. */
  baseTimestamp?: number
}

/** Builds one RecordBatch v2 with its CRC. At least one record is required. */
export function encodeRecordBatch(options: EncodeBatchOptions): Buffer {
  const { records } = options
  if (records.length === 0) throw new CorruptRecordError('a record batch needs at least one record')
  const now = Date.now()
  const baseTimestamp = options.baseTimestamp ?? records[0].timestamp ?? now
  if (!Number.isSafeInteger(baseTimestamp)) throw new InvalidRecordError(`base timestamp ${baseTimestamp} is not an integer`)
  let maxTimestamp = -Infinity
  for (const r of records) maxTimestamp = Math.max(maxTimestamp, r.timestamp ?? baseTimestamp)
  // Fail before any byte is written: writeInt32BE and friends would throw RangeError mid-encode.
  checkIntField('baseOffset', options.baseOffset ?? 0, -(2 ** 53), 2 ** 53)
  checkIntField('partitionLeaderEpoch', options.partitionLeaderEpoch ?? -1, -(2 ** 31), 2 ** 31 - 1)
  checkIntField('producerId', options.producerId ?? -1, -(2 ** 53), 2 ** 53)
  checkIntField('producerEpoch', options.producerEpoch ?? -1, -(2 ** 15), 2 ** 15 - 1)
  checkIntField('baseSequence', options.baseSequence ?? -1, -(2 ** 31), 2 ** 31 - 1)
  const codec = options.compression ?? Compression.none
  const body = compress(codec, encodeRecords(records, baseTimestamp))
  const out = Buffer.allocUnsafe(BATCH_HEADER_SIZE + body.length)
  writeInt64(out, 0, options.baseOffset ?? 0)
  out.writeInt32BE(out.length - LOG_OVERHEAD, BATCH_LENGTH_OFFSET)
  out.writeInt32BE(options.partitionLeaderEpoch ?? -1, PARTITION_LEADER_EPOCH_OFFSET)
  out.writeInt8(2, MAGIC_OFFSET)
  let attributes = codec
  if (options.logAppendTime) attributes |= BatchAttribute.LogAppendTime
  if (options.transactional) attributes |= BatchAttribute.Transactional
  if (options.control) attributes |= BatchAttribute.Control
  out.writeInt16BE(attributes, ATTRIBUTES_OFFSET)
  out.writeInt32BE(records.length - 1, LAST_OFFSET_DELTA_OFFSET)
  writeInt64(out, BASE_TIMESTAMP_OFFSET, baseTimestamp)
  writeInt64(out, MAX_TIMESTAMP_OFFSET, maxTimestamp)
  writeInt64(out, PRODUCER_ID_OFFSET, options.producerId ?? -1)
  out.writeInt16BE(options.producerEpoch ?? -1, PRODUCER_EPOCH_OFFSET)
  out.writeInt32BE(options.baseSequence ?? -1, BASE_SEQUENCE_OFFSET)
  out.writeInt32BE(records.length, RECORD_COUNT_OFFSET)
  body.copy(out, BATCH_HEADER_SIZE)
  out.writeUInt32BE(computeBatchCrc(out, 0, out.length), CRC_OFFSET)
  return out
}

function checkIntField(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new InvalidRecordError(`${name} ${value} is out of range`)
}

export interface DecodedBatch {
  header: BatchHeader
  records: DecodedRecord[]
}

/**
 * Validates and decodes the batch at `offset`, decompressing its records (capped at
 * `maxDecompressedBytes`). An unknown codec (5-7) throws UnsupportedCompressionError.
 */
export function decodeRecordBatch(buf: Buffer, offset = 0, maxDecompressedBytes = DEFAULT_MAX_DECOMPRESSED_BYTES): DecodedBatch {
  const size = validateBatch(buf, offset)
  const header = readBatchHeader(buf, offset)
  const codec = header.attributes & BatchAttribute.CompressionMask
  if (codec > Compression.zstd) {
    throw new UnsupportedCompressionError(`batch compressed with unknown codec ${codec}`)
  }
  const body = decompress(codec, buf.subarray(offset + BATCH_HEADER_SIZE, offset + size), maxDecompressedBytes)
  return { header, records: decodeRecords(body, header.recordCount) }
}

/** Splits a records blob (as in a Produce request or a segment) into whole batches; a partial tail is reported, not returned. */
export function splitBatches(buf: Buffer): { batches: { offset: number; size: number }[]; trailingBytes: number } {
  const batches: { offset: number; size: number }[] = []
  let o = 0
  while (o < buf.length) {
    const size = batchSizeAt(buf, o)
    if (size < BATCH_HEADER_SIZE || o + size > buf.length) break
    batches.push({ offset: o, size })
    o += size
  }
  return { batches, trailingBytes: buf.length - o }
}

/** The offset after the last whole batch of `buf` (-1 if it holds none). */
export function batchesEndOffset(buf: Buffer): number {
  const last = splitBatches(buf).batches.at(-1)
  if (!last) return -1
  const header = readBatchHeader(buf, last.offset)
  return header.baseOffset + header.lastOffsetDelta + 1
}

/** A record's absolute offset: the batch's base offset plus its offset delta. */
export function recordOffset(header: BatchHeader, record: DecodedRecord): number {
  return header.baseOffset + record.offsetDelta
}

/**
 * A record's timestamp as Kafka reports it: with LogAppendTime every record carries the
 * batch's maxTimestamp (the broker's append time), else base timestamp plus its delta.
 */
export function recordTimestamp(header: BatchHeader, record: DecodedRecord): number {
  if (header.attributes & BatchAttribute.LogAppendTime) return header.maxTimestamp
  return header.baseTimestamp + record.timestampDelta
}
