/**
 * RecordBatch v2 codec micro-benchmarks (tinybench 6), on the sizes the broker sees most:
 *   crc32c       16 KiB and 128 B through the crc32c in use (the addon's SSE4.2 loop where it
 *                loaded), through @node-rs/crc32 (its fallback), and a plain JS table (baseline)
 *   encode/*     ~16 KiB batches of 140 records with 100-byte values, none / lz4 / gzip
 *   decode/*     the same batches: validate (CRC) + decompress + parse every record
 *   validate     CRC + header checks only, and with every record checked (validateBatchRecords:
 *                what the partition worker does per produced batch since issue 18, H4)
 *   lz4/gzip     compress and decompress the 16 KiB records body (gzip is the baseline)
 * Each task reports ops/s (throughput.mean), MB/s over its input, latency p50/p99; the whole
 * bench repeats `--runs` times (default 3) and the report gives the median of each figure.
 * Ratios compare tasks measured in the same run. The machine is shared: treat absolute
 * numbers as noisy and ratios as the finding.
 *
 *   npx tsx bench/micro/codec.bench.ts [--runs 3] [--time 300] [--json-only]
 */
import { Compression, compress, decompress } from '../../src/protocol/compression.js'
import { crc32c, portableCrc32cOf } from '../../src/protocol/crc32c.js'
import { decodeRecordBatch, encodeRecordBatch, validateBatch, validateBatchRecords } from '../../src/protocol/record-batch.js'
import { encodeRecords, type RecordInput } from '../../src/protocol/records.js'
import { parseMicroArgs, printReport, ratio, runSuites } from './tinybench-runs.js'

const { runs, timeMs, jsonOnly } = parseMicroArgs()

const KiB = 1024
const RECORD_COUNT = 140 // ~16 KiB of records body, the embedded producer's batch.size
const VALUE_BYTES = 100
const BASE_TS = 1_700_000_000_000

/** Log-like 100-byte values: a repeated shape with varying numbers, so compression is realistic. */
function makeRecords(): RecordInput[] {
  let seed = 12345
  const rand = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed }
  return Array.from({ length: RECORD_COUNT }, (_, i) => {
    const text = `{"user":${rand() % 100000},"event":"page_view","path":"/item/${rand() % 9999}","ms":${rand() % 5000},"ok":true}`
    return { key: `user-${i % 37}`, value: Buffer.from(text.padEnd(VALUE_BYTES, ' ').slice(0, VALUE_BYTES)), timestamp: BASE_TS + i }
  })
}

