/**
 * The records of one stored batch as the log cleaner needs them: where each record's bytes
 * are inside the (decompressed) records section, its key, whether its value is null (a
 * tombstone), its offset and timestamp; and a batch rebuilt from a subset of them. Retained
 * records are copied byte for byte, so their offset and timestamp deltas stay valid against the
 * batch's unchanged base offset and base timestamp: every record keeps its original offset.
 */
import { Buffer } from 'node:buffer'
import { compress, decompress } from '../protocol/compression.js'
import {
  BATCH_HEADER_SIZE, BatchAttribute, computeBatchCrc, readInt64, writeInt64, ATTRIBUTES_OFFSET, BASE_TIMESTAMP_OFFSET, BATCH_LENGTH_OFFSET,
  CRC_OFFSET, LAST_OFFSET_DELTA_OFFSET, LOG_OVERHEAD, MAX_TIMESTAMP_OFFSET, RECORD_COUNT_OFFSET,
} from '../protocol/record-batch.js'
import { CorruptRecordError } from '../errors.js'

export interface StoredRecord {
  /** Byte range of the whole record (length prefix included) in the records section. */
  start: number
  end: number
  offset: number
  timestamp: number
  offsetDelta: number
  key: Buffer | null
  tombstone: boolean
}

export interface BatchRecords {
  /** The decompressed records section. */
  body: Buffer
  records: StoredRecord[]
}

/** Reads a zigzag varint (up to 64 bits as a JS number) at cursor.at, bounded by `end`. */
function readVarlong(buf: Buffer, cursor: { at: number }, end: number): number {
  let result = 0
  let multiplier = 1
  for (let i = 0; i < 10; i++) {
    if (cursor.at >= end) throw new CorruptRecordError('record varint runs past its record')
    const byte = buf[cursor.at++]
    result += (byte & 0x7f) * multiplier
    if (byte < 0x80) return result % 2 === 0 ? result / 2 : -(result + 1) / 2
    multiplier *= 128
  }
  throw new CorruptRecordError('record varint longer than 10 bytes')
}

/** The records of the (CRC-checked) batch at `at` of `bytes`. */
export function readBatchRecords(bytes: Buffer, at: number, size: number): BatchRecords {
  const attributes = bytes.readInt16BE(at + ATTRIBUTES_OFFSET)
  const codec = attributes & BatchAttribute.CompressionMask
  const section = bytes.subarray(at + BATCH_HEADER_SIZE, at + size)
  const body = codec === 0 ? section : decompress(codec, section)
  const baseOffset = readInt64(bytes, at)
  const baseTimestamp = readInt64(bytes, at + BASE_TIMESTAMP_OFFSET)
  const logAppendTime = (attributes & BatchAttribute.LogAppendTime) !== 0
  const maxTimestamp = readInt64(bytes, at + MAX_TIMESTAMP_OFFSET)
  const count = bytes.readInt32BE(at + RECORD_COUNT_OFFSET)
  return { body, records: parseRecords(body, 0, body.length, count, baseOffset, logAppendTime ? maxTimestamp : undefined, baseTimestamp) }
}

/**
 * `count` records in Kafka's encoding at body[from, to). `appendTime`: the batch's LogAppendTime,
 * which every record reports; else base timestamp plus the record's delta.
 */
function parseRecords(body: Buffer, from: number, to: number, count: number, baseOffset: number, appendTime: number | undefined, baseTimestamp: number): StoredRecord[] {
  const records: StoredRecord[] = []
  const cursor = { at: from }
  for (let i = 0; i < count; i++) {
    const start = cursor.at
    const length = readVarlong(body, cursor, to)
    const end = cursor.at + length
    if (length < 0 || end > to) throw new CorruptRecordError('record runs past its batch')
    cursor.at++ // attributes
    const timestampDelta = readVarlong(body, cursor, end)
    const offsetDelta = readVarlong(body, cursor, end)
    const keyLength = readVarlong(body, cursor, end)
    let key: Buffer | null = null
    if (keyLength >= 0) {
      if (cursor.at + keyLength > end) throw new CorruptRecordError('record key runs past its record')
      key = body.subarray(cursor.at, cursor.at + keyLength)
      cursor.at += keyLength
    }
    const valueLength = readVarlong(body, cursor, end)
    records.push({
      start, end, offsetDelta, key, tombstone: valueLength < 0,
      offset: baseOffset + offsetDelta,
      timestamp: appendTime ?? baseTimestamp + timestampDelta,
    })
    cursor.at = end
  }
  return records
}

/** Whether any record of the batch at `at` has a null key (a compacted topic refuses it). */
export function hasKeylessRecord(bytes: Buffer, at: number, size: number): boolean {
  return readBatchRecords(bytes, at, size).records.some((r) => r.key === null)
}

/** The same for `count` bare records (the embedded producer's chunks) at bytes[from, to). */
export function hasKeylessRecordIn(bytes: Buffer, from: number, to: number, count: number): boolean {
  return parseRecords(bytes, from, to, count, 0, undefined, 0).some((r) => r.key === null)
}

/**
 * The batch at `at` holding only `kept` (a non-empty, ordered subset of its records): same base
 * offset, base timestamp, producer fields and codec; count, last offset delta, max timestamp,
 * length and CRC follow the kept records.
 */
export function rebuildBatch(bytes: Buffer, at: number, parsed: BatchRecords, kept: readonly StoredRecord[]): Buffer {
  const attributes = bytes.readInt16BE(at + ATTRIBUTES_OFFSET)
  const codec = attributes & BatchAttribute.CompressionMask
  const raw = Buffer.concat(kept.map((r) => parsed.body.subarray(r.start, r.end)))
  const section = codec === 0 ? raw : compress(codec, raw)
  const out = Buffer.allocUnsafe(BATCH_HEADER_SIZE + section.length)
  bytes.copy(out, 0, at, at + BATCH_HEADER_SIZE)
  section.copy(out, BATCH_HEADER_SIZE)
  out.writeInt32BE(out.length - LOG_OVERHEAD, BATCH_LENGTH_OFFSET)
  out.writeInt32BE(kept[kept.length - 1].offsetDelta, LAST_OFFSET_DELTA_OFFSET)
  out.writeInt32BE(kept.length, RECORD_COUNT_OFFSET)
  if (!(attributes & BatchAttribute.LogAppendTime)) {
    let max = -1
    for (const r of kept) if (r.timestamp > max) max = r.timestamp
    writeInt64(out, MAX_TIMESTAMP_OFFSET, max)
  }
  out.writeUInt32BE(computeBatchCrc(out, 0, out.length), CRC_OFFSET)
  return out
}
