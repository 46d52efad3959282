/**
 * What metrics add on the produce hot path, measured in-process so a loaded machine cannot swamp
 * it: the broker's per-request observer (BrokerObserver.requestDone) for a Produce request of one
 * 16 KiB batch and its response, with metrics (counter, latency buckets, error walk, bytes per
 * partition) and without (what a broker without --metrics-port runs). Prints the CPU nanoseconds
 * per request of each (process.cpuUsage over `--iterations` calls, median of `--runs`) and their
 * difference; compare that with the broker's CPU per Produce request (CPU-s per million records
 * from bench/metrics-cost.bench.ts times records per batch) for the share metrics cost.
 *
 *   npx tsx bench/micro/metrics-observer.bench.ts [--runs 7] [--iterations 200000]
 */
import { parseArgs } from 'node:util'
import { BrokerObserver } from '../../src/broker/broker-observer.js'
import { silentLogger } from '../../src/broker/logger.js'
import type { RequestOutcome } from '../../src/broker/request-observer.js'
import { RinglogMetrics } from '../../src/metrics/ringlog-metrics.js'

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' }, iterations: { type: 'string', default: '200000' } } })
const RUNS = Number(values.runs)
const ITERATIONS = Number(values.iterations)

// Nothing is scraped here, so the scrape-time sources are never read.
const metrics = new RinglogMetrics({ engine: { offsets: () => undefined, stats: async () => { throw new Error('not scraped') } }, topics: { list: () => [] } }, { processMetrics: false })
const withMetrics = new BrokerObserver(silentLogger, metrics)
const without = new BrokerObserver(silentLogger)

const outcome: RequestOutcome = {
  connection: { id: 1, remoteAddress: '127.0.0.1', remotePort: 40000, advertisedHost: '127.0.0.1', advertisedPort: 9092 },
  header: { apiKey: 0, apiVersion: 9, correlationId: 1, clientId: 'bench' },
  api: 'Produce',
  request: { transactionalId: null, acks: -1, timeoutMs: 30000, topicData: [{ name: 'bench', partitionData: [{ index: 0, records: Buffer.alloc(16 * 1024) }] }] },
  reply: {
    kind: 'message',
    message: { responses: [{ name: 'bench', partitionResponses: [{ index: 0, errorCode: 0, baseOffset: 0, logAppendTimeMs: -1, logStartOffset: 0, recordErrors: [], errorMessage: null }] }], throttleTimeMs: 0 },
  },
  startedNs: process.hrtime.bigint(),
} as unknown as RequestOutcome

function cpuNsPerCall(observer: BrokerObserver): number {
  const before = process.cpuUsage()
  for (let i = 0; i < ITERATIONS; i++) {
    outcome.startedNs = process.hrtime.bigint()
    observer.requestDone(outcome)
  }
  const used = process.cpuUsage(before)
  return ((used.user + used.system) * 1000) / ITERATIONS
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

cpuNsPerCall(without)
cpuNsPerCall(withMetrics)
const on: number[] = []
const off: number[] = []
for (let r = 0; r < RUNS; r++) {
  // Alternating, so drift hits both alike.
  if (r % 2 === 0) { off.push(cpuNsPerCall(without)); on.push(cpuNsPerCall(withMetrics)) }
  else { on.push(cpuNsPerCall(withMetrics)); off.push(cpuNsPerCall(without)) }
  console.log(`run ${r + 1}: without metrics ${off[r].toFixed(0)} ns, with metrics ${on[r].toFixed(0)} ns CPU per Produce request`)
}
const pairs = on.map((x, i) => x - off[i])
console.log(`median of ${RUNS}: without ${median(off).toFixed(0)} ns, with ${median(on).toFixed(0)} ns; metrics add ${median(pairs).toFixed(0)} ns CPU per Produce request (median of pairwise differences)`)
