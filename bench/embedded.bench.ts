/**
 * The embedded API end to end: `producer.send` throughput and per-send latency, and
 * `consumer.run({ eachBatch })` throughput from the page cache, against a naive baseline
 * measured in the same run:
 * - produce baseline: the naive loop of src/bench/scenarios/file-append.ts, copying 100-byte
 *   records into 16 KiB buffers and writeSync-ing them (fdatasync every 1 MiB for the durable row);
 * - consume baseline: reading that file back in 1 MiB chunks and slicing out each record.
 *
 * Run: npx tsx bench/embedded.bench.ts [--runs 5] [--records 1000000] [--call 1000] [--window 16] [--partitions 2] [--filter text] [--json out.json]
 * Keyless 100-byte values (sticky partitioning over `--partitions`), `--window` sends of
 * `--call` messages in flight, acks -1 (under 'never' that means appended). Medians of the runs.
 */
import { closeSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHistogram, performance } from 'node:perf_hooks'
import { formatTable } from '../src/bench/report.js'
import { runFileAppend } from '../src/bench/scenarios/file-append.js'
import { median } from '../src/bench/stats.js'
import { open, type CompressionName, type FlushPolicy, type Message, type Ringlog } from '../src/index.js'
import { settlePageCache } from '../src/bench/settle.js'
import { freshDir, parseBenchArgs, positiveInteger, RECORD_BYTES, valueCalls } from './bench-common.js'

const { common, extra } = parseBenchArgs({ runs: 5, records: 1_000_000, perCall: 1000, window: 16 }, {
  partitions: { type: 'string', default: '2' },
  /** Only rows whose "name/flush/codec" contains this (for profiling one row with --cpu-prof). */
  filter: { type: 'string', default: '' },
})
const { runs: RUNS, records: TOTAL, perCall: PER_CALL, window: WINDOW } = common
const PARTITIONS = positiveInteger('--partitions', extra.partitions)
const READ_CHUNK = 1024 * 1024

/** syncP50Ms/syncP99Ms: the partitions' group commit (fdatasync) durations, for flush 'always' rows. */
interface RunResult { recordsPerSec: number; mbPerSec: number; p50Ms: number; p99Ms: number; syncP50Ms?: number; syncP99Ms?: number }
type Kind = 'produce' | 'consume'
interface Plan { name: string; kind: Kind; flush: string; codec: string; baseline: string; run: () => Promise<RunResult> | RunResult }

const CALLS: Message[][] = valueCalls(PER_CALL)

function result(records: number, seconds: number, histogram?: ReturnType<typeof createHistogram>): RunResult {
  const p = (q: number): number => (histogram && histogram.count > 0 ? histogram.percentile(q) / 1e6 : 0)
  return { recordsPerSec: records / seconds, mbPerSec: (records * RECORD_BYTES) / seconds / 1e6, p50Ms: p(50), p99Ms: p(99) }
}

async function openBenchLog(dir: string, flush: FlushPolicy): Promise<Ringlog> {
  const log = await open({ dataDir: dir, flush, maxWorkers: 2, groupInitialRebalanceDelayMs: 0 })
  await log.admin().createTopics({ topics: [{ topic: 'bench', numPartitions: PARTITIONS }] })
  return log
}

/** WINDOW lanes, each sending PER_CALL messages at a time until TOTAL were acknowledged. */
async function produce(log: Ringlog, compression: CompressionName, histogram?: ReturnType<typeof createHistogram>): Promise<void> {
  const producer = log.producer({ acks: -1, compression })
  let issued = 0
  let call = 0
  const lane = async (): Promise<void> => {
    while (issued < TOTAL) {
      issued += PER_CALL
      const messages = CALLS[call++ % CALLS.length]
      const t0 = performance.now()
      await producer.send({ topic: 'bench', messages })
      histogram?.record(Math.max(1, Math.round((performance.now() - t0) * 1e6)))
    }
  }
  await Promise.all(Array.from({ length: WINDOW }, lane))
}

