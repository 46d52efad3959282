/**
 * Partition engine append throughput and append-to-ack latency (embedded path: appendRecords,
 * records packed into ~16 KiB batches by the owning worker), against, in the same run:
 * - the same PartitionLog driven from one thread without workers (same batcher, same log),
 * - the naive baseline (src/bench/scenarios/file-append.ts): a plain loop copying 100-byte
 *   records into 16 KiB buffers and writeSync-ing them, with an fdatasync every 1 MiB for the
 *   durable rows.
 *
 * Run: npx tsx bench/engine-append.bench.ts [--runs 5] [--records 1000000] [--json out.json]
 * 100-byte records (no key). A producer keeps `--window` calls of `--call` records in flight;
 * latency is per call, from appendRecords() to its ack (acks -1 under 'always': after the
 * group commit covering it; acks 1 under 'never'). Medians of the runs are reported.
 *
 * Under 'always' throughput is (bytes in flight) / (fdatasync time), and latency is at least
 * one to two fdatasyncs plus the queue ahead of a call (Little's law): `--window` trades one
 * for the other. Profile with `node --cpu-prof --import tsx bench/engine-append.bench.ts`.
 */
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHistogram, performance } from 'node:perf_hooks'
import { latencyPercentilesMs } from '../src/bench/histogram.js'
import { formatTable } from '../src/bench/report.js'
import { runFileAppend } from '../src/bench/scenarios/file-append.js'
import { median } from '../src/bench/stats.js'
import { RecordBatcher } from '../src/engine/worker/batcher.js'
import { encodeRecordFrameBuffer, RECORDS_PREFIX_BYTES } from '../src/engine/channel/record-frames.js'
import { BATCH_HEADER_SIZE } from '../src/protocol/record-batch.js'
import { createLogEngine } from '../src/engine/main/router.js'
import { Compression } from '../src/protocol/compression.js'
import type { RecordInput } from '../src/protocol/records.js'
import { PartitionLog } from '../src/storage/partition-log.js'
import { settlePageCache } from '../src/bench/settle.js'
import { freshDir, parseBenchArgs, RECORD_BYTES, valueCalls } from './bench-common.js'

const { common } = parseBenchArgs({ runs: 5, records: 1_000_000, perCall: 1000, window: 16 })
const { runs: RUNS, records: TOTAL, perCall: PER_CALL, window: WINDOW } = common

type Flush = 'always' | 'never'

interface RunResult { recordsPerSec: number; p50Ms: number; p99Ms: number }

interface Row {
  name: string
  flush: Flush
  compression: string
  partitions: number
  runs: RunResult[]
}

const CALL_RECORDS: RecordInput[][] = valueCalls(PER_CALL)

/** Drives `append` with WINDOW calls in flight until TOTAL records are acknowledged. */
async function drive(partitions: number, append: (partition: number, records: RecordInput[]) => Promise<void>): Promise<RunResult> {
  const histogram = createHistogram()
  let issued = 0
  let call = 0
  const started = performance.now()
  const lane = async (): Promise<void> => {
    while (issued < TOTAL) {
      issued += PER_CALL
      const n = call++
      const t0 = performance.now()
      await append(n % partitions, CALL_RECORDS[n % CALL_RECORDS.length])
      histogram.record(Math.max(1, Math.round((performance.now() - t0) * 1e6)))
    }
  }
  await Promise.all(Array.from({ length: WINDOW }, lane))
  const seconds = (performance.now() - started) / 1000
  return { recordsPerSec: issued / seconds, p50Ms: histogram.percentile(50) / 1e6, p99Ms: histogram.percentile(99) / 1e6 }
}

