/**
 * Broker CPU per Fetch for a consumer of 100 partitions that is caught up (the steady state of
 * a consumer group member at the log end), with and without fetch sessions (KIP-227):
 *   off  every Fetch v12 names all 100 partitions (sessionId 0, epoch -1), every answer lists all 100
 *   on   one full fetch opens a session; then every Fetch is incremental: it names nothing and
 *        the answer lists nothing (no partition changed)
 *   floor a sessionless Fetch naming no partition: the per-request cost (socket, framing,
 *        dispatch) that no session can remove
 * The broker is `ringlog serve` in a child process (compiled CLI); its CPU is utime+stime from
 * /proc/<pid>/stat over each phase, divided by the fetches sent. Phases alternate off/on in one
 * run against one broker; medians of --runs rounds and the on/off ratio are reported.
 *
 *   npm run build && npx tsx bench/fetch-sessions.bench.ts [--runs 5] [--fetches 5000] [--partitions 100]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { processCpuSeconds } from '../src/bench/process-cpu.js'
import { KafkaWireClient } from '../src/kafka-client/kafka-wire-client.js'
import { ZERO_UUID } from '../src/protocol/primitives.js'
import { startRinglogBroker } from '../test/cli/ringlog-process.js'

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    fetches: { type: 'string', default: '5000' },
    partitions: { type: 'string', default: '100' },
  },
})
const RUNS = Number(args.runs)
const FETCHES = Number(args.fetches)
const PARTITIONS = Number(args.partitions)
const TOPIC = 'fetch-sessions-bench'
const FETCH_VERSION = 12

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

function fetchBody(sessionId: number, sessionEpoch: number, named: number) {
  return {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 50 << 20, isolationLevel: 0, sessionId, sessionEpoch,
    topics: named === 0 ? [] : [{
      topic: TOPIC, topicId: ZERO_UUID,
      partitions: Array.from({ length: named }, (_, partition) => ({ partition, fetchOffset: 0, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, lastFetchedEpoch: -1, logStartOffset: -1 })),
    }],
    forgottenTopicsData: [], rackId: '',
  }
}

/** Broker CPU seconds per fetch over `FETCHES` fetches made by `one`. */
async function phase(pid: number, one: () => Promise<void>): Promise<number> {
  const before = processCpuSeconds(pid)!
  for (let i = 0; i < FETCHES; i++) await one()
  return (processCpuSeconds(pid)! - before) / FETCHES
}

const dataDir = mkdtempSync(join(tmpdir(), 'ringlog-fetch-sessions-bench-'))
const broker = await startRinglogBroker(['--data-dir', dataDir, '--flush', 'never', '--max-workers', '1'])
const client = await KafkaWireClient.connect('127.0.0.1', broker.port, { clientId: 'fetch-sessions-bench' })
try {
  await client.request(19, 4, { topics: [{ name: TOPIC, numPartitions: PARTITIONS, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 30_000, validateOnly: false })
  const off: number[] = []
  const on: number[] = []
  const floor: number[] = []
  // Round 0 warms the JIT on both paths and is not counted.
  for (let run = 0; run <= RUNS; run++) {
    const record = run > 0
    const offCpu = await phase(broker.pid, async () => {
      const r = await client.request(1, FETCH_VERSION, fetchBody(0, -1, PARTITIONS))
      if (r.responses[0]?.partitions.length !== PARTITIONS) throw new Error('a full fetch must answer every partition')
    })
    if (record) off.push(offCpu)
    const opened = await client.request(1, FETCH_VERSION, fetchBody(0, 0, PARTITIONS))
    if (opened.sessionId === 0) throw new Error('no session opened')
    let epoch = 1
    const onCpu = await phase(broker.pid, async () => {
      const r = await client.request(1, FETCH_VERSION, fetchBody(opened.sessionId, epoch++, 0))
      if (r.errorCode !== 0 || r.responses.length !== 0) throw new Error(`incremental fetch answered ${r.errorCode} with ${r.responses.length} topics`)
    })
    if (record) on.push(onCpu)
    const floorCpu = await phase(broker.pid, async () => {
      await client.request(1, FETCH_VERSION, fetchBody(0, -1, 0))
    })
    if (record) floor.push(floorCpu)
  }
  const result = {
    partitions: PARTITIONS, fetches: FETCHES, runs: RUNS,
    brokerCpuMicrosPerFetch: { off: median(off) * 1e6, on: median(on) * 1e6, floor: median(floor) * 1e6 },
    ratioOnToOff: median(on) / median(off),
    rounds: { off: off.map((s) => Math.round(s * 1e7) / 10), on: on.map((s) => Math.round(s * 1e7) / 10), floor: floor.map((s) => Math.round(s * 1e7) / 10) },
  }
  console.log(JSON.stringify(result, null, 2))
} finally {
  await client.close()
  await broker.stop()
  rmSync(dataDir, { recursive: true, force: true })
}
