/**
 * Group commit under flush 'always': acknowledgement latency against throughput as the number
 * of sends in flight grows, next to what the disk itself takes for an fdatasync.
 *
 * Run: npx tsx bench/commit-latency.bench.ts [--runs 3] [--records 300000] [--call 160] [--depths 1,4,16,64] [--json out.json]
 *
 * - disk rows: a plain loop writing `size` bytes at the end of a fresh file, then fdatasync,
 *   repeated (--probe-ms per size): the fdatasync time of an appended chunk of that size, and
 *   the durable bandwidth it allows. Nothing of ringlog is involved.
 * - send rows: the embedded producer (acks -1, one partition, sends of --call 100-byte records,
 *   about 16 KiB) with `depth` sends in flight. Per row: records/s, per-send ack latency
 *   p50/p99, the partition's own fdatasync p50/p99 and how much each commit covered, and the
 *   mean latency Little's law gives for that depth and rate (records in flight / rate).
 *
 * An acknowledgement waits for the fdatasync in progress when its records were written, then
 * for the one that covers them: between one and two commits, plus the sends queued ahead of it.
 * So the ack p99 cannot be lower than the disk's fdatasync p99 for the commit size, and at a
 * depth where the mean (Little) is already above a target no tail can meet it.
 */
import { closeSync, fdatasyncSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { createHistogram, performance } from 'node:perf_hooks'
import { formatTable } from '../src/bench/report.js'
import { settlePageCache } from '../src/bench/settle.js'
import { median } from '../src/bench/stats.js'
import { open, type Message } from '../src/index.js'
import { freshDir, parseBenchArgs, positiveInteger, RECORD_BYTES, valueCalls } from './bench-common.js'

const { common, extra } = parseBenchArgs({ runs: 3, records: 300_000, perCall: 160 }, {
  depths: { type: 'string', default: '1,4,16,64' },
  'probe-sizes': { type: 'string', default: '16384,262144,1048576' },
  'probe-ms': { type: 'string', default: '1500' },
})
const DEPTHS = (extra.depths ?? '').split(',').map((d) => positiveInteger('--depths', d.trim()))
const PROBE_SIZES = (extra['probe-sizes'] ?? '').split(',').map((s) => positiveInteger('--probe-sizes', s.trim()))
const PROBE_MS = positiveInteger('--probe-ms', extra['probe-ms'])
const CALLS: Message[][] = valueCalls(common.perCall)

interface DiskResult { syncP50Ms: number; syncP99Ms: number; syncMaxMs: number; mbPerSec: number }
interface SendResult { recordsPerSec: number; ackP50Ms: number; ackP99Ms: number; syncP50Ms: number; syncP99Ms: number; kibPerCommit: number }

const ms = (h: ReturnType<typeof createHistogram>, q: number): number => (h.count > 0 ? h.percentile(q) / 1e6 : 0)

/** Appends `size` bytes and fdatasyncs, over and over for PROBE_MS, on a fresh file. */
function probeDisk(size: number): DiskResult {
  const dir = freshDir('disk-probe')
  const fd = openSync(join(dir, 'probe'), 'w')
  const chunk = Buffer.alloc(size, 0x5a)
  const syncs = createHistogram()
  let written = 0
  const started = performance.now()
  try {
    while (performance.now() - started < PROBE_MS) {
      writeSync(fd, chunk, 0, size, written)
      written += size
      const t0 = performance.now()
      fdatasyncSync(fd)
      syncs.record(Math.max(1, Math.round((performance.now() - t0) * 1e6)))
    }
  } finally {
    closeSync(fd)
    rmSync(dir, { recursive: true, force: true })
  }
  const seconds = (performance.now() - started) / 1000
  return { syncP50Ms: ms(syncs, 50), syncP99Ms: ms(syncs, 99), syncMaxMs: syncs.max / 1e6, mbPerSec: written / seconds / 1e6 }
}

/** `depth` lanes of acks=-1 sends into one partition until `records` are acknowledged. */
async function sendAtDepth(depth: number): Promise<SendResult> {
  const dir = freshDir('commit-latency')
  const log = await open({ dataDir: dir, flush: 'always', maxWorkers: 1 })
  try {
    await log.admin().createTopics({ topics: [{ topic: 'latency', numPartitions: 1 }] })
    const producer = log.producer({ acks: -1, compression: 'none' })
    const acks = createHistogram()
    let issued = 0
    let call = 0
    const lane = async (): Promise<void> => {
      while (issued < common.records) {
        const messages = CALLS[call++ % CALLS.length]
        issued += messages.length
        const t0 = performance.now()
        await producer.send({ topic: 'latency', messages })
        acks.record(Math.max(1, Math.round((performance.now() - t0) * 1e6)))
      }
    }
    const started = performance.now()
    await Promise.all(Array.from({ length: depth }, lane))
    const seconds = (performance.now() - started) / 1000
    const sync = (await log.context.engine.stats()).perPartition[0].fdatasync
    return {
      recordsPerSec: issued / seconds,
      ackP50Ms: ms(acks, 50),
      ackP99Ms: ms(acks, 99),
      syncP50Ms: sync.p50Ms,
      syncP99Ms: sync.p99Ms,
      kibPerCommit: sync.count > 0 ? (issued * RECORD_BYTES) / sync.count / 1024 : 0,
    }
  } finally {
    await log.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

const diskRuns: DiskResult[][] = PROBE_SIZES.map(() => [])
const sendRuns: SendResult[][] = DEPTHS.map(() => [])
// Interleaved repetitions, so drift on a shared machine spreads over every row.
for (let run = 0; run < common.runs; run++) {
  for (let i = 0; i < PROBE_SIZES.length; i++) {
    await settlePageCache()
    diskRuns[i].push(probeDisk(PROBE_SIZES[i]))
    process.stderr.write('.')
  }
  for (let i = 0; i < DEPTHS.length; i++) {
    await settlePageCache()
    sendRuns[i].push(await sendAtDepth(DEPTHS[i]))
    process.stderr.write('.')
  }
}
process.stderr.write('\n')

const med = <T>(runs: T[], key: keyof T): number => median(runs.map((r) => Number(r[key])))
const round = (n: number, digits = 2): number => Number(n.toFixed(digits))
const disk = PROBE_SIZES.map((size, i) => ({
  appendBytes: size,
  fdatasyncP50Ms: round(med(diskRuns[i], 'syncP50Ms')),
  fdatasyncP99Ms: round(med(diskRuns[i], 'syncP99Ms')),
  fdatasyncMaxMs: round(med(diskRuns[i], 'syncMaxMs')),
  durableMBPerSec: round(med(diskRuns[i], 'mbPerSec'), 1),
}))
const sends = DEPTHS.map((depth, i) => {
  const rate = med(sendRuns[i], 'recordsPerSec')
  return {
    sendsInFlight: depth,
    recordsInFlight: depth * common.perCall,
    recordsPerSec: Math.round(rate),
    ackP50Ms: round(med(sendRuns[i], 'ackP50Ms')),
    ackP99Ms: round(med(sendRuns[i], 'ackP99Ms')),
    littleMeanMs: round(((depth * common.perCall) / rate) * 1000),
    fdatasyncP50Ms: round(med(sendRuns[i], 'syncP50Ms')),
    fdatasyncP99Ms: round(med(sendRuns[i], 'syncP99Ms')),
    kibPerCommit: round(med(sendRuns[i], 'kibPerCommit'), 0),
    runs: sendRuns[i].map((r) => Math.round(r.recordsPerSec)),
  }
})

console.log(formatTable(
  ['disk: append + fdatasync', 'fdatasync p50 ms', 'p99 ms', 'max ms', 'durable MB/s'],
  disk.map((d) => [`${(d.appendBytes / 1024).toFixed(0)} KiB`, String(d.fdatasyncP50Ms), String(d.fdatasyncP99Ms), String(d.fdatasyncMaxMs), String(d.durableMBPerSec)]),
))
console.log()
console.log(formatTable(
  ['producer.send, flush always', 'rec/s (median)', 'ack p50 ms', 'ack p99 ms', 'Little mean ms', 'fdatasync p50/p99 ms', 'KiB/commit'],
  sends.map((s) => [
    `${s.sendsInFlight} in flight (${s.recordsInFlight} records)`, s.recordsPerSec.toLocaleString('en-US'), String(s.ackP50Ms), String(s.ackP99Ms),
    String(s.littleMeanMs), `${s.fdatasyncP50Ms} / ${s.fdatasyncP99Ms}`, String(s.kibPerCommit),
  ]),
))
const report = {
  bench: 'commit-latency',
  recordBytes: RECORD_BYTES,
  recordsPerRun: common.records,
  recordsPerSend: common.perCall,
  runs: common.runs,
  node: process.version,
  note: 'Shared 2-core machine: absolute numbers are noisy. Ack latency is per producer.send (acks -1, flush always), from the call to its resolution; fdatasync figures for the send rows are the partition\'s group commits (src/storage/group-commit.ts).',
  disk,
  sends,
}
console.log(JSON.stringify(report, null, 2))
if (common.json) writeFileSync(common.json, JSON.stringify(report, null, 2))
