/**
 * Transactions over the wire (kafkajs 2.2 against `ringlog serve` in a child process, 127.0.0.1):
 *
 *   produce  a transactional producer writing transactions of --per-txn records (begin, one send,
 *            commit: AddPartitionsToTxn, Produce, EndTxn with its markers) against the idempotent
 *            producer sending the same records in sends of the same size (acks=all both).
 *            Target: transactional >= 0.7x idempotent records/s.
 *   consume  a kafkajs consumer (eachBatch) reading a topic written by transactions (every
 *            --abort-every'th one aborted) with readUncommitted false (read_committed: the broker
 *            stops at the LSO and lists aborted transactions, kafkajs drops them) against
 *            readUncommitted true, timed from the group join to the last record of the log.
 *            Target: read_committed >= 0.9x read_uncommitted (time to read the whole log).
 *
 * The two rows of each pair run back to back in every round (their order alternating) against
 * one broker, so the same-run ratio cancels most of the machine's load; medians of --runs rounds
 * after one warm-up round. Prints a table and the JSON (also written to --json if given).
 *
 *   npm run build && npx tsx bench/transactions.bench.ts [--runs 5] [--txns 40] [--per-txn 1000] [--flush never] [--json out.json]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import kafkajs from 'kafkajs'
import { positiveInteger, RECORD_BYTES } from './bench-common.js'
import { startRinglogBroker } from '../test/cli/ringlog-process.js'

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    txns: { type: 'string', default: '40' },
    'per-txn': { type: 'string', default: '1000' },
    'consume-txns': { type: 'string', default: '300' },
    'abort-every': { type: 'string', default: '10' },
    flush: { type: 'string', default: 'never' },
    json: { type: 'string' },
  },
})
const RUNS = positiveInteger('--runs', args.runs)
const TXNS = positiveInteger('--txns', args.txns)
const PER_TXN = positiveInteger('--per-txn', args['per-txn'])
const CONSUME_TXNS = positiveInteger('--consume-txns', args['consume-txns'])
const ABORT_EVERY = positiveInteger('--abort-every', args['abort-every'])
const FLUSH = args.flush ?? 'never'
if (!['never', 'always'].includes(FLUSH) && !/^\d+$/.test(FLUSH)) throw new Error(`--flush must be never, always or a number of ms, got ${FLUSH}`)

const { Kafka, logLevel } = kafkajs
type Producer = ReturnType<InstanceType<typeof Kafka>['producer']>

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

const values = Array.from({ length: PER_TXN }, (_, i) => ({ value: Buffer.alloc(RECORD_BYTES, (i * 37) & 0xff) }))

async function idempotentRun(producer: Producer, topic: string): Promise<number> {
  const started = performance.now()
  for (let i = 0; i < TXNS; i++) await producer.send({ topic, acks: -1, messages: values })
  return (TXNS * PER_TXN) / ((performance.now() - started) / 1000)
}

/** Milliseconds per transaction spent in each step, summed over the measured rounds (the breakdown). */
const steps = { begin: 0, send: 0, commit: 0, transactions: 0 }
/** Per request type: count and total round trip (kafkajs's REQUEST event: sent to answer received). */
const requests = new Map<string, { count: number; ms: number }>()

async function transactionalRun(producer: Producer, topic: string, measured: boolean): Promise<number> {
  const started = performance.now()
  for (let i = 0; i < TXNS; i++) {
    const t0 = performance.now()
    const tx = await producer.transaction()
    const t1 = performance.now()
    await tx.send({ topic, acks: -1, messages: values })
    const t2 = performance.now()
    await tx.commit()
    const t3 = performance.now()
    if (measured) {
      steps.begin += t1 - t0
      steps.send += t2 - t1
      steps.commit += t3 - t2
      steps.transactions++
    }
  }
  return (TXNS * PER_TXN) / ((performance.now() - started) / 1000)
}

/** Seconds from the group join until `expected` records arrived; records per second of the log's records. */
async function consumeRun(kafka: InstanceType<typeof Kafka>, topic: string, groupId: string, readUncommitted: boolean, expected: number, logRecords: number): Promise<number> {
  const consumer = kafka.consumer({ groupId, readUncommitted, maxWaitTimeInMs: 100, maxBytesPerPartition: 4 << 20 })
  await consumer.connect()
  try {
    await consumer.subscribe({ topic, fromBeginning: true })
    let started = 0
    let seen = 0
    let bytes = 0
    consumer.on(consumer.events.GROUP_JOIN, () => { started = performance.now() })
    const done = new Promise<number>((resolve) => {
      void consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) bytes += m.value?.length ?? 0
          seen += batch.messages.length
          if (seen >= expected) resolve(performance.now())
        },
      })
    })
    const ended = await done
    if (seen !== expected || bytes !== expected * RECORD_BYTES) throw new Error(`${readUncommitted ? 'read_uncommitted' : 'read_committed'} saw ${seen} records, expected ${expected}`)
    return logRecords / ((ended - started) / 1000)
  } finally {
    await consumer.disconnect()
  }
}

