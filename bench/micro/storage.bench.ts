/**
 * Storage lookup micro-benchmarks (tinybench 6): what locating a fetch offset costs.
 *   offset-index/lookup       binary search of OffsetIndex over a full-size index: a 1 GiB
 *                             segment with an entry every 4 KiB = 262,144 entries
 *   offset-index/typed-array  the same search over a plain Uint32Array of relative offsets
 *                             (baseline, same run: the floor for a binary search of that size)
 *   time-index/entryBefore    TimeIndex over 262,144 entries, random timestamps
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
import { seededRandom } from '../../src/bench/stats.js'
import { encodeRecordBatch } from '../../src/protocol/record-batch.js'
import { PartitionLog } from '../../src/storage/partition-log.js'
import { OffsetIndex } from '../../src/storage/offset-index.js'
import { TimeIndex } from '../../src/storage/time-index.js'
import { parseMicroArgs, printReport, ratio, runSuites, type SuiteRuns } from './tinybench-runs.js'

const { runs, timeMs, jsonOnly } = parseMicroArgs()

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
  { name: `time-index/entryBefore (${INDEX_ENTRIES} entries)`, fn: () => { sink ^= timeIndex.entryBefore(timeTargets[next()])?.offset ?? 0 } },
  { name: `log-read/locate (${log.segmentCount} segments)`, fn: () => { sink ^= log.read(readTargets[next()], 1).position } },
  { name: 'log-read/1MiB', fn: () => { sink ^= log.read(readTargets[next()], MiB).length } },
]

let suite: SuiteRuns
try {
  suite = await runSuites({ runs, timeMs, jsonOnly, register: (bench) => { for (const t of tasks) bench.add(t.name, t.fn) } })
} finally {
  await log.close()
  rmSync(logDir, { recursive: true, force: true })
}

const results = suite.medians
const ratios = {
  'OffsetIndex.lookup / typed-array search': ratio(suite, tasks[0].name, tasks[1].name),
  'log-read locate / OffsetIndex.lookup': ratio(suite, tasks[3].name, tasks[0].name),
}

printReport({
  jsonOnly,
  title: `storage lookups, median of ${runs} run(s), ${timeMs} ms per task`,
  header: ['task', 'ops/s', 'p50 µs', 'p99 µs'],
  rows: Object.entries(results).map(([name, f]) => [name, Math.round(f.opsPerSec).toLocaleString('en-US'), f.p50Us.toFixed(2), f.p99Us.toFixed(2)]),
  ratios,
  report: {
    bench: 'storage',
    node: process.version,
    runs,
    timeMsPerTask: timeMs,
    input: { indexEntries: INDEX_ENTRIES, indexIntervalBytes: INDEX_INTERVAL, logBytes: LOG_BYTES, logSegmentBytes: LOG_SEGMENT_BYTES, logSegments: log.segmentCount, logEndOffset: logEnd },
    note: 'medians over runs; 2-core shared machine, absolute figures are noisy, ratios are from the same run',
    results,
    ratios,
  },
})
if (sink === 0.5) console.log('') // keeps `sink` observable so no task is optimized away
