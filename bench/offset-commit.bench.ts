/**
 * OffsetCommit latency: one group commits offsets for 100 partitions at a time (one request,
 * one batch of 100 records in `__consumer_offsets`), one request after another, against
 * (a) a 3-broker cluster with the offsets topic at RF 3 (acks=all over the ISR, min ISR 2) and
 * (b) one broker in single-node mode (RF 1) as the baseline, alternately in the same run.
 * On the single broker every commit waits for an fdatasync (its offsets topic, RF 1, sets
 * flush.messages=1); at RF 3 the offsets topic follows each broker's --flush, as in Kafka.
 *
 * With `--baseline-bin <other checkout>/bin/ringlog.js` a second 3-broker cluster runs that
 * build (built there with `npm run build`), measured in turn with this one in every run: a
 * same-run A/B of two builds on a loaded machine (p50/p99 ratios of the medians are printed),
 * each with its own single broker as the noise reference; the order alternates between runs.
 * `--broker-node-args="--flag ..."` passes node/V8 flags to this build's brokers (GC experiments).
 *
 * Run (after `npm run build`; needs /usr/bin/etcd):
 *   npx tsx bench/offset-commit.bench.ts [--runs 3] [--commits 500] [--partitions 100] [--baseline-bin PATH]
 *     [--flush never|always (every broker's --flush; default never)] [--broker-node-args="..."]
 *     [--warmup N (commits before each run's measured ones; default 20)]
 * Prints p50/p99/max per setup and run, the medians over runs, and p50/p99 of every measured
 * commit of a setup pooled over its runs (the first run's cold tail included).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHistogram, performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { DevCluster } from '../src/cluster/dev-cluster.js'
import { ApiKey, type KafkaWireClient } from '../src/kafka-client/kafka-wire-client.js'
import { connectNegotiated } from '../src/kafka-client/negotiated-client.js'
import { median } from '../src/bench/stats.js'
import { freeLoopbackPort } from '../src/cluster/etcd-process.js'

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, commits: { type: 'string', default: '500' }, partitions: { type: 'string', default: '100' }, 'baseline-bin': { type: 'string', default: '' }, flush: { type: 'string', default: 'never' }, 'broker-node-args': { type: 'string', default: '' }, warmup: { type: 'string', default: '20' } } })
const RUNS = Number(values.runs)
const COMMITS = Number(values.commits)
const PARTITIONS = Number(values.partitions)
const WARMUP = Number(values.warmup)
const TOPIC = 'commit-bench'
const GROUP = 'commit-bench-group'

interface Row { setup: string; run: number; p50: number; p99: number; max: number; errors: number }
/** Every measured commit of a setup, over all its runs. */
const pooled = new Map<string, ReturnType<typeof createHistogram>>()

async function createTopic(client: KafkaWireClient, replicationFactor: number): Promise<void> {
  const response = await client.request(ApiKey.CreateTopics, client.version(ApiKey.CreateTopics), {
    topics: [{ name: TOPIC, numPartitions: PARTITIONS, replicationFactor, assignments: [], configs: [] }], timeoutMs: 30_000, validateOnly: false,
  })
  const code = response.topics[0]?.errorCode ?? -1
  if (code !== 0 && code !== 36) throw new Error(`CreateTopics failed: ${code}`)
}