const dataDir = mkdtempSync(join(tmpdir(), 'ringlog-bench-transactions-'))
const broker = await startRinglogBroker(['--data-dir', dataDir, '--flush', FLUSH, '--partitions', '1'], { RINGLOG_GROUP_INITIAL_REBALANCE_DELAY_MS: '0' })
const kafka = new Kafka({ clientId: 'txn-bench', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING })
const loadBefore = loadavg()
try {
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: ['txb-idem', 'txb-txn', 'txb-consume'].map((topic) => ({ topic, numPartitions: 1 })) })
  await admin.disconnect()

  const idempotent = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  const transactional = kafka.producer({ transactionalId: 'txn-bench', idempotent: true, maxInFlightRequests: 1 })
  let recording = false
  for (const p of [idempotent, transactional]) {
    p.on(p.events.REQUEST, (e) => {
      if (!recording) return
      const name = `${p === transactional ? 'txn' : 'idem'} ${e.payload.apiName}`
      const entry = requests.get(name) ?? { count: 0, ms: 0 }
      entry.count++
      entry.ms += e.payload.duration
      requests.set(name, entry)
    })
  }
  await idempotent.connect()
  await transactional.connect()

  const produce = { idempotent: [] as number[], transactional: [] as number[], ratio: [] as number[] }
  for (let round = 0; round <= RUNS; round++) {
    const txnFirst = round % 2 === 1
    recording = round > 0
    const a = txnFirst ? await transactionalRun(transactional, 'txb-txn', round > 0) : await idempotentRun(idempotent, 'txb-idem')
    const b = txnFirst ? await idempotentRun(idempotent, 'txb-idem') : await transactionalRun(transactional, 'txb-txn', round > 0)
    recording = false
    const [idem, txn] = txnFirst ? [b, a] : [a, b]
    if (round === 0) continue
    produce.idempotent.push(idem)
    produce.transactional.push(txn)
    produce.ratio.push(txn / idem)
  }

  // The consume topic: CONSUME_TXNS transactions, every ABORT_EVERY'th aborted, the last one committed.
  let committed = 0
  let all = 0
  for (let i = 0; i < CONSUME_TXNS; i++) {
    const tx = await transactional.transaction()
    await tx.send({ topic: 'txb-consume', acks: -1, messages: values })
    all += PER_TXN
    if (i % ABORT_EVERY === ABORT_EVERY - 1 && i !== CONSUME_TXNS - 1) {
      await tx.abort()
    } else {
      await tx.commit()
      committed += PER_TXN
    }
  }
  await idempotent.disconnect()
  await transactional.disconnect()

  const consume = { readCommitted: [] as number[], readUncommitted: [] as number[], ratio: [] as number[] }
  for (let round = 0; round <= RUNS; round++) {
    const committedFirst = round % 2 === 1
    const rc = async (): Promise<number> => consumeRun(kafka, 'txb-consume', `rc-${round}`, false, committed, all)
    const ru = async (): Promise<number> => consumeRun(kafka, 'txb-consume', `ru-${round}`, true, all, all)
    let rcRate: number
    let ruRate: number
    if (committedFirst) { rcRate = await rc(); ruRate = await ru() } else { ruRate = await ru(); rcRate = await rc() }
    if (round === 0) continue
    consume.readCommitted.push(rcRate)
    consume.readUncommitted.push(ruRate)
    consume.ratio.push(rcRate / ruRate)
  }

  const report = {
    bench: 'transactions', client: 'kafkajs 2.2 over 127.0.0.1', flush: FLUSH, runs: RUNS, recordBytes: RECORD_BYTES,
    produce: {
      transactions: TXNS, recordsPerTransaction: PER_TXN,
      idempotentRecordsPerSec: median(produce.idempotent), transactionalRecordsPerSec: median(produce.transactional),
      ratioMedian: median(produce.ratio), target: 0.7, rounds: produce,
      // Where a transaction's time goes: mean ms per transaction in each step, and per request type
      // the mean round trip and count per transaction (idempotent: per send of the same records).
      msPerTransaction: { begin: steps.begin / steps.transactions, send: steps.send / steps.transactions, commit: steps.commit / steps.transactions },
      requests: Object.fromEntries([...requests].map(([name, r]) => [name, { perTransaction: r.count / (RUNS * TXNS), meanMs: r.ms / r.count }])),
    },
    consume: {
      transactions: CONSUME_TXNS, abortEvery: ABORT_EVERY, logRecords: all, committedRecords: committed,
      readCommittedLogRecordsPerSec: median(consume.readCommitted), readUncommittedLogRecordsPerSec: median(consume.readUncommitted),
      ratioMedian: median(consume.ratio), target: 0.9, rounds: consume,
    },
    loadavg: { before: loadBefore, after: loadavg() },
  }
  const k = (n: number): string => `${(n / 1000).toFixed(1)} k/s`
  console.log(`transactions bench (kafkajs over 127.0.0.1, flush ${FLUSH}, ${RUNS} rounds, loadavg ${loadBefore.map((l) => l.toFixed(2)).join(' ')} -> ${report.loadavg.after.map((l) => l.toFixed(2)).join(' ')})`)
  console.log('| row | median | baseline (same rounds) | median of per-round ratios | target |')
  console.log('|---|---|---|---|---|')
  console.log(`| transactional producer, ${PER_TXN} records/txn | ${k(report.produce.transactionalRecordsPerSec)} | idempotent ${k(report.produce.idempotentRecordsPerSec)} | ${report.produce.ratioMedian.toFixed(2)} | >= 0.7 |`)
  const per = report.produce.msPerTransaction
  console.log(`per transaction: begin ${per.begin.toFixed(2)} ms, send ${per.send.toFixed(2)} ms, commit ${per.commit.toFixed(2)} ms; requests ${Object.entries(report.produce.requests).map(([n, r]) => `${n} ${r.perTransaction.toFixed(2)}x ${r.meanMs.toFixed(2)} ms`).join(', ')}`)
  console.log(`| read_committed consume (log records/s) | ${k(report.consume.readCommittedLogRecordsPerSec)} | read_uncommitted ${k(report.consume.readUncommittedLogRecordsPerSec)} | ${report.consume.ratioMedian.toFixed(2)} | >= 0.9 |`)
  const json = JSON.stringify(report, null, 2)
  console.log(json)
  if (args.json) writeFileSync(args.json, `${json}\n`)
} finally {
  await broker.stop()
  rmSync(dataDir, { recursive: true, force: true })
}