async function produceRun(flush: FlushPolicy, compression: CompressionName): Promise<RunResult> {
  const dir = freshDir('embedded')
  const log = await openBenchLog(dir, flush)
  try {
    const histogram = createHistogram()
    const started = performance.now()
    await produce(log, compression, histogram)
    const run = result(Math.ceil(TOTAL / PER_CALL) * PER_CALL, (performance.now() - started) / 1000, histogram)
    if (flush !== 'always') return run
    // The partition with the most commits speaks for the run (keyless sends stick to one at a time).
    const syncs = (await log.context.engine.stats()).perPartition.map((p) => p.fdatasync).sort((a, b) => b.count - a.count)[0]
    return { ...run, syncP50Ms: syncs?.p50Ms, syncP99Ms: syncs?.p99Ms }
  } finally {
    await log.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Fills the log (untimed, flush never), then times eachBatch consumption from the page cache. */
async function consumeRun(): Promise<RunResult> {
  const dir = freshDir('embedded')
  const log = await openBenchLog(dir, 'never')
  try {
    await produce(log, 'none')
    const total = Math.ceil(TOTAL / PER_CALL) * PER_CALL
    const consumer = log.consumer({ groupId: 'bench', maxBytesPerPartition: 4 * 1024 * 1024 })
    await consumer.subscribe({ topic: 'bench', fromBeginning: true })
    let started = 0
    let seen = 0
    let bytes = 0
    let finish: () => void = () => undefined
    const finished = new Promise<void>((resolve) => { finish = resolve })
    consumer.on('consumer.group_join', () => { started = performance.now() })
    await consumer.run({
      eachBatch: async ({ batch }) => {
        // Touch every record the way a real handler would (value length), so decoding is not optimized away.
        for (const m of batch.messages) bytes += m.value!.length
        seen += batch.messages.length
        if (seen >= total) finish()
      },
    })
    await finished
    const seconds = (performance.now() - started) / 1000
    await consumer.disconnect()
    if (bytes !== total * RECORD_BYTES) throw new Error(`consumed ${bytes} bytes, expected ${total * RECORD_BYTES}`)
    return result(total, seconds)
  } finally {
    await log.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The naive baseline (src/bench/scenarios/file-append.ts) with the same record count; `keepPath` keeps its file. */
async function baselineProduce(durable: boolean, keepPath?: string): Promise<RunResult> {
  const run = await runFileAppend({ recordSize: RECORD_BYTES, flush: durable ? 'always' : 'never', records: TOTAL }, { keepPath })
  return result(run.records, run.seconds, run.latency)
}

/** Plain loop: read the baseline file back in 1 MiB chunks, slicing out each 100-byte record. */
async function baselineConsume(): Promise<RunResult> {
  const dir = freshDir('embedded')
  const path = join(dir, 'baseline.log')
  try {
    await baselineProduce(false, path)
    const fd = openSync(path, 'r')
    const started = performance.now()
    let records = 0
    let bytes = 0
    try {
      let position = 0
      for (;;) {
        const chunk = Buffer.allocUnsafe(READ_CHUNK)
        const n = readSync(fd, chunk, 0, READ_CHUNK, position)
        if (n === 0) break
        position += n
        for (let o = 0; o + RECORD_BYTES <= n; o += RECORD_BYTES) {
          bytes += chunk.subarray(o, o + RECORD_BYTES).length
          records++
        }
      }
    } finally {
      closeSync(fd)
    }
    if (bytes !== records * RECORD_BYTES) throw new Error('baseline read mismatch')
    return result(records, (performance.now() - started) / 1000)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const allPlans: Plan[] = [
  { name: 'baseline write loop + fdatasync/1MiB', kind: 'produce', flush: 'always', codec: 'none', baseline: '', run: () => baselineProduce(true) },
  { name: 'baseline write loop, no sync', kind: 'produce', flush: 'never', codec: 'none', baseline: '', run: () => baselineProduce(false) },
  { name: 'baseline read loop (page cache)', kind: 'consume', flush: '-', codec: 'none', baseline: '', run: () => baselineConsume() },
  { name: 'producer.send', kind: 'produce', flush: 'always', codec: 'none', baseline: 'baseline write loop + fdatasync/1MiB', run: () => produceRun('always', 'none') },
  { name: 'producer.send', kind: 'produce', flush: 'never', codec: 'none', baseline: 'baseline write loop, no sync', run: () => produceRun('never', 'none') },
  { name: 'producer.send', kind: 'produce', flush: 'always', codec: 'lz4', baseline: 'baseline write loop + fdatasync/1MiB', run: () => produceRun('always', 'lz4') },
  { name: 'consumer eachBatch (page cache)', kind: 'consume', flush: '-', codec: 'none', baseline: 'baseline read loop (page cache)', run: () => consumeRun() },
]

const plans = allPlans.filter((p) => `${p.name}/${p.flush}/${p.codec}`.includes(extra.filter ?? ''))
const runs: RunResult[][] = plans.map(() => [])
// Interleave repetitions so drift on a shared machine spreads over every row.
for (let run = 0; run < RUNS; run++) {
  for (let i = 0; i < plans.length; i++) {
    await settlePageCache() // earlier rows' writeback stays out of this one (src/bench/settle.ts)
    runs[i].push(await plans[i].run())
    process.stderr.write('.')
  }
}
process.stderr.write('\n')

const med = (i: number, key: keyof RunResult): number => median(runs[i].map((r) => r[key] ?? 0))
/** Median of an optional figure, or null for rows that do not have it. */
const medOrNull = (i: number, key: 'syncP50Ms' | 'syncP99Ms'): number | null => (runs[i].some((r) => r[key] === undefined) ? null : Number(med(i, key).toFixed(3)))
const goals: Record<string, number> = { 'producer.send/always/none': 2_000_000, 'producer.send/never/none': 3_000_000, 'producer.send/always/lz4': 1_200_000, 'consumer eachBatch (page cache)/-/none': 2_000_000 }
const summary = plans.map((plan, i) => {
  const baselineIndex = plans.findIndex((p) => p.name === plan.baseline)
  const goal = goals[`${plan.name}/${plan.flush}/${plan.codec}`]
  return {
    name: plan.name,
    kind: plan.kind,
    flush: plan.flush,
    compression: plan.codec,
    recordsPerSec: Math.round(med(i, 'recordsPerSec')),
    mbPerSec: Number(med(i, 'mbPerSec').toFixed(1)),
    p50Ms: Number(med(i, 'p50Ms').toFixed(3)),
    p99Ms: Number(med(i, 'p99Ms').toFixed(3)),
    fdatasyncP50Ms: medOrNull(i, 'syncP50Ms'),
    fdatasyncP99Ms: medOrNull(i, 'syncP99Ms'),
    ratioToBaseline: baselineIndex >= 0 ? Number((med(i, 'recordsPerSec') / med(baselineIndex, 'recordsPerSec')).toFixed(3)) : null,
    goalRecordsPerSec: goal ?? null,
    runs: runs[i].map((r) => Math.round(r.recordsPerSec)),
  }
})

const report = {
  bench: 'embedded',
  recordBytes: RECORD_BYTES,
  recordsPerRun: TOTAL,
  messagesPerSend: PER_CALL,
  sendsInFlight: WINDOW,
  partitions: PARTITIONS,
  runs: RUNS,
  node: process.version,
  note: 'Shared 2-core machine with other work running: absolute numbers are noisy; ratios come from the same run. Latency is per producer.send (for the baselines: per 16 KiB buffer write, and the fdatasync it triggered). fdatasync p50/p99: the group commits of the busiest partition (flush always rows).',
  rows: summary,
}
console.log(formatTable(
  ['scenario', 'flush', 'codec', 'rec/s (median)', 'MB/s', 'p50 ms', 'p99 ms', 'fdatasync p50/p99 ms', 'x baseline', 'goal'],
  summary.map((r) => [
    r.name, r.flush, r.compression, r.recordsPerSec.toLocaleString('en-US'), String(r.mbPerSec), String(r.p50Ms), String(r.p99Ms),
    r.fdatasyncP50Ms === null ? '-' : `${r.fdatasyncP50Ms} / ${r.fdatasyncP99Ms}`,
    r.ratioToBaseline === null ? '-' : r.ratioToBaseline.toFixed(2), r.goalRecordsPerSec === null ? '-' : r.goalRecordsPerSec.toLocaleString('en-US'),
  ]),
))
console.log(JSON.stringify(report, null, 2))
if (common.json) writeFileSync(common.json, JSON.stringify(report, null, 2))
