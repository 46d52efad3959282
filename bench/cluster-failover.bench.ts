/**
 * Cluster figures (issue 13) on a private dev cluster (src/cluster/dev-cluster.ts: etcd + 3
 * `ringlog serve --etcd` processes, lease TTL 2 s as in the cluster tests), RF 3, min.insync 2:
 * - failover: kill -9 of a partition's leader to the first acks=all produce acknowledged by its
 *   successor (a raw Produce v9 tried against each survivor until one accepts), per round;
 * - controlled shutdown: SIGTERM of the leader to Metadata naming another leader;
 * - catch-up: a follower killed, a backlog produced without it (acks=1: only the leader must hold it), the
 *   other follower let finish fetching it, the follower started again; its partition directory's bytes over the time from its restart
 *   (start-up included) until it holds as many bytes as the leader's. Each round runs on a fresh
 *   cluster, once with the default (Kafka's) replica fetch sizes, the baseline, and once with 8 MiB ones.
 * - group rebalance after a coordinator failover (issue 14): three kafkajs consumers of one group
 *   (session 6 s, heartbeat 500 ms, rebalance timeout 10 s, as test/cluster/fixtures/
 *   group-failover-scenario.ts) read a 6-partition RF 3 topic a producer keeps writing to; the
 *   group's coordinator is killed -9 and started again at once (as in that scenario); the
 *   figure is kill to the moment every member has
 *   heartbeated successfully (post-kill) in the generation the group settles on, with a timeline
 *   of where the time went (new coordinator named, each member's rejoin).
 * Prints every sample, the medians, the catch-up larger/baseline ratio and one JSON line for it.
 *
 *   npm run build && npx tsx bench/cluster-failover.bench.ts [--rounds 5] [--backlog-mib 256]
 *     [--only failover,handoff,catch-up,group] [--group-rounds 5] [--client-log]
 *     [--catch-up-rounds 3] [--cpu-prof-dir DIR (profiles of every catch-up broker)]
 *     [--baseline-bin <other checkout>/bin/ringlog.js (catch-up only: that build with the default
 *      fetch sizes joins the variants, a same-run A/B of two builds)] [--skip-larger (no 8 MiB variant)]
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHistogram } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { Kafka, logLevel } from 'kafkajs'
import { buildBatchTemplates } from '../src/bench/loadgen/batch-templates.js'
import { LoadgenCluster, LoadProducer } from '../src/bench/loadgen/index.js'
import { DevCluster } from '../src/cluster/dev-cluster.js'
import { ApiKey } from '../src/kafka-client/kafka-wire-client.js'
import { withWireClient } from '../src/kafka-client/negotiated-client.js'
import { ZERO_UUID } from '../src/protocol/primitives.js'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' }, 'backlog-mib': { type: 'string', default: '256' },
    only: { type: 'string', default: 'failover,handoff,catch-up,group' }, 'group-rounds': { type: 'string', default: '5' },
    'client-log': { type: 'boolean', default: false },
    'catch-up-rounds': { type: 'string', default: '3' }, 'cpu-prof-dir': { type: 'string', default: '' },
    'baseline-bin': { type: 'string', default: '' }, 'skip-larger': { type: 'boolean', default: false },
  },
})
const ROUNDS = Number(values.rounds)
const ONLY = new Set(values.only.split(','))
const GROUP_ROUNDS = Number(values['group-rounds'])
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

const GROUP_TOPIC = 'group-failover'
const GROUP = 'group-failover-group'
const SESSION_TIMEOUT_MS = 6_000

async function coordinatorOf(cluster: DevCluster, group: string): Promise<number | undefined> {
  for (const b of cluster.brokers) {
    if (!b.alive) continue
    const answer = await withWireClient(`${b.host}:${b.port}`, (client) => client.request(ApiKey.FindCoordinator, 3, { key: group, keyType: 0 }), { connectTimeoutMs: 1_000, requestTimeoutMs: 2_000 }).catch(() => undefined)
    if (answer?.errorCode === 0 && cluster.brokers.some((x) => x.id === answer.nodeId && x.alive)) return answer.nodeId
  }
  return undefined
}

const isChange = (e: MemberEvent): boolean => e.kind !== 'heartbeat' && e.kind !== 'client log'

interface MemberEvent { at: number; member: number; kind: 'heartbeat' | 'join' | 'rebalancing' | 'crash' | 'client log'; generation?: number; detail?: string }

/**
 * Kill -9 of the group's coordinator, `rounds` times: kill to every member heartbeating (after
 * the kill) in the generation the group settles on. A round ends once that holds and no member
 * joined for a session timeout plus 2 s (so a late rebalance is not missed).
 */
