/**
 * Records inside a RecordBatch v2 (the part after the 61-byte batch header, possibly compressed).
 * Each record: length, attributes, timestampDelta, offsetDelta, key, value, headers.
 */
import { Buffer } from 'node:buffer'
import { InvalidRecordError } from '../errors.js'
import { endRecord, endRecords, readBytes, readHeaderCount, readHeaderKey, readInt8, readZigzag, startRecord, startRecords } from './record-reader.js'
import { writeZigzag, zigzagSize } from './varint.js'

export interface RecordHeader { key: string; value: Buffer | null }

/** A record as a producer gives it. */
export interface RecordInput {
  key?: Buffer | string | null
  value: Buffer | string | null
  headers?: RecordHeader[] | Record<string, Buffer | string | null>
  timestamp?: number
}

/** A decoded record (key, value and header values are views into the decoded buffer). */
export interface DecodedRecord {
  offsetDelta: number
  timestampDelta: number
  attributes: number
  key: Buffer | null
  value: Buffer | null
  headers: RecordHeader[]
}

function toBuffer(v: Buffer | string | null | undefined): Buffer | null {
  if (v === null || v === undefined) return null
  return typeof v === 'string' ? Buffer.from(v) : v
}

/** Strings stay strings until written straight into the output: no intermediate Buffer per field. */
type Field = Buffer | string | null

function fieldOf(v: Buffer | string | null | undefined): Field {
  return v === undefined ? null : v
}

function fieldSize(f: Field): number {
  if (f === null) return 1
  const n = typeof f === 'string' ? Buffer.byteLength(f) : f.length
  return zigzagSize(n) + n
}

export function normalizeHeaders(headers: RecordInput['headers']): RecordHeader[] {
  if (!headers) return []
  if (Array.isArray(headers)) return headers
  return Object.entries(headers).map(([key, value]) => ({ key, value: toBuffer(value) }))
}

interface PreparedRecord {
  key: Field
  value: Field
  headers: readonly { key: string; value: Buffer | null }[]
  timestampDelta: number
  offsetDelta: number
  bodySize: number
}

function prepare(record: RecordInput, offsetDelta: number, baseTimestamp: number): PreparedRecord {
  const key = fieldOf(record.key)
  const value = fieldOf(record.value)
  const headers = normalizeHeaders(record.headers)
  const timestampDelta = (record.timestamp ?? baseTimestamp) - baseTimestamp
  // A fractional or huge delta would produce a malformed varint (zigzag doubles it), not an error.
  if (!Number.isSafeInteger(timestampDelta) || !Number.isSafeInteger(timestampDelta * 2)) throw new InvalidRecordError(`record timestamp ${record.timestamp} is not an integer near the base timestamp`)
  let bodySize = 1 + zigzagSize(timestampDelta) + zigzagSize(offsetDelta) + fieldSize(key) + fieldSize(value)
  bodySize += zigzagSize(headers.length)
  for (const h of headers) bodySize += fieldSize(h.key) + fieldSize(h.value)
  return { key, value, headers, timestampDelta, offsetDelta, bodySize }
}

/** Encodes records (offset deltas 0..n-1) into one buffer, uncompressed. */
export function encodeRecords(records: readonly RecordInput[], baseTimestamp: number): Buffer {
  const prepared = records.map((r, i) => prepare(r, i, baseTimestamp))
  let total = 0
  for (const p of prepared) total += zigzagSize(p.bodySize) + p.bodySize
  const out = Buffer.allocUnsafe(total)
  let o = 0
  for (const p of prepared) {
    o = writeZigzag(out, o, p.bodySize)
    out[o++] = 0 // record attributes: unused
    o = writeZigzag(out, o, p.timestampDelta)
    o = writeZigzag(out, o, p.offsetDelta)
    o = writeField(out, o, p.key)
    o = writeField(out, o, p.value)
    o = writeZigzag(out, o, p.headers.length)
    for (const h of p.headers) {
      o = writeField(out, o, h.key)
      o = writeField(out, o, h.value)
    }
  }
  return out
}

function writeField(out: Buffer, o: number, f: Field): number {
  if (f === null) return writeZigzag(out, o, -1)
  if (typeof f === 'string') {
    const n = Buffer.byteLength(f)
    o = writeZigzag(out, o, n)
    return o + out.write(f, o, n, 'utf8')
  }
  o = writeZigzag(out, o, f.length)
  f.copy(out, o)
  return o + f.length
}

/** Decodes exactly `count` records from `buf` (the rules and checks of record-reader.ts). */
export function decodeRecords(buf: Buffer, count: number): DecodedRecord[] {
  startRecords(buf, count)
  const records: DecodedRecord[] = []
  for (let i = 0; i < count; i++) {
    const end = startRecord(buf)
    const attributes = readInt8(buf, end)
    const timestampDelta = readZigzag(buf, end)
    const offsetDelta = readZigzag(buf, end)
    const key = readBytes(buf, end)
    const value = readBytes(buf, end)
    const headerCount = readHeaderCount(buf, end)
    const headers: RecordHeader[] = []
    for (let h = 0; h < headerCount; h++) headers.push({ key: readHeaderKey(buf, end), value: readBytes(buf, end) })
    endRecord(end)
    records.push({ offsetDelta, timestampDelta, attributes, key, value, headers })
  }
  endRecords(buf)
  return records
}
