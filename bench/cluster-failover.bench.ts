/**
 * Cluster figures (issue 13) on a private dev cluster (src/cluster/dev-cluster.ts: etcd + 3
 * `ringlog serve --etcd` processes, lease TTL 2 s as in the cluster tests), RF 3, min.insync 2:
 * - failover: kill -9 of a partition's leader to the first acks=all produce acknowledged by its
 *   successor (a raw Produce v9 tried against each survivor until one accepts), per round;
 * - controlled shutdown: SIGTERM of the leader to Metadata naming another leader;
 * - catch-up: a follower killed, a backlog produced without it (acks=1: only the leader must hold it), the
 *   follower started again; its partition directory's bytes over the time from its restart
 *   (start-up included) until it holds as many bytes as the leader's. Each round runs on a fresh
 *   cluster, once with the default (Kafka's) replica fetch sizes, the baseline, and once with 8 MiB ones.
 * Prints every sample, the medians, the larger/baseline ratio and one JSON line.
 *
 *   npm run build && npx tsx bench/cluster-failover.bench.ts [--rounds 5] [--backlog-mib 256]
 *     [--only catch-up] [--catch-up-rounds 3] [--cpu-prof-dir DIR (profiles of every broker)]
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHistogram } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { buildBatchTemplates } from '../src/bench/loadgen/batch-templates.js'
import { LoadgenCluster, LoadProducer } from '../src/bench/loadgen/index.js'
import { DevCluster } from '../src/cluster/dev-cluster.js'
import { ApiKey } from '../src/kafka-client/kafka-wire-client.js'
import { withWireClient } from '../src/kafka-client/negotiated-client.js'
import { ZERO_UUID } from '../src/protocol/primitives.js'

const { values } = parseArgs({ options: {
  rounds: { type: 'string', default: '5' }, 'backlog-mib': { type: 'string', default: '256' },
  only: { type: 'string', default: '' }, 'catch-up-rounds': { type: 'string', default: '3' }, 'cpu-prof-dir': { type: 'string', default: '' },
} })
const ONLY = values.only
const ROUNDS = Number(values.rounds)
const CATCH_UP_ROUNDS = Number(values['catch-up-rounds'])
const BACKLOG_BYTES = Number(values['backlog-mib']) * 1024 * 1024
const TOPIC = 'failover'
const SERVE = ['--lease-ttl-seconds', '2', '--replica-lag-time-max-ms', '10000', '--flush', 'never']

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function metadataOf(address: string, topic: string): Promise<{ leader: number; isr: number[] } | undefined> {
  return withWireClient(address, async (client) => {
    const r = await client.request(ApiKey.Metadata, 9, {
      topics: [{ name: topic, topicId: ZERO_UUID }], allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false,
    })
    const p = r.topics[0]?.partitions[0]
    return p && { leader: p.leaderId, isr: [...p.isrNodes] }
  }, { connectTimeoutMs: 2_000, requestTimeoutMs: 2_000 }).catch(() => undefined)
}

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 60_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const v = await probe().catch(() => undefined)
    if (v !== undefined) return v
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
  throw new Error(`timed out: ${what}`)
}

/** One acks=all Produce v9 of a small batch to `address`: true when acknowledged without error. */
async function produceOnce(address: string, batch: Buffer): Promise<boolean> {
  return withWireClient(address, async (client) => {
    const r = await client.request(ApiKey.Produce, 9, {
      transactionalId: null, acks: -1, timeoutMs: 5_000,
      topicData: [{ name: TOPIC, partitionData: [{ index: 0, records: batch }] }],
    })
    return r.responses[0].partitionResponses[0].errorCode === 0
  }, { connectTimeoutMs: 1_000, requestTimeoutMs: 6_000 }).catch(() => false)
}

function dirBytes(dir: string): number {
  let total = 0
  if (!existsSync(dir)) return 0 // a follower killed before it opened the partition
  for (const name of readdirSync(dir)) if (name.endsWith('.log')) total += statSync(join(dir, name)).size
  return total
}

const root = mkdtempSync(join(tmpdir(), 'ringlog-cluster-figures-'))
const cluster = ONLY === 'catch-up' ? undefined : await DevCluster.start({ brokers: 3, dataDir: root, serveArgs: SERVE })
if (cluster) try {
  const addressOf = (id: number): string => cluster.bootstrap[id - 1]
  const anyAlive = (): string => addressOf(cluster.brokers.find((b) => b.alive)!.id)
  const loadgen = await LoadgenCluster.connect(cluster.bootstrap[0])
  await loadgen.ensureTopic(TOPIC, { partitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } })
  await loadgen.close()
  const batchBytes = buildBatchTemplates({ recordSize: 100, batchBytes: 1000, compression: 'none', templates: 1 })[0].batch
  const fullIsr = (): Promise<true> => until(async () => ((await metadataOf(anyAlive(), TOPIC))?.isr.length === 3 ? true : undefined), 'full ISR', 60_000, 100)

  const failovers: number[] = []
  for (let round = 0; round < (ONLY === 'catch-up' ? 0 : ROUNDS); round++) {
    await fullIsr()
    const { leader } = (await metadataOf(anyAlive(), TOPIC))!
    const survivors = cluster.brokers.filter((b) => b.id !== leader).map((b) => addressOf(b.id))
    const t0 = performance.now()
    await cluster.killBroker(leader)
    await until(async () => {
      for (const address of survivors) if (await produceOnce(address, batchBytes)) return true
      return undefined
    }, 'a survivor acknowledges acks=all', 60_000, 10)
    failovers.push(performance.now() - t0)
    console.log(`failover ${round + 1}: ${failovers.at(-1)!.toFixed(0)} ms (leader ${leader} killed)`)
    await cluster.restartBroker(leader)
  }

  const handoffs: number[] = []
  for (let round = 0; round < (ONLY === 'catch-up' ? 0 : ROUNDS); round++) {
    await fullIsr()
    const { leader } = (await metadataOf(anyAlive(), TOPIC))!
    const other = addressOf(cluster.brokers.find((b) => b.id !== leader)!.id)
    const t0 = performance.now()
    const stopping = cluster.stopBroker(leader)
    await until(async () => {
      const m = await metadataOf(other, TOPIC)
      return m && m.leader >= 0 && m.leader !== leader ? true : undefined
    }, 'leadership moved', 30_000, 5)
    handoffs.push(performance.now() - t0)
    await stopping
    console.log(`controlled shutdown ${round + 1}: leadership moved in ${handoffs.at(-1)!.toFixed(0)} ms`)
    await cluster.restartBroker(leader)
  }

  if (failovers.length > 0) console.log(`median failover (kill -9 to first acks=all ack on the successor, lease TTL 2 s): ${median(failovers).toFixed(0)} ms over ${failovers.length}`)
  if (handoffs.length > 0) console.log(`median controlled-shutdown handoff: ${median(handoffs).toFixed(0)} ms over ${handoffs.length}`)
} finally {
  await cluster.stop()
}
rmSync(root, { recursive: true, force: true })