/** Table-driven CRC-32C in plain JS: the baseline the native one is measured against. */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1
    t[n] = c >>> 0
  }
  return t
})()
function crc32cJs(data: Uint8Array): number {
  let c = 0xffffffff
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

const records = makeRecords()
const body = encodeRecords(records, BASE_TS)
const crcInput = Buffer.alloc(16 * KiB)
for (let i = 0; i < crcInput.length; i++) crcInput[i] = (i * 2654435761) >>> 24
const crcSmall = crcInput.subarray(0, 128)
if (crc32cJs(Buffer.from('123456789')) !== 0xe3069283 || crc32cJs(crcInput) !== crc32c(crcInput)) throw new Error('JS CRC baseline is wrong')

const batches = {
  none: encodeRecordBatch({ records, baseTimestamp: BASE_TS }),
  lz4: encodeRecordBatch({ records, compression: Compression.lz4, baseTimestamp: BASE_TS }),
  gzip: encodeRecordBatch({ records, compression: Compression.gzip, baseTimestamp: BASE_TS }),
}
const lz4Body = compress(Compression.lz4, body)
const gzipBody = compress(Compression.gzip, body)

interface TaskDef { name: string; bytes: number; fn: () => unknown }
let sink = 0
const tasks: TaskDef[] = [
  { name: 'crc32c/in use 16KiB', bytes: crcInput.length, fn: () => { sink ^= crc32c(crcInput) } },
  { name: 'crc32c/@node-rs 16KiB', bytes: crcInput.length, fn: () => { sink ^= portableCrc32cOf(crcInput) } },
  { name: 'crc32c/in use 128B', bytes: crcSmall.length, fn: () => { sink ^= crc32c(crcSmall) } },
  { name: 'crc32c/@node-rs 128B', bytes: crcSmall.length, fn: () => { sink ^= portableCrc32cOf(crcSmall) } },
  { name: 'crc32c/js-table 16KiB (baseline)', bytes: crcInput.length, fn: () => { sink ^= crc32cJs(crcInput) } },
  { name: 'encode/none', bytes: body.length, fn: () => { sink ^= encodeRecordBatch({ records, baseTimestamp: BASE_TS }).length } },
  { name: 'encode/lz4', bytes: body.length, fn: () => { sink ^= encodeRecordBatch({ records, compression: Compression.lz4, baseTimestamp: BASE_TS }).length } },
  { name: 'encode/gzip', bytes: body.length, fn: () => { sink ^= encodeRecordBatch({ records, compression: Compression.gzip, baseTimestamp: BASE_TS }).length } },
  { name: 'decode/none', bytes: body.length, fn: () => { sink ^= decodeRecordBatch(batches.none).records.length } },
  { name: 'decode/lz4', bytes: body.length, fn: () => { sink ^= decodeRecordBatch(batches.lz4).records.length } },
  { name: 'decode/gzip', bytes: body.length, fn: () => { sink ^= decodeRecordBatch(batches.gzip).records.length } },
  { name: 'validate/none (CRC+header)', bytes: batches.none.length, fn: () => { sink ^= validateBatch(batches.none) } },
  { name: 'validate/none +records', bytes: batches.none.length, fn: () => { sink ^= validateBatch(batches.none); validateBatchRecords(batches.none, 0, batches.none.length) } },
  { name: 'validate/lz4 (CRC+header)', bytes: batches.lz4.length, fn: () => { sink ^= validateBatch(batches.lz4) } },
  { name: 'validate/lz4 +records', bytes: batches.lz4.length, fn: () => { sink ^= validateBatch(batches.lz4); validateBatchRecords(batches.lz4, 0, batches.lz4.length) } },
  { name: 'validate/gzip +records', bytes: batches.gzip.length, fn: () => { sink ^= validateBatch(batches.gzip); validateBatchRecords(batches.gzip, 0, batches.gzip.length) } },
  { name: 'lz4/compress 16KiB', bytes: body.length, fn: () => { sink ^= compress(Compression.lz4, body).length } },
  { name: 'lz4/decompress 16KiB', bytes: body.length, fn: () => { sink ^= decompress(Compression.lz4, lz4Body).length } },
  { name: 'gzip/compress 16KiB (baseline)', bytes: body.length, fn: () => { sink ^= compress(Compression.gzip, body).length } },
  { name: 'gzip/decompress 16KiB (baseline)', bytes: body.length, fn: () => { sink ^= decompress(Compression.gzip, gzipBody).length } },
]

const suite = await runSuites({ runs, timeMs, jsonOnly, register: (bench) => { for (const t of tasks) bench.add(t.name, t.fn) } })

// MB/s is ops/s times a fixed input size, so its median is the median ops/s scaled the same way.
const results = Object.fromEntries(tasks.map((t) => {
  const f = suite.medians[t.name]
  return [t.name, { opsPerSec: f.opsPerSec, mbPerSec: (f.opsPerSec * t.bytes) / 1e6, p50Us: f.p50Us, p99Us: f.p99Us }]
}))

const ratios = {
  'crc32c in use / js-table': ratio(suite, 'crc32c/in use 16KiB', 'crc32c/js-table 16KiB (baseline)'),
  'crc32c in use / @node-rs, 16 KiB': ratio(suite, 'crc32c/in use 16KiB', 'crc32c/@node-rs 16KiB'),
  'crc32c in use / @node-rs, 128 B': ratio(suite, 'crc32c/in use 128B', 'crc32c/@node-rs 128B'),
  'lz4 compress / gzip compress': ratio(suite, 'lz4/compress 16KiB', 'gzip/compress 16KiB (baseline)'),
  'lz4 decompress / gzip decompress': ratio(suite, 'lz4/decompress 16KiB', 'gzip/decompress 16KiB (baseline)'),
  'decode lz4 / decode none': ratio(suite, 'decode/lz4', 'decode/none'),
  'encode lz4 / encode none': ratio(suite, 'encode/lz4', 'encode/none'),
  'validate none +records / CRC+header': ratio(suite, 'validate/none +records', 'validate/none (CRC+header)'),
  'validate lz4 +records / CRC+header': ratio(suite, 'validate/lz4 +records', 'validate/lz4 (CRC+header)'),
}

printReport({
  jsonOnly,
  title: `RecordBatch codec, median of ${runs} run(s), ${timeMs} ms per task; body ${body.length} B, batch none/lz4/gzip ${batches.none.length}/${batches.lz4.length}/${batches.gzip.length} B`,
  header: ['task', 'ops/s', 'MB/s', 'p50 µs', 'p99 µs'],
  rows: Object.entries(results).map(([name, f]) => [name, String(Math.round(f.opsPerSec)), String(Math.round(f.mbPerSec)), f.p50Us.toFixed(1), f.p99Us.toFixed(1)]),
  ratios,
  report: {
    bench: 'codec',
    node: process.version,
    runs,
    timeMsPerTask: timeMs,
    input: {
      records: RECORD_COUNT, valueBytes: VALUE_BYTES, recordsBodyBytes: body.length,
      batchBytes: { none: batches.none.length, lz4: batches.lz4.length, gzip: batches.gzip.length },
    },
    note: 'medians over runs; 2-core shared machine, absolute figures are noisy, ratios are from the same run',
    results,
    ratios,
  },
})
if (sink === 0.5) console.log('') // keeps `sink` observable so no task is optimized away
