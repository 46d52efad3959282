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
 * The broker is the compiled CLI (bin/ringlog.js, `npm run build` first). With
 * `--baseline-bin <other checkout>/bin/ringlog.js` a second broker runs that build and every
 * round measures both pairs, the builds' order alternating too, so the two builds' ratios come
 * from the same minutes of the machine. `--cpu-prof-dir DIR` starts this build's broker with
 * node's --cpu-prof (a .cpuprofile per thread, written when it stops).
 *
 *   npm run build && npx tsx bench/transactions.bench.ts [--runs 5] [--txns 40] [--per-txn 1000] [--flush never]
 *     [--baseline-bin /work/main/bin/ringlog.js] [--cpu-prof-dir DIR] [--only produce|consume] [--json out.json]
 *
 * Beside the rates it reports CPU, steadier than wall time on a shared machine: the broker's
 * (all threads, from /proc) per transaction and per idempotent send, and for each consume run
 * this (client) process's CPU, which is where kafkajs decodes and filters the records.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import kafkajs from 'kafkajs'
import { positiveInteger, RECORD_BYTES } from './bench-common.js'
import { brokerCpuSeconds, serveBroker, type ServedBroker, THIS_BIN } from './serve-broker.js'

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    txns: { type: 'string', default: '40' },
    'per-txn': { type: 'string', default: '1000' },
    'consume-txns': { type: 'string', default: '300' },
    'abort-every': { type: 'string', default: '10' },
    flush: { type: 'string', default: 'never' },
    'baseline-bin': { type: 'string', default: '' },
    'cpu-prof-dir': { type: 'string', default: '' },
    only: { type: 'string', default: '' },
    json: { type: 'string' },
  },
})
const RUNS = positiveInteger('--runs', args.runs)
const TXNS = positiveInteger('--txns', args.txns)
const PER_TXN = positiveInteger('--per-txn', args['per-txn'])
const CONSUME_TXNS = positiveInteger('--consume-txns', args['consume-txns'])
const ABORT_EVERY = positiveInteger('--abort-every', args['abort-every'])
const FLUSH = args.flush ?? 'never'
const BASELINE_BIN = args['baseline-bin'] ? resolve(args['baseline-bin']) : ''
const CPU_PROF_DIR = args['cpu-prof-dir'] ? resolve(args['cpu-prof-dir']) : ''
const ONLY = args.only ?? ''
if (!['', 'produce', 'consume'].includes(ONLY)) throw new Error(`--only must be produce or consume, got ${ONLY}`)
if (!['never', 'always'].includes(FLUSH) && !/^\d+$/.test(FLUSH)) throw new Error(`--flush must be never, always or a number of ms, got ${FLUSH}`)

const { Kafka, logLevel } = kafkajs
type Producer = ReturnType<InstanceType<typeof Kafka>['producer']>

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

const values = Array.from({ length: PER_TXN }, (_, i) => ({ value: Buffer.alloc(RECORD_BYTES, (i * 37) & 0xff) }))

/** One broker under test: a build, its process, its clients and what was measured against it. */
interface Target {
  label: string
  bin: string
  broker: ServedBroker
  kafka: InstanceType<typeof Kafka>
  idempotent: Producer
  transactional: Producer
  /** Milliseconds per transaction spent in each step, summed over the measured rounds (the breakdown). */
  steps: { begin: number; send: number; commit: number; transactions: number }
  /** Per request type: count and total round trip (kafkajs's REQUEST event: sent to answer received). */
  requests: Map<string, { count: number; ms: number }>
  recording: boolean
  produce: { idempotent: number[]; transactional: number[]; ratio: number[]; brokerCpuMsPerIdempotentSend: number[]; brokerCpuMsPerTransaction: number[] }
  consume: { readCommitted: number[]; readUncommitted: number[]; ratio: number[]; clientCpuMsReadCommitted: number[]; clientCpuMsReadUncommitted: number[]; brokerCpuMsReadCommitted: number[]; brokerCpuMsReadUncommitted: number[] }
  committed: number
  all: number
}

/** Broker CPU in ms (all threads), for per-call figures. */
const cpuMs = (pid: number): number => brokerCpuSeconds(pid) * 1000

interface RunFigures { recordsPerSec: number; brokerCpuMsPerCall: number }

async function idempotentRun(target: Target, topic: string): Promise<RunFigures> {
  const cpu = cpuMs(target.broker.child.pid!)
  const started = performance.now()
  for (let i = 0; i < TXNS; i++) await target.idempotent.send({ topic, acks: -1, messages: values })
  return { recordsPerSec: (TXNS * PER_TXN) / ((performance.now() - started) / 1000), brokerCpuMsPerCall: (cpuMs(target.broker.child.pid!) - cpu) / TXNS }
}

