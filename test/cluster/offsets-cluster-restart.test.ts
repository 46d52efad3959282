/**
 * Issue 14, test 2: a confluent-kafka (librdkafka) consumer commits every record synchronously,
 * the coordinator of its group (the leader of the group's `__consumer_offsets` partition) is
 * killed with -9, and it keeps consuming and committing with the new coordinator. Then the whole
 * cluster restarts (every broker, same data dirs and ports) and a new consumer in the group
 * starts exactly at the committed offsets: it sees only the records produced after them.
 * Real etcd, three `ringlog serve` processes; needs `npm run build`, /usr/bin/etcd and python3
 * with confluent_kafka.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type EtcdProcess, startEtcd } from '../../src/cluster/etcd-process.js'
import { ApiKey } from '../../src/kafka-client/kafka-wire-client.js'
import { withWireClient } from '../../src/kafka-client/negotiated-client.js'
import { type BrokerProcess, startBrokerProcess, stopBrokerProcess } from './fixtures/broker-processes.js'

const PYTHON = '/usr/bin/python3'
const CONSUMER_SCRIPT = fileURLToPath(new URL('./fixtures/sync-commit-consumer.py', import.meta.url))
const built = existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))
const hasEtcd = existsSync('/usr/bin/etcd')
const hasConfluent = spawnSync(PYTHON, ['-c', 'import confluent_kafka']).status === 0
const GROUP = 'restart-group'
const TOPIC = 'restart-topic'
const PARTITIONS = 3
const PER_PHASE = 60

interface Commit { partition: number; offset: number; value: string }

/** The sync-commit consumer as a child process; resolves with its commits once it printed `done`. */
function runConsumer(bootstrap: string, expected: number, onCommit: (commit: Commit) => void): { child: ChildProcess; finished: Promise<Commit[]> } {
  const child = spawn(PYTHON, [CONSUMER_SCRIPT, bootstrap, TOPIC, GROUP, String(expected), '60'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const commits: Commit[] = []
  let stderr = ''
  let buffered = ''
  let done = false
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString()
    const lines = buffered.split('\n')
    buffered = lines.pop()!
    for (const line of lines) {
      const parts = line.split(' ')
      if (parts[0] === 'committed') {
        const commit = { partition: Number(parts[1]), offset: Number(parts[2]), value: parts[3] }
        commits.push(commit)
        onCommit(commit)
      } else if (line === 'done') done = true
    }
  })
  const finished = new Promise<Commit[]>((resolve, reject) => {
    child.once('exit', (code) => {
      if (code === 0 && done) resolve(commits)
      else reject(new Error(`consumer exited with ${code} after ${commits.length} commits: ${stderr.slice(-2000)}`))
    })
  })
  return { child, finished }
}

async function findCoordinator(port: number, not = -1): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const answer = await withWireClient(`127.0.0.1:${port}`, (client) => client.request(ApiKey.FindCoordinator, 3, { key: GROUP, keyType: 0 })).catch(() => undefined)
    if (answer?.errorCode === 0 && answer.nodeId !== not) return answer.nodeId
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error('no coordinator named within 20 s')
}

