/**
 * The embedded consumer's isolation cost: `consumer.run({ eachBatch })` over a log written by
 * the embedded transactional producer (--txns transactions of --per-txn 100-byte records, every
 * --abort-every'th aborted, one partition, flush never, read from the page cache) with
 * `readUncommitted: false` (read_committed: reads stop at the LSO, aborted batches are dropped
 * by aborted-batch-filter.ts) against `readUncommitted: true`. Each is timed from its group join
 * to the last record, as log records per second (both walk the same log; read_committed
 * delivers the committed records only). The two run back to back in every round, the order
 * alternating, after one warm-up round; medians and the median of the per-round ratios.
 * Target: read_committed >= 0.9x read_uncommitted.
 *
 *   npm run build && npx tsx bench/embedded-isolation.bench.ts [--runs 7] [--txns 300] [--per-txn 1000] [--json out.json]
 */
import { rmSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { open, type Ringlog } from '../src/index.js'
import { freshDir, positiveInteger, RECORD_BYTES } from './bench-common.js'

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '7' },
    txns: { type: 'string', default: '300' },
    'per-txn': { type: 'string', default: '1000' },
    'abort-every': { type: 'string', default: '10' },
    json: { type: 'string' },
  },
})
const RUNS = positiveInteger('--runs', args.runs)
const TXNS = positiveInteger('--txns', args.txns)
const PER_TXN = positiveInteger('--per-txn', args['per-txn'])
const ABORT_EVERY = positiveInteger('--abort-every', args['abort-every'])
const TOPIC = 'isolation'

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** Log records per second for one consumer that reads until `expected` records arrived. */
async function consumeRun(log: Ringlog, groupId: string, readUncommitted: boolean, expected: number, logRecords: number): Promise<number> {
  const consumer = log.consumer({ groupId, readUncommitted, maxBytesPerPartition: 4 * 1024 * 1024, autoCommit: false })
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
  let started = 0
  let seen = 0
  let bytes = 0
  consumer.on('consumer.group_join', () => { started = performance.now() })
  const ended = await new Promise<number>((resolve) => {
    void consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) bytes += m.value!.length
        seen += batch.messages.length
        if (seen >= expected) resolve(performance.now())
      },
    })
  })
  await consumer.disconnect()
  if (seen !== expected || bytes !== expected * RECORD_BYTES) throw new Error(`${readUncommitted ? 'read_uncommitted' : 'read_committed'} saw ${seen} records, expected ${expected}`)
  return logRecords / ((ended - started) / 1000)
}

const dir = freshDir('isolation')
const log = await open({ dataDir: dir, flush: 'never', maxWorkers: 2, groupInitialRebalanceDelayMs: 0, transactionStateLogNumPartitions: 1, offsetsTopicNumPartitions: 1 })
const loadBefore = loadavg()
try {
  await log.admin().createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }] })
  const producer = log.producer({ transactionalId: 'isolation-bench' })
  const messages = Array.from({ length: PER_TXN }, (_, i) => ({ value: Buffer.alloc(RECORD_BYTES, (i * 37) & 0xff), partition: 0 }))
  let committed = 0
  for (let i = 0; i < TXNS; i++) {
    const tx = await producer.transaction()
    await tx.send({ topic: TOPIC, messages })
    if (i % ABORT_EVERY === ABORT_EVERY - 1 && i !== TXNS - 1) {
      await tx.abort()
    } else {
      await tx.commit()
      committed += PER_TXN
    }
  }
  const all = TXNS * PER_TXN
  const rounds = { readCommitted: [] as number[], readUncommitted: [] as number[], ratio: [] as number[] }
  for (let round = 0; round <= RUNS; round++) {
    const rc = (): Promise<number> => consumeRun(log, `rc-${round}`, false, committed, all)
    const ru = (): Promise<number> => consumeRun(log, `ru-${round}`, true, all, all)
    let rcRate: number
    let ruRate: number
    if (round % 2 === 1) { rcRate = await rc(); ruRate = await ru() } else { ruRate = await ru(); rcRate = await rc() }
    if (round === 0) continue
    rounds.readCommitted.push(rcRate)
    rounds.readUncommitted.push(ruRate)
    rounds.ratio.push(rcRate / ruRate)
  }
  const report = {
    bench: 'embedded-isolation', runs: RUNS, transactions: TXNS, recordsPerTransaction: PER_TXN, abortEvery: ABORT_EVERY,
    logRecords: all, committedRecords: committed, recordBytes: RECORD_BYTES,
    readCommittedLogRecordsPerSec: median(rounds.readCommitted), readUncommittedLogRecordsPerSec: median(rounds.readUncommitted),
    ratioMedian: median(rounds.ratio), target: 0.9, rounds, loadavg: { before: loadBefore, after: loadavg() },
  }
  const m = (n: number): string => `${(n / 1e6).toFixed(2)} M/s`
  console.log(`embedded consumer isolation (${RUNS} rounds, ${all} log records, loadavg ${loadBefore.map((l) => l.toFixed(2)).join(' ')} -> ${report.loadavg.after.map((l) => l.toFixed(2)).join(' ')})`)
  console.log('| row | median | baseline (same rounds) | median of per-round ratios | target |')
  console.log('|---|---|---|---|---|')
  console.log(`| read_committed eachBatch (log records/s) | ${m(report.readCommittedLogRecordsPerSec)} | read_uncommitted ${m(report.readUncommittedLogRecordsPerSec)} | ${report.ratioMedian.toFixed(2)} | >= 0.9 |`)
  const json = JSON.stringify(report, null, 2)
  console.log(json)
  if (args.json) writeFileSync(args.json, `${json}\n`)
} finally {
  await log.close()
  rmSync(dir, { recursive: true, force: true })
}
