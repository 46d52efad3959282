/**
 * Storage lookup micro-benchmarks (tinybench 6): what locating a fetch offset costs.
 *   offset-index/lookup       binary search of OffsetIndex over a full-size index: a 1 GiB
 *                             segment with an entry every 4 KiB = 262,144 entries
 *   offset-index/typed-array  the same search over a plain Uint32Array of relative offsets
 *                             (baseline, same run: the floor for a binary search of that size)
 *   time-index/lookupBefore   TimeIndex over 262,144 entries, random timestamps
 *   log-read/locate           PartitionLog.read(random offset, 1 byte): segment choice, index
 *                             lookup and the batch-header walk to the offset's batch (KIP-74:
 *                             one batch), in a log of many segments
 *   log-read/1MiB             the same with a 1 MiB budget (the walk to the end of the range)
 * Lookups cycle through 4096 precomputed random targets. Each task reports ops/s and latency
 * p50/p99; the whole bench repeats `--runs` times (default 3) and the report gives the median
 * of each figure. The machine is shared: absolute numbers are noisy, ratios are the finding.
 *
 *   npx tsx bench/micro/storage.bench.ts [--runs 3] [--time 300] [--json-only]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Bench } from 'tinybench'
import { formatTable } from '../../src/bench/report.js'
import { median, seededRandom } from '../../src/bench/stats.js'
import { encodeRecordBatch } from '../../src/protocol/record-batch.js'
import { PartitionLog } from '../../src/storage/log.js'
import { OffsetIndex } from '../../src/storage/offset-index.js'
import { TimeIndex } from '../../src/storage/time-index.js'

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
const MiB = 1024 * KiB
const SEGMENT_BYTES = 1024 * MiB
const INDEX_INTERVAL = 4 * KiB
const INDEX_ENTRIES = SEGMENT_BYTES / INDEX_INTERVAL
/** About 37 records of 100 bytes per 4 KiB: the offset step between index entries. */
const RECORDS_PER_INTERVAL = 37
const TARGETS = 4096
const BASE_OFFSET = 5_000_000
const BASE_TS = 1_700_000_000_000

const random = seededRandom(7)

// A full segment's offset index, and the same relative offsets in a plain typed array.
const offsetIndex = new OffsetIndex(BASE_OFFSET, INDEX_ENTRIES)
const relativeOffsets = new Uint32Array(INDEX_ENTRIES)
for (let i = 0; i < INDEX_ENTRIES; i++) {
  const relative = i * RECORDS_PER_INTERVAL + Math.floor(random() * 4)
  relativeOffsets[i] = relative
  offsetIndex.append(BASE_OFFSET + relative, i * INDEX_INTERVAL + Math.floor(random() * 64))
}
const lastRelative = relativeOffsets[INDEX_ENTRIES - 1]
const offsetTargets = Array.from({ length: TARGETS }, () => BASE_OFFSET + Math.floor(random() * (lastRelative + RECORDS_PER_INTERVAL)))

/** Index of the last relative offset <= target, -1 if none: the baseline search. */
function floorTyped(target: number): number {
  let lo = 0
  let hi = relativeOffsets.length - 1
  let found = -1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    if (relativeOffsets[mid] <= target) { found = mid; lo = mid + 1 } else hi = mid - 1
  }
  return found
}

// A time index as long as the offset index: one entry per interval, ~10 ms apart.
const timeIndex = new TimeIndex(BASE_OFFSET, INDEX_ENTRIES)
for (let i = 0; i < INDEX_ENTRIES; i++) timeIndex.maybeAppend(BASE_TS + i * 10 + Math.floor(random() * 5), BASE_OFFSET + relativeOffsets[i])
const timeTargets = Array.from({ length: TARGETS }, () => BASE_TS + Math.floor(random() * INDEX_ENTRIES * 10))

// A multi-segment log: 64 MiB of ~16 KiB batches (140 records of 100 bytes), 4 MiB segments.
const LOG_BYTES = 64 * MiB
const LOG_SEGMENT_BYTES = 4 * MiB
const batchTemplates = Array.from({ length: 16 }, (_, b) =>
  encodeRecordBatch({ records: Array.from({ length: 140 }, (_, i) => ({ value: Buffer.alloc(100, (b * 31 + i) & 0xff) })), baseTimestamp: BASE_TS }))
