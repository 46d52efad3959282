/**
 * Transactions across brokers (issue 19 item 4): a private etcd and three `ringlog serve`
 * processes; a kafkajs transactional producer writes to every partition of a topic whose
 * partitions are led by different brokers, so the transaction coordinator must send
 * WriteTxnMarkers to the other leaders. Commits and an abort; a read_committed kafkajs consumer
 * sees exactly the committed records, a read_uncommitted one every record, and the last stable
 * offset of every partition reaches its high watermark (no transaction left hanging). Then a
 * partition leader is killed -9 between a transaction's send and its commit: the coordinator's
 * markers find the new leaders and the commit completes.
 * Needs `npm run build` (the brokers run bin/ringlog.js) and /usr/bin/etcd.
 */
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiKey } from '../../src/kafka-client/kafka-wire-client.js'
import { withWireClient } from '../../src/kafka-client/negotiated-client.js'
import { type BrokerProcess, type BrokerProcessCluster, stopBrokerProcess, startBrokerProcessCluster, stopBrokerProcessCluster } from '../cluster/fixtures/broker-processes.js'

const built = existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))
const hasEtcd = existsSync('/usr/bin/etcd')
const TOPIC = 'cluster-txn'
const PARTITIONS = 6
const TXN_ID = 'cluster-txn-producer'

/** A port free right now (for each broker's /metrics). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** WriteTxnMarkers requests a broker answered, from its Prometheus counter. */
async function writeTxnMarkersServed(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith('ringlog_requests_total{') && l.includes('api="WriteTxnMarkers"'))
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0
}