async function transactionalRun(target: Target, topic: string, measured: boolean): Promise<RunFigures> {
  const { steps } = target
  const cpu = cpuMs(target.broker.child.pid!)
  const started = performance.now()
  for (let i = 0; i < TXNS; i++) {
    const t0 = performance.now()
    const tx = await target.transactional.transaction()
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
  return { recordsPerSec: (TXNS * PER_TXN) / ((performance.now() - started) / 1000), brokerCpuMsPerCall: (cpuMs(target.broker.child.pid!) - cpu) / TXNS }
}

interface ConsumeFigures { recordsPerSec: number; clientCpuMs: number; brokerCpuMs: number }

/** Log records per second from the group join until `expected` records arrived, and the CPU both sides spent meanwhile. */
async function consumeRun(kafka: InstanceType<typeof Kafka>, brokerPid: number, topic: string, groupId: string, readUncommitted: boolean, expected: number, logRecords: number): Promise<ConsumeFigures> {
  const consumer = kafka.consumer({ groupId, readUncommitted, maxWaitTimeInMs: 100, maxBytesPerPartition: 4 << 20 })
  await consumer.connect()
  try {
    await consumer.subscribe({ topic, fromBeginning: true })
    let started = 0
    let seen = 0
    let bytes = 0
    let clientCpu = process.cpuUsage()
    let brokerCpu = 0
    consumer.on(consumer.events.GROUP_JOIN, () => {
      started = performance.now()
      clientCpu = process.cpuUsage()
      brokerCpu = cpuMs(brokerPid)
    })
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
    const client = process.cpuUsage(clientCpu)
    const broker = cpuMs(brokerPid) - brokerCpu
    if (seen !== expected || bytes !== expected * RECORD_BYTES) throw new Error(`${readUncommitted ? 'read_uncommitted' : 'read_committed'} saw ${seen} records, expected ${expected}`)
    return { recordsPerSec: logRecords / ((ended - started) / 1000), clientCpuMs: (client.user + client.system) / 1000, brokerCpuMs: broker }
  } finally {
    await consumer.disconnect()
  }
}

async function startTarget(label: string, bin: string, dataDir: string, nodeArgs: string[]): Promise<Target> {
  const broker = await serveBroker({ bin, dataDir, nodeArgs, flags: ['--flush', FLUSH, '--partitions', '1'], env: { RINGLOG_GROUP_INITIAL_REBALANCE_DELAY_MS: '0' } })
  const kafka = new Kafka({ clientId: 'txn-bench', brokers: [broker.address], logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: ['txb-idem', 'txb-txn', 'txb-consume'].map((topic) => ({ topic, numPartitions: 1 })) })
  await admin.disconnect()
  const target: Target = {
    label, bin, broker, kafka,
    idempotent: kafka.producer({ idempotent: true, maxInFlightRequests: 1 }),
    transactional: kafka.producer({ transactionalId: 'txn-bench', idempotent: true, maxInFlightRequests: 1 }),
    steps: { begin: 0, send: 0, commit: 0, transactions: 0 },
    requests: new Map(),
    recording: false,
    produce: { idempotent: [], transactional: [], ratio: [], brokerCpuMsPerIdempotentSend: [], brokerCpuMsPerTransaction: [] },
    consume: { readCommitted: [], readUncommitted: [], ratio: [], clientCpuMsReadCommitted: [], clientCpuMsReadUncommitted: [], brokerCpuMsReadCommitted: [], brokerCpuMsReadUncommitted: [] },
    committed: 0,
    all: 0,
  }
  for (const p of [target.idempotent, target.transactional]) {
    p.on(p.events.REQUEST, (e) => {
      if (!target.recording) return
      const name = `${p === target.transactional ? 'txn' : 'idem'} ${e.payload.apiName}`
      const entry = target.requests.get(name) ?? { count: 0, ms: 0 }
      entry.count++
      entry.ms += e.payload.duration
      target.requests.set(name, entry)
    })
  }
  await target.idempotent.connect()
  await target.transactional.connect()
  return target
}

/** One produce round against one build: the idempotent and the transactional run, their order alternating. */
async function produceRound(target: Target, round: number): Promise<void> {
  const txnFirst = round % 2 === 1
  target.recording = round > 0
  const a = txnFirst ? await transactionalRun(target, 'txb-txn', round > 0) : await idempotentRun(target, 'txb-idem')
  const b = txnFirst ? await idempotentRun(target, 'txb-idem') : await transactionalRun(target, 'txb-txn', round > 0)
  target.recording = false
  const [idem, txn] = txnFirst ? [b, a] : [a, b]
  if (round === 0) return
  target.produce.idempotent.push(idem.recordsPerSec)
  target.produce.transactional.push(txn.recordsPerSec)
  target.produce.ratio.push(txn.recordsPerSec / idem.recordsPerSec)
  target.produce.brokerCpuMsPerIdempotentSend.push(idem.brokerCpuMsPerCall)
  target.produce.brokerCpuMsPerTransaction.push(txn.brokerCpuMsPerCall)
}

/** The consume topic: CONSUME_TXNS transactions, every ABORT_EVERY'th aborted, the last one committed. */
async function writeConsumeTopic(target: Target): Promise<void> {
  for (let i = 0; i < CONSUME_TXNS; i++) {
    const tx = await target.transactional.transaction()
    await tx.send({ topic: 'txb-consume', acks: -1, messages: values })
    target.all += PER_TXN
    if (i % ABORT_EVERY === ABORT_EVERY - 1 && i !== CONSUME_TXNS - 1) {
      await tx.abort()
    } else {
      await tx.commit()
      target.committed += PER_TXN
    }
  }
}

/** One consume round against one build: read_committed and read_uncommitted, their order alternating. */
async function consumeRound(target: Target, round: number): Promise<void> {
  const { kafka, committed, all } = target
  const pid = target.broker.child.pid!
  const rc = async (): Promise<ConsumeFigures> => consumeRun(kafka, pid, 'txb-consume', `rc-${round}`, false, committed, all)
  const ru = async (): Promise<ConsumeFigures> => consumeRun(kafka, pid, 'txb-consume', `ru-${round}`, true, all, all)
  let rcRun: ConsumeFigures
  let ruRun: ConsumeFigures
  if (round % 2 === 1) { rcRun = await rc(); ruRun = await ru() } else { ruRun = await ru(); rcRun = await rc() }
  if (round === 0) return
  const c = target.consume
  c.readCommitted.push(rcRun.recordsPerSec)
  c.readUncommitted.push(ruRun.recordsPerSec)
  c.ratio.push(rcRun.recordsPerSec / ruRun.recordsPerSec)
  c.clientCpuMsReadCommitted.push(rcRun.clientCpuMs)
  c.clientCpuMsReadUncommitted.push(ruRun.clientCpuMs)
  c.brokerCpuMsReadCommitted.push(rcRun.brokerCpuMs)
  c.brokerCpuMsReadUncommitted.push(ruRun.brokerCpuMs)
}

function summary(target: Target): Record<string, unknown> {
  const { produce, consume, steps } = target
  return {
    build: target.label, bin: target.bin,
    produce: {
      idempotentRecordsPerSec: median(produce.idempotent), transactionalRecordsPerSec: median(produce.transactional),
      ratioMedian: median(produce.ratio), target: 0.7, rounds: produce,
      // The broker's CPU (all threads) per idempotent send and per transaction of the same records.
      brokerCpuMsPerIdempotentSend: median(produce.brokerCpuMsPerIdempotentSend), brokerCpuMsPerTransaction: median(produce.brokerCpuMsPerTransaction),
      // Where a transaction's time goes: mean ms per transaction in each step, and per request type
      // the mean round trip and count per transaction (idempotent: per send of the same records).
      msPerTransaction: { begin: steps.begin / steps.transactions, send: steps.send / steps.transactions, commit: steps.commit / steps.transactions },
      requests: Object.fromEntries([...target.requests].map(([name, r]) => [name, { perTransaction: r.count / (RUNS * TXNS), meanMs: r.ms / r.count }])),
    },
    consume: {
      logRecords: target.all, committedRecords: target.committed,
      readCommittedLogRecordsPerSec: median(consume.readCommitted), readUncommittedLogRecordsPerSec: median(consume.readUncommitted),
      ratioMedian: median(consume.ratio), target: 0.9, rounds: consume,
      // CPU per consume run (the whole log): this process (kafkajs) and the broker, medians.
      clientCpuMs: { readCommitted: median(consume.clientCpuMsReadCommitted), readUncommitted: median(consume.clientCpuMsReadUncommitted) },
      brokerCpuMs: { readCommitted: median(consume.brokerCpuMsReadCommitted), readUncommitted: median(consume.brokerCpuMsReadUncommitted) },
    },
  }
}

const root = mkdtempSync(join(tmpdir(), 'ringlog-bench-transactions-'))
const targets: Target[] = []
const loadBefore = loadavg()
try {
  targets.push(await startTarget('this build', THIS_BIN, join(root, 'this'), CPU_PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF_DIR] : []))
  if (BASELINE_BIN) targets.push(await startTarget('baseline build', BASELINE_BIN, join(root, 'baseline'), []))
  // Builds in alternating order every round, so drift in the machine's load hits both alike.
  const inOrder = (round: number): Target[] => (round % 2 === 0 ? targets : [...targets].reverse())
  if (ONLY !== 'consume') for (let round = 0; round <= RUNS; round++) for (const t of inOrder(round)) await produceRound(t, round)
  if (ONLY !== 'produce') for (const t of targets) await writeConsumeTopic(t)
  for (const t of targets) {
    await t.idempotent.disconnect()
    await t.transactional.disconnect()
  }
  if (ONLY !== 'produce') for (let round = 0; round <= RUNS; round++) for (const t of inOrder(round)) await consumeRound(t, round)

  const loadAfter = loadavg()
  const builds = targets.map(summary)
  const report = {
    bench: 'transactions', client: 'kafkajs 2.2 over 127.0.0.1', flush: FLUSH, runs: RUNS, recordBytes: RECORD_BYTES,
    transactions: TXNS, recordsPerTransaction: PER_TXN, consumeTransactions: CONSUME_TXNS, abortEvery: ABORT_EVERY,
    builds,
    loadavg: { before: loadBefore, after: loadAfter },
  }
  const k = (n: number): string => `${(n / 1000).toFixed(1)} k/s`
  console.log(`transactions bench (kafkajs over 127.0.0.1, flush ${FLUSH}, ${RUNS} rounds, loadavg ${loadBefore.map((l) => l.toFixed(2)).join(' ')} -> ${loadAfter.map((l) => l.toFixed(2)).join(' ')})`)
  console.log('| build | row | median | baseline row (same rounds) | median of per-round ratios | target |')
  console.log('|---|---|---|---|---|---|')
  for (const t of targets) {
    const p = t.produce
    const c = t.consume
    if (ONLY !== 'consume') console.log(`| ${t.label} | transactional producer, ${PER_TXN} records/txn | ${k(median(p.transactional))} | idempotent ${k(median(p.idempotent))} | ${median(p.ratio).toFixed(2)} | >= 0.7 |`)
    if (ONLY !== 'produce') console.log(`| ${t.label} | read_committed consume (log records/s) | ${k(median(c.readCommitted))} | read_uncommitted ${k(median(c.readUncommitted))} | ${median(c.ratio).toFixed(2)} | >= 0.9 |`)
  }
  for (const t of targets) {
    const { steps } = t
    const c = t.consume
    if (ONLY !== 'consume') {
      console.log(`${t.label}, broker CPU (all threads, medians): ${median(t.produce.brokerCpuMsPerTransaction).toFixed(2)} ms per transaction, ${median(t.produce.brokerCpuMsPerIdempotentSend).toFixed(2)} ms per idempotent send`)
      console.log(`${t.label}, per transaction: begin ${(steps.begin / steps.transactions).toFixed(2)} ms, send ${(steps.send / steps.transactions).toFixed(2)} ms, commit ${(steps.commit / steps.transactions).toFixed(2)} ms; requests ${[...t.requests].map(([n, r]) => `${n} ${(r.count / (RUNS * TXNS)).toFixed(2)}x ${(r.ms / r.count).toFixed(2)} ms`).join(', ')}`)
    }
    if (ONLY !== 'produce') console.log(`${t.label}, CPU per consume of the log (medians): client ${median(c.clientCpuMsReadCommitted).toFixed(0)} ms read_committed, ${median(c.clientCpuMsReadUncommitted).toFixed(0)} ms read_uncommitted; broker ${median(c.brokerCpuMsReadCommitted).toFixed(0)} ms, ${median(c.brokerCpuMsReadUncommitted).toFixed(0)} ms`)
  }

  const json = JSON.stringify(report, null, 2)
  console.log(json)
  if (args.json) writeFileSync(args.json, `${json}\n`)
} finally {
  for (const t of targets) {
    if (t.broker.child.exitCode === null && t.broker.child.signalCode === null) t.broker.child.kill('SIGTERM')
    await t.broker.exited
  }
  rmSync(root, { recursive: true, force: true })
}
