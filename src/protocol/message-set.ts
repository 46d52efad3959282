/**
 * Kafka's message formats before RecordBatch v2 (magic 0 and 1), for clients that speak only
 * them: Fetch v0-1 reads magic 0, Fetch v2-3 magic 1. Down-conversion decodes each v2 batch
 * (decompressing under the usual cap) and writes one uncompressed legacy message per record:
 *   offset int64, size int32, crc int32 (CRC-32 of the rest), magic int8, attributes int8,
 *   [timestamp int64, magic 1 only], key bytes (int32 length, -1 for null), value bytes.
 * Headers have no place in these formats and are dropped, as Kafka drops them; control
 * batches (transaction markers) are left out. Records below `fromOffset` are skipped: a v2
 * batch may start before the offset a client asked for. A large fetch is converted a window of
 * batches at a time (broker/down-conversion.ts): `downConvertedSize` first, for the length the
 * response declares, then the bytes.
 */
import { crc32 } from 'node:zlib'
import { BatchAttribute, decodeRecordBatch, recordOffset, recordTimestamp, splitBatches } from './record-batch.js'

export type LegacyMagic = 0 | 1

/** Bytes of one legacy message with its offset and size prefix. */
function messageSize(magic: LegacyMagic, key: Buffer | null, value: Buffer | null): number {
  return 8 + 4 + 4 + 1 + 1 + (magic === 1 ? 8 : 0) + 4 + (key?.length ?? 0) + 4 + (value?.length ?? 0)
}

/** Writes one legacy message at `at`; returns the position after it. */
export function writeLegacyMessage(out: Buffer, at: number, magic: LegacyMagic, offset: number, timestamp: number, logAppendTime: boolean, key: Buffer | null, value: Buffer | null): number {
  const size = messageSize(magic, key, value)
  out.writeBigInt64BE(BigInt(offset), at)
  out.writeInt32BE(size - 12, at + 8)
  const crcAt = at + 12
  let p = crcAt + 4
  out.writeInt8(magic, p++)
  // Attributes: no compression; bit 3 (magic 1) marks a log-append timestamp.
  out.writeInt8(magic === 1 && logAppendTime ? 0x08 : 0, p++)
  if (magic === 1) { out.writeBigInt64BE(BigInt(timestamp), p); p += 8 }
  for (const field of [key, value]) {
    if (field === null) { out.writeInt32BE(-1, p); p += 4; continue }
    out.writeInt32BE(field.length, p)
    field.copy(out, p + 4)
    p += 4 + field.length
  }
  out.writeUInt32BE(crc32(out.subarray(crcAt + 4, p)), crcAt)
  return p
}

interface LegacyMessage { offset: number; timestamp: number; logAppendTime: boolean; key: Buffer | null; value: Buffer | null }

/** The messages whole RecordBatch v2 batches turn into: control batches and records below `fromOffset` left out. */
function legacyMessages(batches: Buffer, fromOffset: number): LegacyMessage[] {
  const messages: LegacyMessage[] = []
  for (const span of splitBatches(batches).batches) {
    const { header, records } = decodeRecordBatch(batches, span.offset)
    if (header.attributes & BatchAttribute.Control) continue
    const logAppendTime = (header.attributes & BatchAttribute.LogAppendTime) !== 0
    for (const r of records) {
      const offset = recordOffset(header, r)
      if (offset < fromOffset) continue
      const timestamp = logAppendTime ? header.maxTimestamp : recordTimestamp(header, r)
      messages.push({ offset, timestamp, logAppendTime, key: r.key, value: r.value })
    }
  }
  return messages
}

/** Bytes `downConvertBatches` would return for the same input, without building them. */
export function downConvertedSize(batches: Buffer, magic: LegacyMagic, fromOffset: number): number {
  let total = 0
  for (const m of legacyMessages(batches, fromOffset)) total += messageSize(magic, m.key, m.value)
  return total
}

/** Converts whole RecordBatch v2 batches into a legacy message set of `magic`. */
export function downConvertBatches(batches: Buffer, magic: LegacyMagic, fromOffset: number): Buffer {
  const messages = legacyMessages(batches, fromOffset)
  let total = 0
  for (const m of messages) total += messageSize(magic, m.key, m.value)
  const out = Buffer.allocUnsafe(total)
  let at = 0
  for (const m of messages) at = writeLegacyMessage(out, at, magic, m.offset, m.timestamp, m.logAppendTime, m.key, m.value)
  return out
}
