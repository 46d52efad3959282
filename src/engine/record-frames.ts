/**
 * Compact binary form of single records on their way from the caller's thread to the owning
 * worker (the embedded producer path): no msgpackr, no per-record postMessage, no objects on
 * the worker side. Little-endian. A frame body is `u32 largestRecordBytes` (so the worker can
 * refuse an oversize record without a pre-pass) followed by, per record:
 *
 *   f64 timestamp | i32 keyLength (-1 null) | i32 valueLength (-1 null) | i32 headerCount
 *   key bytes | value bytes | per header: i32 keyLength, key, i32 valueLength (-1 null), value
 *
 * The worker's batcher (batcher.ts addFrame) rewrites these into RecordBatch v2 records in place.
 */
import { normalizeHeaders, type RecordInput } from '../protocol/records.js'

export const RECORD_FIXED_BYTES = 20
export const RECORDS_PREFIX_BYTES = 4

function byteLengthOf(v: Buffer | string | null | undefined): number {
  if (v === null || v === undefined) return -1
  return typeof v === 'string' ? Buffer.byteLength(v) : v.length
}

/** Encoded size of one record in this form. */
export function encodedRecordSize(record: RecordInput): number {
  let size = RECORD_FIXED_BYTES + Math.max(0, byteLengthOf(record.key)) + Math.max(0, byteLengthOf(record.value))
  if (record.headers) {
    for (const h of normalizeHeaders(record.headers)) size += 8 + Buffer.byteLength(h.key) + Math.max(0, byteLengthOf(h.value))
  }
  return size
}

function writeBody(out: Buffer, o: number, v: Buffer | string, length: number): number {
  if (typeof v === 'string') out.write(v, o, length, 'utf8')
  else out.set(v, o)
  return o + length
}

/**
 * Writes the prefix and records [from, to) into `out` at `offset`; returns the offset after
 * them. `largest` is the biggest encodedRecordSize among them. Fixed fields go through one
 * DataView (Buffer#writeInt32LE validates its arguments on every call).
 */
export function encodeRecordsInto(out: Buffer, offset: number, records: readonly RecordInput[], from: number, to: number, defaultTimestamp: number, largest: number): number {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength)
  view.setUint32(offset, largest, true)
  let o = offset + RECORDS_PREFIX_BYTES
  for (let i = from; i < to; i++) {
    const r = records[i]
    const key = r.key
    const value = r.value
    const keyLength = byteLengthOf(key)
    const valueLength = byteLengthOf(value)
    view.setFloat64(o, r.timestamp ?? defaultTimestamp, true)
    view.setInt32(o + 8, keyLength, true)
    view.setInt32(o + 12, valueLength, true)
    const headers = r.headers ? normalizeHeaders(r.headers) : null
    view.setInt32(o + 16, headers ? headers.length : 0, true)
    o += RECORD_FIXED_BYTES
    if (keyLength > 0) o = writeBody(out, o, key as Buffer | string, keyLength)
    if (valueLength > 0) o = writeBody(out, o, value as Buffer | string, valueLength)
    if (headers) {
      for (const h of headers) {
        const hk = Buffer.byteLength(h.key)
        view.setInt32(o, hk, true)
        o = writeBody(out, o + 4, h.key, hk)
        const hv = byteLengthOf(h.value)
        view.setInt32(o, hv, true)
        o = hv > 0 ? writeBody(out, o + 4, h.value as Buffer, hv) : o + 4
      }
    }
  }
  return o
}

/** The `largestRecordBytes` prefix of a frame body at `offset`. */
export function largestRecordBytes(buf: Buffer, offset: number): number {
  return buf.readUInt32LE(offset)
}
