/**
 * Record batches for the load generator, encoded once and sent many times, so the generator
 * spends its CPU on sockets and not on encoding. Each template holds different keys and
 * values (seeded, text-like: field names repeat, ids and payload vary, so lz4 finds about
 * what it finds in real JSON-ish records); a run cycles through them, so the broker never
 * sees one identical batch over and over.
 *
 * Record layout: an 8-byte key, a `recordSize`-byte value, no headers; `recordSize` is the
 * payload that MB/s counts (as kafka-producer-perf-test's --record-size).
 */
import { Buffer } from 'node:buffer'
import type { Compression as CompressionName } from '../scenario.js'
import { Compression } from '../../protocol/compression.js'
import { crc32c } from '../../protocol/crc32c.js'
import { decodeRecordBatch, encodeRecordBatch } from '../../protocol/record-batch.js'
import type { RecordInput } from '../../protocol/records.js'
import { seededRandom } from '../stats.js'

export const LOADGEN_KEY_SIZE = 8
/** Bytes a record adds around its value (length, attributes, deltas, key and value lengths, key, header count), at most. */
const RECORD_OVERHEAD = 20
const BATCH_HEADER_BYTES = 61

export function compressionCode(name: CompressionName): number {
  return Compression[name]
}

/** How many records of `recordSize` fit an uncompressed batch of about `batchBytes` (at least 1). */
export function recordsPerBatch(recordSize: number, batchBytes: number): number {
  return Math.max(1, Math.floor((batchBytes - BATCH_HEADER_BYTES) / (recordSize + RECORD_OVERHEAD + LOADGEN_KEY_SIZE)))
}

/** Order-independent checksum of record values: the sum of their CRC-32Cs, mod 2^32. */
export function addValueChecksum(sum: number, value: Uint8Array | null): number {
  return value === null ? sum : (sum + crc32c(value)) >>> 0
}


export interface BatchTemplate {
  /** A whole RecordBatch v2 with its CRC, baseOffset 0, producer id -1 (no idempotence). */
  batch: Buffer
  records: number
  /** Value bytes (the payload MB/s counts). */
  payloadBytes: number
  /** addValueChecksum over its values. */
  valueChecksum: number
}

export interface BatchTemplateOptions {
  recordSize: number
  batchBytes: number
  compression: CompressionName
  /** Distinct templates, default 16. */
  templates?: number
  seed?: number
}

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima']

/** Fills `out` with a JSON-like record: repeating field names, varying numbers and words. */
function fillValue(out: Buffer, random: () => number, serial: number): void {
  let text = `{"id":${serial},"user":"u${Math.floor(random() * 1e6)}","tag":"${WORDS[Math.floor(random() * WORDS.length)]}","v":"`
  while (text.length < out.length) text += Math.floor(random() * 0x100000000).toString(36)
  out.write(text.slice(0, out.length), 0, 'latin1')
}

function fillKey(out: Buffer, random: () => number): void {
  for (let i = 0; i < out.length; i++) out[i] = 0x30 + Math.floor(random() * 10)
}

export interface RecordSet {
  records: { key: Buffer; value: Buffer }[]
  /** addValueChecksum over its values. */
  valueChecksum: number
}

/** `count` sets of batch-sized record lists with distinct keys and values (the templates' content, for embedded producers). */
export function buildRecordSets(options: Omit<BatchTemplateOptions, 'compression'>): RecordSet[] {
  const count = options.templates ?? 16
  const random = seededRandom(options.seed ?? 42)
  const perBatch = recordsPerBatch(options.recordSize, options.batchBytes)
  const sets: RecordSet[] = []
  let serial = 0
  for (let t = 0; t < count; t++) {
    const records: { key: Buffer; value: Buffer }[] = []
    let valueChecksum = 0
    for (let i = 0; i < perBatch; i++) {
      const key = Buffer.allocUnsafe(LOADGEN_KEY_SIZE)
      const value = Buffer.allocUnsafe(options.recordSize)
      fillKey(key, random)
      fillValue(value, random, serial++)
      valueChecksum = addValueChecksum(valueChecksum, value)
      records.push({ key, value })
    }
    sets.push({ records, valueChecksum })
  }
  return sets
}

export function buildBatchTemplates(options: BatchTemplateOptions): BatchTemplate[] {
  const codec = compressionCode(options.compression)
  return buildRecordSets(options).map((set) => ({
    batch: encodeRecordBatch({ records: set.records, compression: codec, baseTimestamp: Date.now() }),
    records: set.records.length,
    payloadBytes: set.records.length * options.recordSize,
    valueChecksum: set.valueChecksum,
  }))
}

/**
 * Batches for fixed-rate runs: every record's value starts with its due time
 * (process.hrtime.bigint() ns, int64 big-endian) so a consumer in the same process can
 * compute end-to-end latency per record; the rest of the value is filler.
 */
export class StampedBatchEncoder {
  private readonly filler: Buffer
  private readonly key = Buffer.alloc(LOADGEN_KEY_SIZE, 0x6b)
  private readonly codec: number

  constructor(readonly recordSize: number, compression: CompressionName) {
    if (recordSize < 8) throw new RangeError(`stamped records need at least 8 bytes, got ${recordSize}`)
    this.codec = compressionCode(compression)
    this.filler = Buffer.alloc(recordSize)
    fillValue(this.filler, seededRandom(7), 0)
  }

  /** One batch of `stamps.length` records. */
  encode(stamps: readonly bigint[]): Buffer {
    const count = stamps.length
    const values = Buffer.allocUnsafe(count * this.recordSize)
    const records: RecordInput[] = new Array(count)
    const now = Date.now()
    for (let i = 0; i < count; i++) {
      const value = values.subarray(i * this.recordSize, (i + 1) * this.recordSize)
      this.filler.copy(value)
      value.writeBigInt64BE(stamps[i], 0)
      records[i] = { key: this.key, value, timestamp: now }
    }
    return encodeRecordBatch({ records, compression: this.codec, baseTimestamp: now })
  }
}

/** Calls `onStamp` with each record's stamp (see StampedBatchEncoder) of the batch at `offset`; decompresses as needed. */
export function forEachStamp(buf: Buffer, offset: number, onStamp: (stampNs: bigint) => void): void {
  const { records } = decodeRecordBatch(buf, offset)
  for (const record of records) {
    if (record.value !== null && record.value.length >= 8) onStamp(record.value.readBigInt64BE(0))
  }
}