// Catch-up: the defaults (Kafka's replica fetch sizes, 1 MiB a partition, 10 MiB a response) as the
// baseline against 8 MiB / 32 MiB fetches, alternating on fresh clusters in the same run.
const VARIANTS: { name: string; args: string[] }[] = [
  { name: 'baseline (defaults): 1 MiB/partition, 10 MiB/response', args: [] },
  { name: 'larger: 8 MiB/partition, 32 MiB/response', args: ['--replica-fetch-max-bytes', String(8 * 2 ** 20), '--replica-fetch-response-max-bytes', String(32 * 2 ** 20)] },
]
const samples = VARIANTS.map(() => ({ total: [] as number[], listening: [] as number[] }))
if (ONLY === '' || ONLY === 'catch-up') {
  for (let round = 0; round < CATCH_UP_ROUNDS; round++) {
    for (const [v, variant] of VARIANTS.entries()) {
      const figure = await catchUpOnce(variant.args)
      samples[v].total.push(figure.total)
      samples[v].listening.push(figure.listening)
      console.log(`catch-up ${round + 1} ${variant.name}: ${figure.mib.toFixed(0)} MiB, ${figure.total.toFixed(0)} MiB/s from the restart (start-up included), ${figure.listening.toFixed(0)} MiB/s from "listening"`)
    }
  }
  const rows = VARIANTS.map((variant, v) => ({ variant: variant.name, medianMiBps: median(samples[v].total), medianFromListeningMiBps: median(samples[v].listening), runs: samples[v].total.length }))
  console.table(rows)
  console.log(`ratio larger/baseline (medians from "listening"): ${(rows[1].medianFromListeningMiBps / rows[0].medianFromListeningMiBps).toFixed(2)}`)
  console.log(JSON.stringify({ bench: 'cluster-catch-up', backlogMiB: BACKLOG_BYTES / 2 ** 20, rows }))
}

/** One catch-up on a fresh cluster whose brokers get `extraArgs`: MiB/s from the restart and from "listening". */
async function catchUpOnce(extraArgs: string[]): Promise<{ mib: number; total: number; listening: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'ringlog-cluster-catch-up-'))
  const c = await DevCluster.start({ brokers: 3, dataDir: dir, serveArgs: [...SERVE, ...extraArgs],
    nodeArgs: values['cpu-prof-dir'] ? ['--cpu-prof', '--cpu-prof-dir', values['cpu-prof-dir']] : [] })
  try {
    const addressOf = (id: number): string => c.bootstrap[id - 1]
    const anyAlive = (): string => addressOf(c.brokers.find((b) => b.alive)!.id)
    const setup = await LoadgenCluster.connect(c.bootstrap[0])
    await setup.ensureTopic(TOPIC, { partitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } })
    await setup.close()
    await until(async () => ((await metadataOf(anyAlive(), TOPIC))?.isr.length === 3 ? true : undefined), 'full ISR', 60_000, 100)
    const { leader } = (await metadataOf(anyAlive(), TOPIC))!
    const follower = c.brokers.find((b) => b.id !== leader)!
    await c.killBroker(follower.id)
    const leaderDir = join(c.brokers.find((b) => b.id === leader)!.dataDir, `${TOPIC}-0`)
    const followerDir = join(follower.dataDir, `${TOPIC}-0`)
    const load = await LoadgenCluster.connect(addressOf(leader))
    const producer = await LoadProducer.create(load, { topic: TOPIC, partitions: 1, acks: 1, compression: 'none', recordSize: 16 * 1024, batchBytes: 256 * 1024, createTopic: false })
    let bytes = 0
    await producer.run({ shouldContinue: () => bytes < BACKLOG_BYTES, progress: (_, b) => { bytes += b }, latency: createHistogram() })
    await load.close()
    const target = dirBytes(leaderDir)
    const backlog = target - dirBytes(followerDir)
    const t0 = performance.now()
    await c.restartBroker(follower.id)
    const listening = performance.now()
    const atListening = dirBytes(followerDir)
    await until(async () => (dirBytes(followerDir) >= target ? true : undefined), 'follower caught up', 10 * 60_000, 20)
    const done = performance.now()
    const mib = backlog / 2 ** 20
    return { mib, total: mib / ((done - t0) / 1000), listening: (target - atListening) / 2 ** 20 / ((done - listening) / 1000) }
  } finally {
    await c.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}