const logDir = mkdtempSync(join(tmpdir(), 'ringlog-bench-storage-'))
const log = await PartitionLog.open(join(logDir, 'bench-0'), { flush: 'never', segmentBytes: LOG_SEGMENT_BYTES, indexIntervalBytes: INDEX_INTERVAL })
for (let written = 0, b = 0; written < LOG_BYTES; b++) {
  const batch = batchTemplates[b % batchTemplates.length]
  log.append(batch, { leaderEpoch: 0 })
  written += batch.length
}
const logEnd = log.logEndOffset
const readTargets = Array.from({ length: TARGETS }, () => Math.floor(random() * logEnd))
// Each read must land on the batch holding its offset: checked once here, not in the timed loop.
for (const target of readTargets.slice(0, 64)) {
  const slice = log.read(target, 1)
  if (slice.length === 0 || slice.baseOffsetOfFirstBatch > target || slice.nextOffset <= target) throw new Error(`read(${target}) missed its batch`)
}
if (offsetIndex.lookup(offsetTargets[0]).offset - BASE_OFFSET !== relativeOffsets[floorTyped(offsetTargets[0] - BASE_OFFSET)]) throw new Error('baseline search disagrees with OffsetIndex')

interface TaskDef { name: string; fn: () => void }
let sink = 0
let cursor = 0
const next = (): number => (cursor = (cursor + 1) & (TARGETS - 1))
const tasks: TaskDef[] = [
  { name: `offset-index/lookup (${INDEX_ENTRIES} entries)`, fn: () => { sink ^= offsetIndex.lookup(offsetTargets[next()]).position } },
  { name: 'offset-index/typed-array (baseline)', fn: () => { sink ^= floorTyped(offsetTargets[next()] - BASE_OFFSET) } },
  { name: `time-index/lookupBefore (${INDEX_ENTRIES} entries)`, fn: () => { sink ^= timeIndex.lookupBefore(timeTargets[next()]) } },
  { name: `log-read/locate (${log.segmentCount} segments)`, fn: () => { sink ^= log.read(readTargets[next()], 1).position } },
  { name: 'log-read/1MiB', fn: () => { sink ^= log.read(readTargets[next()], MiB).length } },
]

interface Figures { opsPerSec: number; p50Us: number; p99Us: number }

async function runOnce(): Promise<Map<string, Figures>> {
  const bench = new Bench({ time: timeMs, warmupTime: 50 })
  for (const t of tasks) bench.add(t.name, t.fn)
  await bench.run()
  const out = new Map<string, Figures>()
  for (const task of bench.tasks) {
    const r = task.result
    if (r.state !== 'completed') throw new Error(`task ${task.name} ended ${r.state}`)
    out.set(task.name, { opsPerSec: r.throughput.mean, p50Us: r.latency.p50 * 1000, p99Us: r.latency.p99 * 1000 })
  }
  return out
}

const perRun: Map<string, Figures>[] = []
try {
  for (let i = 0; i < runs; i++) {
    if (!args['json-only']) console.error(`run ${i + 1}/${runs} ...`)
    perRun.push(await runOnce())
  }
} finally {
  await log.close()
  rmSync(logDir, { recursive: true, force: true })
}

const results: Record<string, Figures> = {}
for (const t of tasks) {
  const figs = perRun.map((m) => m.get(t.name)!)
  results[t.name] = { opsPerSec: median(figs.map((f) => f.opsPerSec)), p50Us: median(figs.map((f) => f.p50Us)), p99Us: median(figs.map((f) => f.p99Us)) }
}

/** Per-run ratio of two tasks' throughput, then the median over runs. */
const ratio = (a: string, b: string): number => median(perRun.map((m) => m.get(a)!.opsPerSec / m.get(b)!.opsPerSec))
const ratios = {
  'OffsetIndex.lookup / typed-array search': ratio(tasks[0].name, tasks[1].name),
  'log-read locate / OffsetIndex.lookup': ratio(tasks[3].name, tasks[0].name),
}

const report = {
  bench: 'storage',
  node: process.version,
  runs,
  timeMsPerTask: timeMs,
  input: { indexEntries: INDEX_ENTRIES, indexIntervalBytes: INDEX_INTERVAL, logBytes: LOG_BYTES, logSegmentBytes: LOG_SEGMENT_BYTES, logSegments: log.segmentCount, logEndOffset: logEnd },
  note: 'medians over runs; 2-core shared machine, absolute figures are noisy, ratios are from the same run',
  results,
  ratios,
}

if (!args['json-only']) {
  console.log(`\nstorage lookups, median of ${runs} run(s), ${timeMs} ms per task`)
  console.log(formatTable(['task', 'ops/s', 'p50 µs', 'p99 µs'], Object.entries(results).map(([name, f]) => [name, Math.round(f.opsPerSec).toLocaleString('en-US'), f.p50Us.toFixed(2), f.p99Us.toFixed(2)])))
  console.log(formatTable(['ratio', 'value'], Object.entries(ratios).map(([k, v]) => [k, v.toFixed(2)])))
}
console.log(JSON.stringify(report, null, 2))
if (sink === 0.5) console.log('') // keeps `sink` observable so no task is optimized away