/** The coordinator's address, once FindCoordinator names one (bounded). */
async function coordinator(bootstrap: string): Promise<string> {
  const client = await connectNegotiated(bootstrap)
  try {
    for (let attempt = 0; attempt < 200; attempt++) {
      const answer = await client.request(ApiKey.FindCoordinator, 3, { key: GROUP, keyType: 0 })
      if (answer.errorCode === 0) return `${answer.host}:${answer.port}`
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  } finally {
    await client.close()
  }
  throw new Error('no coordinator within 20 s')
}

async function measure(bootstrap: string, setup: string, run: number): Promise<Row> {
  const client = await connectNegotiated(await coordinator(bootstrap))
  const version = client.version(ApiKey.OffsetCommit, { max: 7 })
  const latencies = createHistogram()
  let errors = 0
  const commit = async (offset: number): Promise<boolean> => {
    const response = await client.request(ApiKey.OffsetCommit, version, {
      groupId: GROUP, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1,
      topics: [{ name: TOPIC, partitions: Array.from({ length: PARTITIONS }, (_, p) => ({ partitionIndex: p, committedOffset: offset, committedLeaderEpoch: -1, commitTimestamp: -1, committedMetadata: '' })) }],
    })
    return response.topics.every((t) => t.partitions.every((p) => p.errorCode === 0))
  }
  try {
    // Warm-up: until the offsets partition is led, loaded and its ISR full enough, then WARMUP more.
    for (let attempt = 0; !(await commit(0)); attempt++) {
      if (attempt > 300) throw new Error(`${setup}: no commit succeeded within 30 s`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    for (let i = 0; i < WARMUP; i++) await commit(i)
    for (let i = 0; i < COMMITS; i++) {
      const started = performance.now()
      const ok = await commit(i)
      const elapsed = performance.now() - started
      if (!ok) errors++
      else latencies.record(Math.max(1, Math.round(elapsed * 1e6)))
    }
  } finally {
    await client.close()
  }
  const all = pooled.get(setup) ?? createHistogram()
  all.add(latencies)
  pooled.set(setup, all)
  const ms = (q: number): number => latencies.percentile(q) / 1e6
  return { setup, run, p50: ms(50), p99: ms(99), max: latencies.max / 1e6, errors }
}

const root = mkdtempSync(join(tmpdir(), 'ringlog-offset-commit-bench-'))
const rows: Row[] = []
const CLUSTER_ARGS = ['--min-insync-replicas', '2', '--flush', values.flush]
const NODE_ARGS = values['broker-node-args'].split(' ').filter((a) => a !== '')
const cluster = await DevCluster.start({ brokers: 3, dataDir: join(root, 'cluster'), serveArgs: CLUSTER_ARGS, nodeArgs: NODE_ARGS })
const BASELINE_BIN = values['baseline-bin']
const baseline = BASELINE_BIN ? await DevCluster.start({ brokers: 3, dataDir: join(root, 'baseline'), serveArgs: CLUSTER_ARGS, bin: BASELINE_BIN, clusterName: 'baseline' }) : undefined
const { spawn } = await import('node:child_process')
/** One single-node broker of a build (its bin/ringlog.js): the noise reference of that build. */
async function startSingle(bin: string, dir: string, nodeArgs: readonly string[]): Promise<{ bootstrap: string; child: ReturnType<typeof spawn> }> {
  const port = await freeLoopbackPort()
  const child = spawn(process.execPath, [...nodeArgs, bin, 'serve', '--host', '127.0.0.1', '--port', String(port), '--data-dir', join(root, dir), '--flush', values.flush, '--log-level', 'warn'], { stdio: 'ignore' })
  const bootstrap = `127.0.0.1:${port}`
  for (let attempt = 0; ; attempt++) {
    try { await (await connectNegotiated(bootstrap)).close(); break } catch (error) { if (attempt > 100) throw error; await new Promise((r) => setTimeout(r, 100)) }
  }
  const client = await connectNegotiated(bootstrap)
  await createTopic(client, 1)
  await client.close()
  return { bootstrap, child }
}
const loads: number[] = []
const singles: { setup: string; bootstrap: string; child: ReturnType<typeof spawn> }[] = []
try {
  singles.push({ setup: '1 broker, RF 1', ...await startSingle('bin/ringlog.js', 'single', NODE_ARGS) })
  if (BASELINE_BIN) singles.push({ setup: 'baseline 1 broker', ...await startSingle(BASELINE_BIN, 'baseline-single', []) })
  const clusterClient = await connectNegotiated(cluster.bootstrap[0])
  await createTopic(clusterClient, 3)
  await clusterClient.close()
  if (baseline) {
    const baselineClient = await connectNegotiated(baseline.bootstrap[0])
    await createTopic(baselineClient, 3)
    await baselineClient.close()
  }
  for (let run = 1; run <= RUNS; run++) {
    // Alternating order, so neither build always runs first in a round.
    const clusters = [{ setup: '3 brokers, RF 3', bootstrap: cluster.bootstrap[0] }, ...(baseline ? [{ setup: 'baseline RF 3', bootstrap: baseline.bootstrap[0] }] : [])]
    if (run % 2 === 0) clusters.reverse()
    for (const c of clusters) rows.push(await measure(c.bootstrap, c.setup, run))
    for (const s of run % 2 === 0 ? [...singles].reverse() : singles) rows.push(await measure(s.bootstrap, s.setup, run))
    loads.push(loadavg()[0])
  }
} finally {
  await cluster.stop()
  await baseline?.stop()
  for (const s of singles) s.child.kill('SIGKILL')
  rmSync(root, { recursive: true, force: true })
}
console.log(`OffsetCommit of ${PARTITIONS} partitions, ${COMMITS} sequential commits per run after ${WARMUP} warm-up ones, --flush ${values.flush}, latency in ms`)
console.log(`1-minute load average after each run: ${loads.map((l) => l.toFixed(1)).join(', ')}`)
for (const r of rows) console.log(`${r.setup.padEnd(16)} run ${r.run}: p50 ${r.p50.toFixed(2)}  p99 ${r.p99.toFixed(2)}  max ${r.max.toFixed(2)}  errors ${r.errors}`)
for (const setup of new Set(rows.map((r) => r.setup))) {
  const mine = rows.filter((r) => r.setup === setup)
  console.log(`${setup.padEnd(16)} median over runs: p50 ${median(mine.map((r) => r.p50)).toFixed(2)}  p99 ${median(mine.map((r) => r.p99)).toFixed(2)}`)
}
for (const [setup, all] of pooled) console.log(`${setup.padEnd(16)} all ${all.count} commits pooled: p50 ${(all.percentile(50) / 1e6).toFixed(2)}  p99 ${(all.percentile(99) / 1e6).toFixed(2)}  max ${(all.max / 1e6).toFixed(2)}`)
if (baseline) {
  const of = (setup: string, q: 'p50' | 'p99'): number => median(rows.filter((r) => r.setup === setup).map((r) => r[q]))
  console.log(`this build / baseline build (RF 3, medians over runs): p50 ${(of('3 brokers, RF 3', 'p50') / of('baseline RF 3', 'p50')).toFixed(2)}  p99 ${(of('3 brokers, RF 3', 'p99') / of('baseline RF 3', 'p99')).toFixed(2)}; single broker p99 this / baseline ${(of('1 broker, RF 1', 'p99') / of('baseline 1 broker', 'p99')).toFixed(2)}`)
}