async function engineRun(flush: Flush, compression: number, partitions: number): Promise<RunResult> {
  const dir = freshDir('engine')
  const engine = createLogEngine({ dataDir: dir, flush, maxWorkers: Math.min(partitions, 2) })
  try {
    for (let p = 0; p < partitions; p++) await engine.openPartition('bench', p)
    const acks = flush === 'always' ? -1 : 1
    return await drive(partitions, async (partition, records) => {
      const result = await engine.appendRecords('bench', partition, records, { acks, compression })
      if (result.errorCode !== 0) throw new Error(`append failed: ${result.errorMessage}`)
    })
  } finally {
    await engine.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * The same work on one thread, no workers and no rings: records encoded into the same frame
 * form, packed by the same batcher, appended to PartitionLog directly, acked per its policy.
 */
async function singleThreadRun(flush: Flush, compression: number): Promise<RunResult> {
  const dir = freshDir('engine')
  const log = await PartitionLog.open(join(dir, 'bench-0'), { flush })
  const batcher = new RecordBatcher({ batchSize: 16384, compression })
  try {
    return await drive(1, async (_partition, records) => {
      const frame = encodeRecordFrameBuffer(records, Date.now(), 16384 - BATCH_HEADER_SIZE)
      batcher.addChunks(frame, RECORDS_PREFIX_BYTES, frame.length)
      batcher.seal()
      const taken = batcher.takeSealed()
      if (!taken) return
      const result = log.append(taken.bytes, { leaderEpoch: 0, validated: true })
      await log.whenAcknowledged(result.lastOffset)
    })
  } finally {
    await log.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The naive baseline (src/bench/scenarios/file-append.ts) with the same record count. */
async function baselineRun(durable: boolean): Promise<RunResult> {
  const run = await runFileAppend({ recordSize: RECORD_BYTES, flush: durable ? 'always' : 'never', records: TOTAL })
  const latency = latencyPercentilesMs(run.latency)
  return { recordsPerSec: run.records / run.seconds, p50Ms: latency.p50, p99Ms: latency.p99 }
}

interface Plan { name: string; flush: Flush; compression: string; partitions: number; run: () => Promise<RunResult> | RunResult }

const plans: Plan[] = [
  { name: 'baseline loop + fdatasync/1MiB', flush: 'always', compression: 'none', partitions: 1, run: () => baselineRun(true) },
  { name: 'baseline loop, no sync', flush: 'never', compression: 'none', partitions: 1, run: () => baselineRun(false) },
  { name: 'engine appendRecords', flush: 'always', compression: 'none', partitions: 1, run: () => engineRun('always', Compression.none, 1) },
  { name: 'engine appendRecords', flush: 'never', compression: 'none', partitions: 1, run: () => engineRun('never', Compression.none, 1) },
  { name: 'engine appendRecords', flush: 'always', compression: 'lz4', partitions: 1, run: () => engineRun('always', Compression.lz4, 1) },
  { name: 'engine appendRecords', flush: 'always', compression: 'none', partitions: 6, run: () => engineRun('always', Compression.none, 6) },
  { name: 'engine appendRecords', flush: 'never', compression: 'none', partitions: 6, run: () => engineRun('never', Compression.none, 6) },
  { name: 'single thread, PartitionLog', flush: 'always', compression: 'none', partitions: 1, run: () => singleThreadRun('always', Compression.none) },
  { name: 'single thread, PartitionLog', flush: 'never', compression: 'none', partitions: 1, run: () => singleThreadRun('never', Compression.none) },
]

const rows: Row[] = plans.map((p) => ({ name: p.name, flush: p.flush, compression: p.compression, partitions: p.partitions, runs: [] }))
// Interleave repetitions so drift on a shared machine spreads over every row.
for (let run = 0; run < RUNS; run++) {
  for (let i = 0; i < plans.length; i++) {
    await settlePageCache() // earlier rows' writeback stays out of this one (src/bench/settle.ts)
    rows[i].runs.push(await plans[i].run())
    process.stderr.write('.')
  }
}
process.stderr.write('\n')

const med = (row: Row, key: keyof RunResult): number => median(row.runs.map((r) => r[key]))
const baselineFor = (flush: Flush): Row => rows[flush === 'always' ? 0 : 1]
const summary = rows.map((row) => ({
  name: row.name,
  flush: row.flush,
  compression: row.compression,
  partitions: row.partitions,
  recordsPerSec: Math.round(med(row, 'recordsPerSec')),
  p50Ms: Number(med(row, 'p50Ms').toFixed(3)),
  p99Ms: Number(med(row, 'p99Ms').toFixed(3)),
  ratioToBaseline: Number((med(row, 'recordsPerSec') / med(baselineFor(row.flush), 'recordsPerSec')).toFixed(3)),
  runs: row.runs.map((r) => Math.round(r.recordsPerSec)),
}))

const report = {
  bench: 'engine-append',
  recordBytes: RECORD_BYTES,
  recordsPerRun: TOTAL,
  recordsPerCall: PER_CALL,
  callsInFlight: WINDOW,
  runs: RUNS,
  node: process.version,
  note: 'Shared 2-core machine with other work running: absolute numbers are noisy; ratios come from the same run. Latency is per appendRecords call (for the baseline: per 16 KiB buffer write, and the fdatasync it triggered).',
  rows: summary,
}
console.log(formatTable(
  ['scenario', 'flush', 'codec', 'parts', 'rec/s (median)', 'p50 ms', 'p99 ms', 'x baseline'],
  summary.map((r) => [r.name, r.flush, r.compression, String(r.partitions), r.recordsPerSec.toLocaleString('en-US'), String(r.p50Ms), String(r.p99Ms), r.ratioToBaseline.toFixed(2)]),
))
console.log(JSON.stringify(report, null, 2))
if (common.json) writeFileSync(common.json, JSON.stringify(report, null, 2))