async function groupRebalanceAfterFailover(cluster: DevCluster, rounds: number): Promise<number[]> {
  const loadgen = await LoadgenCluster.connect(cluster.bootstrap[0])
  await loadgen.ensureTopic(GROUP_TOPIC, { partitions: 6, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } })
  await loadgen.close()
  const events: MemberEvent[] = []
  const kafka = new Kafka({ clientId: 'group-failover-bench', brokers: cluster.bootstrap, logLevel: logLevel.NOTHING, retry: { retries: 50, initialRetryTime: 100, maxRetryTime: 1_000 } })
  // --client-log: kafkajs's own warnings and errors in the timeline (member -1: not told apart).
  const logged = values['client-log']
    ? new Kafka({
      clientId: 'group-failover-bench', brokers: cluster.bootstrap, logLevel: logLevel.WARN, retry: { retries: 50, initialRetryTime: 100, maxRetryTime: 1_000 },
      logCreator: () => ({ namespace, log }) => { events.push({ at: performance.now(), member: -1, kind: 'client log', detail: `${namespace}: ${log.message} ${log.error ?? ''}`.slice(0, 200) }) },
    })
    : kafka
  const producer = kafka.producer()
  await producer.connect()
  let producing = true
  const writing = (async () => {
    for (let i = 0; producing; i++) {
      await producer.send({ topic: GROUP_TOPIC, acks: -1, messages: Array.from({ length: 30 }, (_, j) => ({ key: `k${i}-${j}`, value: 'v' })) }).catch(() => undefined)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  })()
  const consumers = [0, 1, 2].map((member) => {
    const consumer = logged.consumer({ groupId: GROUP, sessionTimeout: SESSION_TIMEOUT_MS, heartbeatInterval: 500, rebalanceTimeout: 10_000, retry: { retries: 50, initialRetryTime: 100, maxRetryTime: 1_000 } })
    consumer.on(consumer.events.HEARTBEAT, (e) => events.push({ at: performance.now(), member, kind: 'heartbeat', generation: e.payload.groupGenerationId }))
    consumer.on(consumer.events.GROUP_JOIN, (e) => events.push({ at: performance.now(), member, kind: 'join', detail: `${e.payload.isLeader ? 'leader' : 'follower'}, ${e.payload.duration} ms in join+sync` }))
    consumer.on(consumer.events.REBALANCING, () => events.push({ at: performance.now(), member, kind: 'rebalancing' }))
    consumer.on(consumer.events.CRASH, (e) => events.push({ at: performance.now(), member, kind: 'crash', detail: e.payload.error.message }))
    return consumer
  })
  const samples: number[] = []
  try {
    for (const consumer of consumers) {
      await consumer.connect()
      await consumer.subscribe({ topic: GROUP_TOPIC, fromBeginning: true })
      await consumer.run({ eachMessage: async () => {} })
    }
    /** When every member's latest post-`since` heartbeat is in one generation, after its last join: that time, else undefined. */
    const settledAt = (since: number): { at: number; generation: number } | undefined => {
      const after = events.filter((e) => e.at > since)
      let at = since
      let generation: number | undefined
      for (const member of [0, 1, 2]) {
        const mine = after.filter((e) => e.member === member)
        const lastJoin = mine.filter((e) => e.kind === 'join' || e.kind === 'rebalancing').at(-1)?.at ?? since
        const beats = mine.filter((e) => e.kind === 'heartbeat' && e.at > lastJoin)
        const last = beats.at(-1)
        if (!last) return undefined
        if (generation !== undefined && last.generation !== generation) return undefined
        generation = last.generation
        // The first heartbeat of that generation after the member's last join.
        at = Math.max(at, beats.find((e) => e.generation === generation)!.at)
      }
      return generation === undefined ? undefined : { at, generation }
    }
    for (let round = 0; round < rounds; round++) {
      // Stable before the kill: all three heartbeating in one generation for 2 s.
      await until(async () => {
        const s = settledAt(performance.now() - 2_000)
        return s && events.filter((e) => e.at > performance.now() - 2_000 && isChange(e)).length === 0 ? true : undefined
      }, 'the group stable before the kill', 120_000, 200)
      const victim = await until(() => coordinatorOf(cluster, GROUP), 'a coordinator', 30_000, 100)
      const t0 = performance.now()
      await cluster.killBroker(victim)
      // As in the failover scenario: the killed broker comes back at once (same port and data
      // dir). kafkajs keeps retrying its dead coordinator's address (connection errors do not
      // make it look the coordinator up again), so the restart is what first answers it.
      let backAt: number | undefined
      const restarting = cluster.restartBroker(victim).then(() => { backAt = performance.now() })
      let namedAt: number | undefined
      const naming = until(async () => {
        const id = await coordinatorOf(cluster, GROUP)
        if (id !== undefined && id !== victim) { namedAt = performance.now(); return true }
        return undefined
      }, 'a new coordinator', 60_000, 50)
      await until(async () => {
        const s = settledAt(t0)
        const lastChange = events.filter((e) => e.at > t0 && isChange(e)).at(-1)?.at ?? t0
        return s && performance.now() - lastChange > SESSION_TIMEOUT_MS + 2_000 && performance.now() - t0 > SESSION_TIMEOUT_MS + 2_000 ? true : undefined
      }, 'the group back at work', 90_000, 100).catch((error: Error) => {
        const seen = events.filter((e) => e.at > t0).map((e) => `${(e.at - t0).toFixed(0)} m${e.member} ${e.kind}${e.generation !== undefined ? ` g${e.generation}` : ''}${e.detail ? ` ${e.detail}` : ''}`)
        throw new Error(`${error.message}; events since the kill:\n${seen.join('\n')}`)
      })
      await naming
      await restarting
      const settled = settledAt(t0)!

      samples.push(settled.at - t0)
      const timeline = events.filter((e) => e.at > t0 && e.at <= settled.at && e.kind !== 'heartbeat')
        .map((e) => `${(e.at - t0).toFixed(0)} ms member ${e.member} ${e.kind}${e.detail ? ` (${e.detail})` : ''}`)
      const firstBeats = [0, 1, 2].map((m) => events.find((e) => e.member === m && e.kind === 'heartbeat' && e.at > t0))
        .map((e, m) => `member ${m} ${e ? `${(e.at - t0).toFixed(0)} ms (gen ${e.generation})` : 'none'}`)
      console.log(`group failover ${round + 1}: coordinator ${victim} killed; new coordinator named at ${namedAt === undefined ? '?' : (namedAt - t0).toFixed(0)} ms; `
        + `killed broker listening again at ${backAt === undefined ? '?' : (backAt - t0).toFixed(0)} ms; `
        + `back at work (generation ${settled.generation}) at ${(settled.at - t0).toFixed(0)} ms`)
      console.log(`  first post-kill heartbeats: ${firstBeats.join('; ')}`)
      for (const line of timeline) console.log(`  ${line}`)
    }
  } finally {
    producing = false
    await writing
    await Promise.all(consumers.map((c) => c.disconnect().catch(() => undefined)))
    await producer.disconnect().catch(() => undefined)
  }
  return samples
}

