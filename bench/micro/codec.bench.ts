/**
 * RecordBatch v2 codec micro-benchmarks (tinybench 6), on the sizes the broker sees most:
 *   crc32c       16 KiB through @node-rs/crc32, vs a plain JS table (baseline, same run)
 *   encode/*     ~16 KiB batches of 140 records with 100-byte values, none / lz4 / gzip
 *   decode/*     the same batches: validate (CRC) + decompress + parse every record
 *   validate     CRC + header checks only (what the partition worker does per append)
 *   lz4/gzip     compress and decompress the 16 KiB records body (gzip is the baseline)
 * Each task reports ops/s (throughput.mean), MB/s over its input, latency p50/p99; the whole
 * bench repeats `--runs` times (default 3) and the report gives the median of each figure.
 * Ratios compare tasks measured in the same run. The machine is shared: treat absolute
 * numbers as noisy and ratios as the finding.
 *
 *   npx tsx bench/micro/codec.bench.ts [--runs 3] [--time 300] [--json-only]
 */
import { parseArgs } from 'node:util'
import { Bench } from 'tinybench'
import { Compression, compress, decompress } from '../../src/protocol/compression.js'
import { crc32c } from '../../src/protocol/crc32c.js'
import { decodeRecordBatch, encodeRecordBatch, validateBatch } from '../../src/protocol/record-batch.js'
import { encodeRecords, type RecordInput } from '../../src/protocol/records.js'

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    time: { type: 'string', default: '300' },
    'json-only': { type: 'boolean', default: false },
  },
})
const runs = Math.max(1, Number(args.runs))
const timeMs = Math.max(50, Number(args.time))

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
  { name: 'crc32c/native 16KiB', bytes: crcInput.length, fn: () => { sink ^= crc32c(crcInput) } },
  { name: 'crc32c/js-table 16KiB (baseline)', bytes: crcInput.length, fn: () => { sink ^= crc32cJs(crcInput) } },
  { name: 'encode/none', bytes: body.length, fn: () => { sink ^= encodeRecordBatch({ records, baseTimestamp: BASE_TS }).length } },
  { name: 'encode/lz4', bytes: body.length, fn: () => { sink ^= encodeRecordBatch({ records, compression: Compression.lz4, baseTimestamp: BASE_TS }).length } },
  { name: 'encode/gzip', bytes: body.length, fn: () => { sink ^= encodeRecordBatch({ records, compression: Compression.gzip, baseTimestamp: BASE_TS }).length } },
  { name: 'decode/none', bytes: body.length, fn: () => { sink ^= decodeRecordBatch(batches.none).records.length } },
  { name: 'decode/lz4', bytes: body.length, fn: () => { sink ^= decodeRecordBatch(batches.lz4).records.length } },
  { name: 'decode/gzip', bytes: body.length, fn: () => { sink ^= decodeRecordBatch(batches.gzip).records.length } },
  { name: 'validate/none (CRC+header)', bytes: batches.none.length, fn: () => { sink ^= validateBatch(batches.none) } },
  { name: 'lz4/compress 16KiB', bytes: body.length, fn: () => { sink ^= compress(Compression.lz4, body).length } },
  { name: 'lz4/decompress 16KiB', bytes: body.length, fn: () => { sink ^= decompress(Compression.lz4, lz4Body).length } },
  { name: 'gzip/compress 16KiB (baseline)', bytes: body.length, fn: () => { sink ^= compress(Compression.gzip, body).length } },
  { name: 'gzip/decompress 16KiB (baseline)', bytes: body.length, fn: () => { sink ^= decompress(Compression.gzip, gzipBody).length } },
]

interface Figures { opsPerSec: number; mbPerSec: number; p50Us: number; p99Us: number }

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

async function runOnce(): Promise<Map<string, Figures>> {
  const bench = new Bench({ time: timeMs, warmupTime: 50 })
  for (const t of tasks) bench.add(t.name, t.fn)
  await bench.run()
  const out = new Map<string, Figures>()
  for (const task of bench.tasks) {
    const r = task.result
    if (r.state !== 'completed') throw new Error(`task ${task.name} ended ${r.state}`)
    const def = tasks.find((t) => t.name === task.name)!
    out.set(task.name, {
      opsPerSec: r.throughput.mean,
      mbPerSec: (r.throughput.mean * def.bytes) / 1e6,
      p50Us: r.latency.p50 * 1000,
      p99Us: r.latency.p99 * 1000,
    })
  }
  return out
}

const perRun: Map<string, Figures>[] = []
for (let i = 0; i < runs; i++) {
  if (!args['json-only']) console.error(`run ${i + 1}/${runs} ...`)
  perRun.push(await runOnce())
}

const results: Record<string, Figures> = {}
for (const t of tasks) {
  const figs = perRun.map((m) => m.get(t.name)!)
  results[t.name] = {
    opsPerSec: median(figs.map((f) => f.opsPerSec)),
    mbPerSec: median(figs.map((f) => f.mbPerSec)),
    p50Us: median(figs.map((f) => f.p50Us)),
    p99Us: median(figs.map((f) => f.p99Us)),
  }
}

/** Per-run ratio of two tasks' throughput, then the median over runs. */
const ratio = (a: string, b: string) => median(perRun.map((m) => m.get(a)!.opsPerSec / m.get(b)!.opsPerSec))
const ratios = {
  'crc32c native / js-table': ratio('crc32c/native 16KiB', 'crc32c/js-table 16KiB (baseline)'),
  'lz4 compress / gzip compress': ratio('lz4/compress 16KiB', 'gzip/compress 16KiB (baseline)'),
  'lz4 decompress / gzip decompress': ratio('lz4/decompress 16KiB', 'gzip/decompress 16KiB (baseline)'),
  'decode lz4 / decode none': ratio('decode/lz4', 'decode/none'),
  'encode lz4 / encode none': ratio('encode/lz4', 'encode/none'),
}

const report = {
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
}

if (!args['json-only']) {
  console.log(`\nRecordBatch codec, median of ${runs} run(s), ${timeMs} ms per task; body ${body.length} B, batch none/lz4/gzip ${batches.none.length}/${batches.lz4.length}/${batches.gzip.length} B`)
  console.table(Object.fromEntries(Object.entries(results).map(([name, f]) => [name, {
    'ops/s': Math.round(f.opsPerSec), 'MB/s': Math.round(f.mbPerSec), 'p50 µs': f.p50Us.toFixed(1), 'p99 µs': f.p99Us.toFixed(1),
  }])))
  console.table(Object.fromEntries(Object.entries(ratios).map(([k, v]) => [k, { ratio: v.toFixed(2) }])))
}
console.log(JSON.stringify(report, null, 2))
if (sink === 0.5) console.log('') // keeps `sink` observable so no task is optimized away
