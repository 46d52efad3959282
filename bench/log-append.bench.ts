/**
 * PartitionLog append throughput and append-to-durable latency per flush policy, against the
 * naive baseline measured in the same run (src/bench/scenarios/file-append.ts): a plain loop
 * copying the same 100-byte records into 16 KiB buffers and writeSync-ing them (and an
 * fdatasync every 1 MiB for the durable row).
 *
 * Run: npx tsx bench/log-append.bench.ts [--runs 5] [--seconds 2]
 * 100-byte records in ~16 KiB batches, encoded up front; each append still validates the CRC.
 * Latency is from append() to the fdatasync that covers it; 'never' has no durable point.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHistogram, performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { formatTable } from '../src/bench/report.js'
import { runFileAppend } from '../src/bench/scenarios/file-append.js'
import { median } from '../src/bench/stats.js'
import { encodeRecordBatch } from '../src/protocol/record-batch.js'
import { PartitionLog } from '../src/storage/partition-log.js'
import type { FlushPolicy } from '../src/storage/log-config.js'

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, seconds: { type: 'string', default: '2' } } })
const RUNS = Number(values.runs)
const RUN_MS = Number(values.seconds) * 1000
const RECORD_BYTES = 100
const BATCH_TARGET = 16 * 1024
/**
 * Under 'always' an ack waits for the group commit, so the producer keeps at most this many
 * unacknowledged bytes in flight (a produce pipeline's window). Under the other policies acks
 * do not wait for the disk, so there is no window; their durable latency is still measured.
 */
const WINDOW_BYTES = 2 * 1024 * 1024

function buildBatches(): { batches: Buffer[]; recordsPerBatch: number } {
  const perBatch = Math.floor(BATCH_TARGET / (RECORD_BYTES + 8))
  const batches: Buffer[] = []
  for (let b = 0; b < 64; b++) {
    const records = Array.from({ length: perBatch }, (_, i) => ({ value: Buffer.alloc(RECORD_BYTES, (b * 31 + i) & 0xff) }))
    batches.push(encodeRecordBatch({ records }))
  }
  return { batches, recordsPerBatch: perBatch }
}

interface RunResult { recordsPerSec: number; mbPerSec: number; p50Ms: number | null; p99Ms: number | null }

const { batches, recordsPerBatch } = buildBatches()
const batchBytes = batches[0].length
const yieldNow = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

async function runLog(policy: FlushPolicy): Promise<RunResult> {
  const root = mkdtempSync(join(tmpdir(), 'ringlog-bench-'))
  try {
    const log = await PartitionLog.open(join(root, 'bench-0'), { flush: policy })
    const histogram = createHistogram()
    const pendingOffsets: number[] = []
    const pendingTimes: number[] = []
    let head = 0
    let durableBytes = 0
    log.onDurable((end) => {
      const now = performance.now()
      while (head < pendingOffsets.length && pendingOffsets[head] < end) {
        histogram.record(Math.max(1, Math.round((now - pendingTimes[head]) * 1e6)))
        durableBytes += batchBytes
        head++
      }
    })
    const tracksDurability = policy !== 'never'
    let appended = 0
    let lastOffset = -1
    const start = performance.now()
    const end = start + RUN_MS
    while (performance.now() < end) {
      for (let k = 0; k < 32; k++) {
        if (policy === 'always' && appended * batchBytes - durableBytes > WINDOW_BYTES) break
        const t = performance.now()
        lastOffset = log.append(batches[appended % batches.length], { leaderEpoch: 0 }).lastOffset
        if (tracksDurability) { pendingOffsets.push(lastOffset); pendingTimes.push(t) }
        appended++
      }
      await yieldNow()
    }
    if (tracksDurability) await log.whenDurable(lastOffset)
    const elapsedSec = (performance.now() - start) / 1000
    await log.close()
    return {
      recordsPerSec: (appended * recordsPerBatch) / elapsedSec,
      mbPerSec: (appended * batchBytes) / elapsedSec / 1e6,
      p50Ms: tracksDurability ? histogram.percentile(50) / 1e6 : null,
      p99Ms: tracksDurability ? histogram.percentile(99) / 1e6 : null,
    }
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

/** The naive baseline (src/bench/scenarios/file-append.ts) for as long as a log run; its latency is not comparable (no durable point per append). */
async function runNaive(durable: boolean): Promise<RunResult> {
  const run = await runFileAppend({ recordSize: RECORD_BYTES, flush: durable ? 'always' : 'never', durationMs: RUN_MS })
  return { recordsPerSec: run.records / run.seconds, mbPerSec: run.bytes / run.seconds / 1e6, p50Ms: null, p99Ms: null }
}

function medianOf(results: RunResult[]): RunResult {
  const pick = (k: keyof RunResult): number | null => {
    const xs = results.map((r) => r[k]).filter((x): x is number => x !== null)
    return xs.length ? median(xs) : null
  }
  return { recordsPerSec: pick('recordsPerSec') ?? 0, mbPerSec: pick('mbPerSec') ?? 0, p50Ms: pick('p50Ms'), p99Ms: pick('p99Ms') }
}

interface Row { name: string; baseline: string; result: RunResult; ratioToBaseline: number | null }

async function main(): Promise<void> {
  const naiveDurable: RunResult[] = []
  const naivePlain: RunResult[] = []
  const logRuns: Record<string, RunResult[]> = { always: [], 'interval-5ms': [], never: [] }
  const policies: [string, FlushPolicy][] = [['always', 'always'], ['interval-5ms', { intervalMs: 5 }], ['never', 'never']]
  // Interleave so background noise spreads over every row.
  for (let run = 0; run < RUNS; run++) {
    naiveDurable.push(await runNaive(true))
    naivePlain.push(await runNaive(false))
    for (const [name, policy] of policies) logRuns[name].push(await runLog(policy))
  }
  const nd = medianOf(naiveDurable)
  const np = medianOf(naivePlain)
  const rows: Row[] = [
    { name: 'naive writeSync + fdatasync/1MiB', baseline: '-', result: nd, ratioToBaseline: null },
    { name: 'naive writeSync (page cache)', baseline: '-', result: np, ratioToBaseline: null },
  ]
  for (const [name] of policies) {
    const result = medianOf(logRuns[name])
    // Only 'always' waits for the disk before acknowledging; the others compare with page-cache writes.
    const durableAck = name === 'always'
    const base = durableAck ? nd : np
    rows.push({ name: `PartitionLog flush=${name}`, baseline: durableAck ? 'naive durable' : 'naive page cache', result, ratioToBaseline: result.recordsPerSec / base.recordsPerSec })
  }
  const fmt = (x: number | null, digits = 2): string => (x === null ? 'n/a' : x.toFixed(digits))
  console.log(`log append: ${recordsPerBatch} x ${RECORD_BYTES} B records per ${batchBytes} B batch, medians of ${RUNS} runs x ${RUN_MS / 1000}s`)
  console.log(formatTable(['row', 'records/s', 'MB/s', 'p50 ms', 'p99 ms', 'ratio to baseline'], rows.map((r) => [
    r.name, String(Math.round(r.result.recordsPerSec)), fmt(r.result.mbPerSec, 1), fmt(r.result.p50Ms), fmt(r.result.p99Ms),
    r.ratioToBaseline === null ? '' : `${r.ratioToBaseline.toFixed(2)}x ${r.baseline}`,
  ])))
  console.log(JSON.stringify({ bench: 'log-append', runs: RUNS, runSeconds: RUN_MS / 1000, recordBytes: RECORD_BYTES, batchBytes, recordsPerBatch, rows }, null, 2))
}

await main()