const root = mkdtempSync(join(tmpdir(), 'ringlog-cluster-figures-'))
const cluster = ONLY.has('failover') || ONLY.has('handoff') || ONLY.has('group') ? await DevCluster.start({ brokers: 3, dataDir: root, serveArgs: SERVE }) : undefined
if (cluster) try {
  const addressOf = (id: number): string => cluster.bootstrap[id - 1]
  const anyAlive = (): string => addressOf(cluster.brokers.find((b) => b.alive)!.id)
  const loadgen = await LoadgenCluster.connect(cluster.bootstrap[0])
  await loadgen.ensureTopic(TOPIC, { partitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } })
  await loadgen.close()
  const batchBytes = buildBatchTemplates({ recordSize: 100, batchBytes: 1000, compression: 'none', templates: 1 })[0].batch
  const fullIsr = (): Promise<true> => until(async () => ((await metadataOf(anyAlive(), TOPIC))?.isr.length === 3 ? true : undefined), 'full ISR', 60_000, 100)

  const failovers: number[] = []
  for (let round = 0; ONLY.has('failover') && round < ROUNDS; round++) {
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
  for (let round = 0; ONLY.has('handoff') && round < ROUNDS; round++) {
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

  const rebalances = ONLY.has('group') ? await groupRebalanceAfterFailover(cluster, GROUP_ROUNDS) : []
  if (failovers.length > 0) console.log(`median failover (kill -9 to first acks=all ack on the successor, lease TTL 2 s): ${median(failovers).toFixed(0)} ms over ${failovers.length}`)
  if (handoffs.length > 0) console.log(`median controlled-shutdown handoff: ${median(handoffs).toFixed(0)} ms over ${handoffs.length}`)
  if (rebalances.length > 0) console.log(`median group back to work after its coordinator's kill -9 (3 kafkajs members, session 6 s, lease TTL 2 s): ${median(rebalances).toFixed(0)} ms over ${rebalances.length} (${rebalances.map((x) => x.toFixed(0)).join(', ')})`)
} finally {
  await cluster.stop()
}
rmSync(root, { recursive: true, force: true })

// Catch-up: the defaults (Kafka's replica fetch sizes, 1 MiB a partition, 10 MiB a response) as the
// baseline against 8 MiB / 32 MiB fetches, alternating on fresh clusters in the same run.
const VARIANTS: { name: string; args: string[]; bin?: string }[] = [
  { name: 'baseline (defaults): 1 MiB/partition, 10 MiB/response', args: [] },
  { name: 'larger: 8 MiB/partition, 32 MiB/response', args: ['--replica-fetch-max-bytes', String(8 * 2 ** 20), '--replica-fetch-response-max-bytes', String(32 * 2 ** 20)] },
]
if (values['skip-larger']) VARIANTS.pop()
if (values['baseline-bin']) VARIANTS.push({ name: 'baseline build (defaults)', args: [], bin: values['baseline-bin'] })
const samples = VARIANTS.map(() => ({ total: [] as number[], listening: [] as number[] }))
if (ONLY.has('catch-up')) {
  for (let round = 0; round < CATCH_UP_ROUNDS; round++) {
    for (const [v, variant] of VARIANTS.entries()) {
      const figure = await catchUpOnce(variant.args, variant.bin)
      samples[v].total.push(figure.total)
      samples[v].listening.push(figure.listening)
      console.log(`catch-up ${round + 1} ${variant.name}: ${figure.mib.toFixed(0)} MiB, ${figure.total.toFixed(0)} MiB/s from the restart (start-up included), ${figure.listening.toFixed(0)} MiB/s from "listening"`)
    }
  }
  const rows = VARIANTS.map((variant, v) => ({ variant: variant.name, medianMiBps: median(samples[v].total), medianFromListeningMiBps: median(samples[v].listening), runs: samples[v].total.length }))
  console.table(rows)
  const larger = rows.findIndex((r) => r.variant.startsWith('larger'))
  const other = rows.findIndex((r) => r.variant.startsWith('baseline build'))
  if (larger >= 0) console.log(`ratio larger/baseline (medians from "listening"): ${(rows[larger].medianFromListeningMiBps / rows[0].medianFromListeningMiBps).toFixed(2)}`)
  if (other >= 0) console.log(`ratio this build/baseline build, defaults (medians from "listening"): ${(rows[0].medianFromListeningMiBps / rows[other].medianFromListeningMiBps).toFixed(2)}, (from the restart): ${(rows[0].medianMiBps / rows[other].medianMiBps).toFixed(2)}`)
  console.log(JSON.stringify({ bench: 'cluster-catch-up', backlogMiB: BACKLOG_BYTES / 2 ** 20, rows }))
}

/** One catch-up on a fresh cluster whose brokers get `extraArgs`: MiB/s from the restart and from "listening". */
async function catchUpOnce(extraArgs: string[], bin?: string): Promise<{ mib: number; total: number; listening: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'ringlog-cluster-catch-up-'))
  const c = await DevCluster.start({ brokers: 3, dataDir: dir, serveArgs: [...SERVE, ...extraArgs], ...(bin && { bin }),
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
    // The other follower may still be fetching the tail of the backlog (it was in the ISR, but
    // acks=1 does not wait for it): let it finish, so one follower catches up alone, as the figure says.
    const otherDir = join(c.brokers.find((b) => b.id !== leader && b.id !== follower.id)!.dataDir, `${TOPIC}-0`)
    await until(async () => (dirBytes(otherDir) >= target ? true : undefined), 'the other follower caught up', 10 * 60_000, 50)
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