describe.skipIf(!built || !hasEtcd)('cluster mode: transaction markers reach every leader (WriteTxnMarkers)', () => {
  let processes: BrokerProcessCluster | undefined
  let brokers: BrokerProcess[] = []
  const metricsPorts = new Map<number, number>()
  let kafka: Kafka

  beforeAll(async () => {
    for (const nodeId of [1, 2, 3]) metricsPorts.set(nodeId, await freePort())
    processes = await startBrokerProcessCluster({
      name: `txn-${process.pid}`,
      extra: (nodeId) => ['--lease-ttl-seconds', '2', '--transaction-state-log-num-partitions', '3', '--offsets-topic-num-partitions', '3', '--group-initial-rebalance-delay-ms', '0', '--metrics-port', String(metricsPorts.get(nodeId))],
    })
    brokers = processes.brokers
    kafka = new Kafka({ clientId: 'cluster-txn', brokers: brokers.map((b) => `127.0.0.1:${b.port}`), logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1_000 } })
    const admin = kafka.admin()
    await admin.connect()
    try {
      await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 2 }], waitForLeaders: true })
    } finally {
      await admin.disconnect()
    }
  }, 180_000)

  afterAll(async () => {
    await stopBrokerProcessCluster(processes)
  })

  /** A broker still running: the metadata questions must not go to the one the second test kills. */
  const live = (): BrokerProcess => brokers.find((b) => b.child.exitCode === null && b.child.signalCode === null)!

  async function leaders(): Promise<number[]> {
    return withWireClient(`127.0.0.1:${live().port}`, async (client) => {
      const meta = await client.request(ApiKey.Metadata, 9, { topics: [{ name: TOPIC }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false })
      return meta.topics[0]!.partitions.sort((a, b) => a.partitionIndex - b.partitionIndex).map((p) => p.leaderId)
    })
  }

  /** The broker coordinating TXN_ID (FindCoordinator key type 1), asked until `__transaction_state` has a leader (bounded). */
  async function transactionCoordinator(): Promise<number> {
    for (let attempt = 0; attempt < 200; attempt++) {
      const answer = await withWireClient(`127.0.0.1:${live().port}`, (client) => client.request(ApiKey.FindCoordinator, 3, { key: TXN_ID, keyType: 1 }))
      if (answer.errorCode === 0) return answer.nodeId
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw new Error(`no coordinator for ${TXN_ID} within 20 s`)
  }

  /** Reads the topic from the beginning until every partition's `<endPrefix><p>` arrived; the values in arrival order per partition. */
  async function consume(groupId: string, readUncommitted: boolean, endPrefix = 'end-'): Promise<Map<number, string[]>> {
    const consumer = kafka.consumer({ groupId, readUncommitted, maxWaitTimeInMs: 100 })
    const seen = new Map<number, string[]>()
    const ends = new Set<number>()
    await consumer.connect()
    try {
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
      await new Promise<void>((resolve) => {
        void consumer.run({
          eachMessage: async ({ partition, message }) => {
            const value = message.value?.toString() ?? ''
            seen.set(partition, [...(seen.get(partition) ?? []), value])
            if (value.startsWith(endPrefix)) ends.add(partition)
            if (ends.size === PARTITIONS) resolve()
          },
        })
      })
    } finally {
      await consumer.disconnect()
    }
    return seen
  }

  it('commits and aborts a transaction spanning partitions led by all three brokers', async () => {
    const producer = kafka.producer({ transactionalId: TXN_ID, idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    const coordinatorNode = await transactionCoordinator()
    const led = await leaders()
    expect(new Set(led).size).toBeGreaterThan(1)
    // Some partition is led by another broker than the coordinator: its markers must travel.
    expect(led.some((leader) => leader !== coordinatorNode)).toBe(true)
    const write = async (label: string, commit: boolean): Promise<void> => {
      const tx = await producer.transaction()
      await tx.send({ topic: TOPIC, messages: Array.from({ length: PARTITIONS }, (_, p) => ({ value: `${label}-${p}`, partition: p })) })
      await (commit ? tx.commit() : tx.abort())
    }
    try {
      // The markers of one transaction go in one WriteTxnMarkers request per other leader, not one per partition.
      const served = async (): Promise<number> => (await Promise.all([...metricsPorts.values()].map(writeTxnMarkersServed))).reduce((a, b) => a + b, 0)
      const before = await served()
      await write('c1', true)
      const remote = led.filter((leader) => leader !== coordinatorNode)
      expect(await served() - before).toBe(new Set(remote).size)
      await write('a1', false)
      await write('c2', true)
      await write('end', true)
    } finally {
      await producer.disconnect()
    }

    const committed = await consume('cluster-txn-rc', false)
    const everything = await consume('cluster-txn-ru', true)
    for (let p = 0; p < PARTITIONS; p++) {
      expect(committed.get(p)).toEqual([`c1-${p}`, `c2-${p}`, `end-${p}`])
      expect(everything.get(p)).toEqual([`c1-${p}`, `a1-${p}`, `c2-${p}`, `end-${p}`])
    }

    // Every partition's last stable offset is its high watermark on its leader: each got its markers.
    const admin = kafka.admin()
    await admin.connect()
    try {
      const committedEnds = await admin.fetchTopicOffsets(TOPIC)
      for (const p of committedEnds) expect(Number(p.high)).toBe(8) // 4 records + 4 markers per partition
    } finally {
      await admin.disconnect()
    }
  }, 180_000)

  it('a commit whose partition leader is killed -9 completes on the new leader (markers retried after re-reading the leader)', async () => {
    const coordinatorNode = await transactionCoordinator()
    const led = await leaders()
    const victimId = led.find((leader) => leader !== coordinatorNode)
    expect(victimId).toBeDefined()
    const victim = brokers.find((b) => b.nodeId === victimId)!
    const producer = kafka.producer({ transactionalId: TXN_ID, idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    try {
      const tx = await producer.transaction()
      await tx.send({ topic: TOPIC, messages: Array.from({ length: PARTITIONS }, (_, p) => ({ value: `k-${p}`, partition: p })) })
      // The records are on every in-sync replica (acks=all); the leader of some of them dies before the commit.
      await stopBrokerProcess(victim, 'SIGKILL')
      await tx.commit()
      const after = await producer.transaction()
      await after.send({ topic: TOPIC, messages: Array.from({ length: PARTITIONS }, (_, p) => ({ value: `end2-${p}`, partition: p })) })
      await after.commit()
    } finally {
      await producer.disconnect()
    }
    expect((await leaders()).includes(victim.nodeId)).toBe(false)

    const committed = await consume('cluster-txn-rc-2', false, 'end2-')
    for (let p = 0; p < PARTITIONS; p++) expect(committed.get(p)).toEqual([`c1-${p}`, `c2-${p}`, `end-${p}`, `k-${p}`, `end2-${p}`])
  }, 180_000)
})