describe.skipIf(!built || !hasEtcd || !hasConfluent)('cluster mode: a librdkafka consumer across a coordinator kill and a whole-cluster restart', () => {
  let etcd: EtcdProcess
  let root = ''
  const brokers: BrokerProcess[] = []
  const cluster = `restart-${process.pid}`
  const brokerExtra = ['--lease-ttl-seconds', '2', '--replica-lag-time-max-ms', '5000', '--min-insync-replicas', '2']
  const start = (nodeId: number, port?: number): Promise<BrokerProcess> =>
    startBrokerProcess({ nodeId, dataDir: join(root, `b${nodeId}`), etcd: etcd.endpoint, cluster, port, extra: brokerExtra })
  const kafkaOf = (clientId: string, from: BrokerProcess[]): Kafka => new Kafka({
    clientId, brokers: from.map((b) => `127.0.0.1:${b.port}`), logLevel: logLevel.NOTHING,
    retry: { retries: 40, initialRetryTime: 100, maxRetryTime: 1_000 },
  })

  const produce = async (from: BrokerProcess[], phase: number): Promise<void> => {
    const producer = kafkaOf(`restart-producer-${phase}`, from).producer()
    await producer.connect()
    try {
      const messages = Array.from({ length: PER_PHASE }, (_, i) => ({ key: `k${i}`, value: `p${phase}-${i}` }))
      await producer.send({ topic: TOPIC, acks: -1, messages })
    } finally {
      await producer.disconnect()
    }
  }

  /** Log end offset of every partition of the topic, once every partition has a leader (bounded). */
  const logEnds = async (from: BrokerProcess[]): Promise<Map<number, number>> => {
    const admin = kafkaOf('restart-offsets', from).admin()
    await admin.connect()
    try {
      for (let attempt = 0; attempt < 100; attempt++) {
        const metadata = await admin.fetchTopicMetadata({ topics: [TOPIC] }).catch(() => undefined)
        if (metadata?.topics[0].partitions.every((p) => p.leader >= 0)) {
          const offsets = await admin.fetchTopicOffsets(TOPIC).catch(() => undefined)
          if (offsets) return new Map(offsets.map((o) => [o.partition, Number(o.high)]))
        }
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
      throw new Error(`${TOPIC} has partitions without a leader after 20 s`)
    } finally {
      await admin.disconnect()
    }
  }

  beforeAll(async () => {
    etcd = await startEtcd()
    root = mkdtempSync(join(tmpdir(), 'ringlog-offsets-restart-'))
    for (const nodeId of [1, 2, 3]) brokers.push(await start(nodeId))
  }, 60_000)

  afterAll(async () => {
    for (const b of brokers) await stopBrokerProcess(b, 'SIGKILL').catch(() => undefined)
    await etcd?.stop()
    if (root) rmSync(root, { recursive: true, force: true })
  })

  it('commits survive kill -9 of the coordinator and a restart of every broker', async () => {
    const admin = kafkaOf('restart-admin', brokers).admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3 }] })
    await admin.disconnect()
    await produce(brokers, 1)
    const coordinator = await findCoordinator(brokers[0].port)

    // Phase 1: the consumer commits the first records, then its coordinator dies mid-run.
    let committedCount = 0
    let onFirstPhase: () => void = () => undefined
    const firstPhaseCommitted = new Promise<void>((resolve) => { onFirstPhase = resolve })
    const first = runConsumer(brokers.map((b) => `127.0.0.1:${b.port}`).join(','), 2 * PER_PHASE, () => {
      if (++committedCount === PER_PHASE) onFirstPhase()
    })
    try {
      await Promise.race([firstPhaseCommitted, first.finished])
      const victim = brokers.find((b) => b.nodeId === coordinator)!
      await stopBrokerProcess(victim, 'SIGKILL')
      const survivors = brokers.filter((b) => b !== victim)
      expect(await findCoordinator(survivors[0].port, coordinator)).not.toBe(coordinator)
      await produce(survivors, 2)
      const commits = await first.finished
      const values = new Set(commits.map((c) => c.value))
      for (let i = 0; i < PER_PHASE; i++) expect(values.has(`p2-${i}`)).toBe(true)
    } finally {
      if (first.child.exitCode === null) first.child.kill('SIGKILL')
    }
    const committedBefore = new Map<number, number>()
    for (const c of await first.finished) committedBefore.set(c.partition, Math.max(committedBefore.get(c.partition) ?? 0, c.offset + 1))

    // The whole cluster restarts: every broker down, then every broker up on its port and data dir.
    const endsBefore = await logEnds(brokers.filter((b) => b.child.exitCode === null && b.child.signalCode === null))
    // At least every record sent (a produce retried across the leader kill may store a batch twice).
    expect([...endsBefore.values()].reduce((sum, end) => sum + end, 0)).toBeGreaterThanOrEqual(2 * PER_PHASE)
    expect(committedBefore).toEqual(endsBefore)
    for (const b of brokers) await stopBrokerProcess(b, 'SIGTERM')
    const ports = brokers.map((b) => b.port)
    brokers.length = 0
    for (const [i, nodeId] of [1, 2, 3].entries()) brokers.push(await start(nodeId, ports[i]))
    // Every broker restarted with its log: no partition lost a record or its leader.
    expect(await logEnds(brokers)).toEqual(endsBefore)
    await produce(brokers, 3)

    // Phase 3: a new consumer of the group starts at the committed offsets and sees only phase 3.
    const firstOffsets = new Map<number, number>()
    const second = runConsumer(brokers.map((b) => `127.0.0.1:${b.port}`).join(','), PER_PHASE, (c) => {
      if (!firstOffsets.has(c.partition)) firstOffsets.set(c.partition, c.offset)
    })
    try {
      const commits = await second.finished
      expect(commits.every((c) => c.value.startsWith('p3-'))).toBe(true)
      for (const [partition, offset] of firstOffsets) expect(offset).toBe(committedBefore.get(partition))
    } finally {
      if (second.child.exitCode === null) second.child.kill('SIGKILL')
    }
  }, 180_000)
})
