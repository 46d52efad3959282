/**
 * Log cleaner (issue 14): how fast a compacted log is cleaned, and what cleaning costs appends
 * on the same thread (the cleaner runs in the partition's worker, one segment per tick).
 *
 * - Cleaner throughput: a log of `--mb` MiB of keyed 100-byte records (`--keys` keys, 16 KiB
 *   batches, 1 MiB segments) is cleaned by one pass; MB/s of segment bytes cleaned. Baseline in
 *   the same run: copying the same segment files to new files with fsync (read + write + fsync,
 *   no parsing), the floor any rewrite pays.
 * - Appends with the cleaner: `--seconds` of appends alone, then with a cleaner step every 50 ms
 *   paced by CleanerPacer (what the worker's tick does) on a log that has a pass to do;
 *   records/s and their ratio.
 *
 * Run: npx tsx bench/log-cleaner.bench.ts [--runs 5] [--mb 32] [--keys 10000] [--seconds 2] [--json out.json]
 * Rows interleave run by run so machine noise spreads over all of them; figures are medians.
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { formatTable, machineInfo } from '../src/bench/report.js'
import { median } from '../src/bench/stats.js'
import { encodeRecordBatch } from '../src/protocol/record-batch.js'
import { CleanerPacer, LogCleaner } from '../src/storage/log-cleaner.js'
import { PartitionLog } from '../src/storage/partition-log.js'

const { values } = parseArgs({ options: {
  runs: { type: 'string', default: '5' }, mb: { type: 'string', default: '32' }, keys: { type: 'string', default: '10000' },
  seconds: { type: 'string', default: '2' }, json: { type: 'string' },
} })
const RUNS = Number(values.runs)
const LOG_BYTES = Number(values.mb) * 1024 * 1024
const KEYS = Number(values.keys)
const RUN_MS = Number(values.seconds) * 1000
const RECORD_BYTES = 100
const PER_BATCH = 140
const SEGMENT_BYTES = 1024 * 1024
const TICK_MS = 50
const CONFIG = { segmentBytes: SEGMENT_BYTES, flush: 'never' as const, compact: true, deleteByRetention: false, minCleanableDirtyRatio: 0.01, fileDeleteDelayMs: 0 }

let keyCursor = 0
function keyedBatch(): Buffer {
  const records = Array.from({ length: PER_BATCH }, () => {
    const key = `key-${(keyCursor++ * 7919) % KEYS}`
    return { key, value: Buffer.alloc(RECORD_BYTES, keyCursor & 0xff) }
  })
  return encodeRecordBatch({ records })
}
const batches = Array.from({ length: 64 }, keyedBatch)
const batchBytes = batches[0].length

async function filledLog(root: string): Promise<PartitionLog> {
  const log = await PartitionLog.open(join(root, 'bench-0'), CONFIG)
  for (let written = 0, i = 0; written < LOG_BYTES; i++) {
    log.append(batches[i % batches.length], { leaderEpoch: 0 })
    written += batchBytes
  }
  await log.flush()
  return log
}

interface CleanRun { mbPerSec: number; removedShare: number }

async function runCleaner(): Promise<CleanRun> {
  const root = mkdtempSync(join(tmpdir(), 'ringlog-bench-clean-'))
  try {
    const log = await filledLog(root)
    const cleaner = new LogCleaner(log)
    const start = performance.now()
    cleaner.step(Number.MAX_SAFE_INTEGER)
    for (let guard = 0; cleaner.busy && guard < 100_000; guard++) cleaner.step(Number.MAX_SAFE_INTEGER)
    const seconds = (performance.now() - start) / 1000
    const { cleanedBytes, removedBytes } = cleaner.counters
    await log.close()
    return { mbPerSec: cleanedBytes / seconds / 1e6, removedShare: removedBytes / cleanedBytes }
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

/** The baseline: the same closed segment files copied to new files with one fsync each. */
async function runCopy(): Promise<number> {
  const root = mkdtempSync(join(tmpdir(), 'ringlog-bench-copy-'))
  try {
    const log = await filledLog(root)
    await log.close()
    const dir = join(root, 'bench-0')
    const names = readdirSync(dir).filter((n) => n.endsWith('.log')).sort().slice(0, -1)
    let bytes = 0
    const start = performance.now()
    for (const name of names) {
      const data = readFileSync(join(dir, name))
      const fd = openSync(join(dir, `${name}.copy`), 'w')
      writeSync(fd, data)
      fsyncSync(fd)
      closeSync(fd)
      bytes += data.length
    }
    return bytes / ((performance.now() - start) / 1000) / 1e6
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

/** Appends for RUN_MS on a log with a full pass to do; `withCleaner`: one cleaner step per 50 ms tick. */
async function runAppends(withCleaner: boolean): Promise<number> {
  const root = mkdtempSync(join(tmpdir(), 'ringlog-bench-append-'))
  try {
    const log = await filledLog(root)
    const cleaner = new LogCleaner(log)
    const pacer = new CleanerPacer()
    let appended = 0
    const start = performance.now()
    let nextTick = start + TICK_MS
    while (performance.now() - start < RUN_MS) {
      for (let k = 0; k < 32; k++) log.append(batches[appended++ % batches.length], { leaderEpoch: 0 })
      // What the worker's cleaner tick does: a step every 50 ms, paced to a share of the thread.
      const now = performance.now()
      if (withCleaner && now >= nextTick) {
        nextTick += TICK_MS
        if (pacer.ready(now)) {
          cleaner.step(Number.MAX_SAFE_INTEGER)
          pacer.ran(now, performance.now())
        }
      }
      await new Promise((resolve) => setImmediate(resolve))
    }
    const rate = (appended * PER_BATCH) / ((performance.now() - start) / 1000)
    await log.close()
    return rate
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  const clean: CleanRun[] = []
  const copy: number[] = []
  const alone: number[] = []
  const withCleaner: number[] = []
  for (let run = 0; run < RUNS; run++) {
    copy.push(await runCopy())
    clean.push(await runCleaner())
    alone.push(await runAppends(false))
    withCleaner.push(await runAppends(true))
  }
  const cleanMb = median(clean.map((r) => r.mbPerSec))
  const copyMb = median(copy)
  const aloneRate = median(alone)
  const withRate = median(withCleaner)
  const report = {
    machine: machineInfo(),
    loadAverageAtEnd: (await import('node:os')).loadavg(),
    params: { runs: RUNS, logMiB: LOG_BYTES / 1024 / 1024, keys: KEYS, recordBytes: RECORD_BYTES, recordsPerBatch: PER_BATCH, segmentBytes: SEGMENT_BYTES, appendSeconds: RUN_MS / 1000 },
    cleaner: { mbPerSecMedian: cleanMb, runs: clean, baselineCopyMbPerSecMedian: copyMb, baselineRuns: copy, ratio: cleanMb / copyMb },
    appends: { aloneRecordsPerSecMedian: aloneRate, withCleanerRecordsPerSecMedian: withRate, aloneRuns: alone, withCleanerRuns: withCleaner, ratio: withRate / aloneRate },
  }
  console.log(`log cleaner: ${report.params.logMiB} MiB of ${RECORD_BYTES} B records over ${KEYS} keys, ${PER_BATCH} records a batch, 1 MiB segments; medians of ${RUNS} runs (load average at the end: ${report.loadAverageAtEnd.map((x) => x.toFixed(1)).join(' ')})`)
  console.log(formatTable(['row', 'value', 'baseline (same run)', 'ratio'], [
    ['cleaner pass, MB/s of segments cleaned', cleanMb.toFixed(1), `copy + fsync ${copyMb.toFixed(1)} MB/s`, (cleanMb / copyMb).toFixed(2)],
    ['share of bytes removed by the pass', median(clean.map((r) => r.removedShare)).toFixed(3), '-', '-'],
    ['appends, records/s, cleaner ticking (50 ms, paced)', Math.round(withRate).toString(), `appends alone ${Math.round(aloneRate)}`, (withRate / aloneRate).toFixed(2)],
  ]))
  if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2))
}

await main()
