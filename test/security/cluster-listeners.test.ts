/**
 * Issue 17, listeners per broker in cluster mode. A private etcd and real broker processes:
 * brokers 1-3 each with a PLAINTEXT and a SASL_PLAINTEXT listener on distinct ports (PLAINTEXT is
 * the inter-broker listener), broker 4 with a PLAINTEXT listener only. A SCRAM user is put into
 * etcd before any broker runs.
 * - kafkajs bootstrapped on broker 1's SASL listener produces to and consumes from a 3-partition
 *   RF 3 topic led by brokers 1, 2 and 3, and a group over the SASL listener commits (its
 *   FindCoordinator answers the coordinator's SASL endpoint);
 * - Metadata and DescribeCluster on a SASL listener name SASL ports only (broker 4 left out), on
 *   a PLAINTEXT listener PLAINTEXT ports only (broker 4 included);
 * - a partition broker 4 leads is LISTENER_NOT_FOUND (Metadata v6+; LEADER_NOT_AVAILABLE before)
 *   with no leader on the SASL listener, and led by broker 4 on the PLAINTEXT one; a transaction
 *   coordinator on broker 4 is COORDINATOR_NOT_AVAILABLE over SASL (FindCoordinator v3 and v4);
 * - `ringlog cluster status` lists the four brokers.
 * Needs `npm run build` (the brokers run bin/ringlog.js) and /usr/bin/etcd.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ClusterMetadata } from '../../src/cluster/cluster-metadata.js'
import { type EtcdProcess, freeLoopbackPort, startEtcd } from '../../src/cluster/etcd-process.js'
import { SecurityMetadata } from '../../src/cluster/security-metadata.js'
import { createClusterTopic } from '../../src/cluster/topic-creation.js'
import { TRANSACTION_STATE_CONFIGS, TRANSACTION_STATE_TOPIC } from '../../src/core/internal-topics.js'
import { metadataRequest } from '../../src/cli/topics.js'
import { ApiKey, type KafkaWireClient } from '../../src/kafka-client/kafka-wire-client.js'
import { withWireClient } from '../../src/kafka-client/negotiated-client.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { newCredential } from '../../src/security/scram-keys.js'
import { runRinglog } from '../cli/ringlog-process.js'
import { type BrokerProcess, startBrokerProcess, stopBrokerProcess } from '../cluster/fixtures/broker-processes.js'
import { until } from '../cluster/fixtures/replica-logs.js'

const built = existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))
const hasEtcd = existsSync('/usr/bin/etcd')
const CLUSTER = 'listeners'
const ALICE = { username: 'alice', password: 'alice-pw' }
const TOPIC = 'spread'
const PLAIN_ONLY_TOPIC = 'on-plaintext-only'

describe.skipIf(!built || !hasEtcd)('listeners per broker in cluster mode', () => {
  let etcd: EtcdProcess
  let root = ''
  const brokers = new Map<number, BrokerProcess>()
  const plaintextPorts = new Map<number, number>()
  const saslPorts = new Map<number, number>()

  const sasl = { mechanism: 'SCRAM-SHA-512' as const, ...ALICE }
  type Via = <T>(nodeId: number, use: (client: KafkaWireClient) => Promise<T>) => Promise<T>
  const onSasl: Via = (nodeId, use) => withWireClient(`127.0.0.1:${saslPorts.get(nodeId)}`, use, { sasl, requestTimeoutMs: 15_000 })
  const onPlaintext: Via = (nodeId, use) => withWireClient(`127.0.0.1:${plaintextPorts.get(nodeId)}`, use, { requestTimeoutMs: 15_000 })

  async function start(nodeId: number, withSasl: boolean): Promise<void> {
    const plaintext = await freeLoopbackPort()
    plaintextPorts.set(nodeId, plaintext)
    const listeners = ['--listener', `PLAINTEXT://127.0.0.1:${plaintext}`]
    if (withSasl) {
      const port = await freeLoopbackPort()
      saslPorts.set(nodeId, port)
      listeners.push('--listener', `SASL_PLAINTEXT://127.0.0.1:${port}`, '--sasl-mechanisms', 'SCRAM-SHA-512')
    }
    brokers.set(nodeId, await startBrokerProcess({
      nodeId, port: plaintext, dataDir: join(root, `b${nodeId}`), etcd: etcd.endpoint, cluster: CLUSTER,
      extra: [...listeners, '--inter-broker-listener', 'PLAINTEXT', '--lease-ttl-seconds', '2', '--offsets-topic-num-partitions', '3',
        '--group-initial-rebalance-delay-ms', '0'],
    }))
  }

  /** A Metadata answer of `version` for `topics` from `nodeId`, over the given listener. */
  const metadataOn = (via: Via, nodeId: number, version: number, topics: string[]) =>
    via(nodeId, (client) => client.request(ApiKey.Metadata, version, metadataRequest(version, topics, false)))

  beforeAll(async () => {
    etcd = await startEtcd()
    root = mkdtempSync(join(tmpdir(), 'ringlog-cluster-listeners-'))
    const security = SecurityMetadata.connect(etcd.endpoint, CLUSTER)
    try {
      await security.alterCredentials([{ user: ALICE.username, deletions: [], upsertions: [{ mechanism: 'SCRAM-SHA-512', credential: newCredential('SCRAM-SHA-512', ALICE.password, 4096) }] }])
    } finally {
      security.close()
    }
    await Promise.all([1, 2, 3].map((id) => start(id, true)))
    const metadata = new ClusterMetadata({ endpoints: [etcd.endpoint], cluster: CLUSTER })
    try {
      // Leaders 1, 2 and 3 (the first replica leads a new partition).
      await createClusterTopic(metadata, { name: TOPIC, partitions: 3, replicationFactor: 3, replicaAssignment: [[1, 2, 3], [2, 3, 1], [3, 1, 2]] })
      await until(async () => {
        const response = await metadataOn(onSasl, 1, 12, [TOPIC])
        return response.topics[0]?.partitions.every((p) => p.isrNodes.length === 3) ? true : undefined
      }, `${TOPIC} has an ISR of 3 everywhere`)
      // The group coordinator's topic exists before broker 4 joins, so no coordinator lacks the SASL listener.
      await until(() => onSasl(1, async (client) => {
        const r = await client.request(ApiKey.FindCoordinator, 3, { key: 'warm-up', keyType: 0 })
        return r.errorCode === ErrorCode.NONE ? true : undefined
      }), '__consumer_offsets has leaders')
      await start(4, false)
      await until(async () => ((await metadataOn(onPlaintext, 4, 12, [])).brokers.length === 4 ? true : undefined), 'broker 4 sees four brokers')
    } finally {
      metadata.close()
    }
  }, 180_000)

  afterAll(async () => {
    for (const b of brokers.values()) await stopBrokerProcess(b, 'SIGKILL').catch(() => undefined)
    await etcd?.destroy()
    if (root) rmSync(root, { recursive: true, force: true })
  })

  it('Metadata and DescribeCluster on a SASL listener name only SASL endpoints; on PLAINTEXT only PLAINTEXT ones', async () => {
    const sasl = new Set(saslPorts.values())
    const plaintext = new Set(plaintextPorts.values())
    for (const id of [1, 2, 3]) {
      const response = await metadataOn(onSasl, id, 12, [TOPIC])
      expect(response.brokers.map((b) => [b.nodeId, b.port]).sort()).toEqual([1, 2, 3].map((b) => [b, saslPorts.get(b)]))
      expect(response.topics[0].partitions.map((p) => p.leaderId).sort()).toEqual([1, 2, 3])
      const described = await onSasl(id, (client) => client.request(ApiKey.DescribeCluster, 0, { includeClusterAuthorizedOperations: false }))
      expect(described.brokers.every((b) => sasl.has(b.port) && b.host === '127.0.0.1')).toBe(true)
      expect(described.brokers.map((b) => b.brokerId).sort()).toEqual([1, 2, 3])
    }
    for (const id of [1, 4]) {
      const response = await metadataOn(onPlaintext, id, 12, [TOPIC])
      expect(response.brokers.map((b) => [b.nodeId, b.port]).sort()).toEqual([1, 2, 3, 4].map((b) => [b, plaintextPorts.get(b)]))
      const described = await onPlaintext(id, (client) => client.request(ApiKey.DescribeCluster, 0, { includeClusterAuthorizedOperations: false }))
      expect(described.brokers.every((b) => plaintext.has(b.port))).toBe(true)
    }
  })

  it('kafkajs on the SASL listener produces to and consumes from partitions led by every broker, and its group commits', async () => {
    const kafka = new Kafka({
      clientId: 'cluster-listeners', brokers: [`127.0.0.1:${saslPorts.get(1)}`], logLevel: logLevel.NOTHING,
      sasl: { mechanism: 'scram-sha-512', ...ALICE }, retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1_000 },
    })
    const admin = kafka.admin()
    await admin.connect()
    try {
      // Every address kafkajs is handed (its Metadata) is a SASL listener port.
      const cluster = await admin.describeCluster()
      expect(cluster.brokers.map((b) => b.port).sort()).toEqual([...saslPorts.values()].sort())
      const producer = kafka.producer()
      await producer.connect()
      const messages = [0, 1, 2].flatMap((partition) => Array.from({ length: 5 }, (_, i) => ({ partition, value: `p${partition}-${i}` })))
      const sent = await producer.send({ topic: TOPIC, acks: -1, messages })
      await producer.disconnect()
      expect(sent.every((r) => r.errorCode === 0)).toBe(true)

      const consumer = kafka.consumer({ groupId: 'sasl-group', sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 200 }) // disconnect would wait out a 5 s fetch
      await consumer.connect()
      const seen: string[] = []
      const done = new Promise<void>((resolve) => {
        void consumer.subscribe({ topic: TOPIC, fromBeginning: true }).then(() => consumer.run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            seen.push(message.value!.toString())
            await consumer.commitOffsets([{ topic: TOPIC, partition, offset: (BigInt(message.offset) + 1n).toString() }])
            if (seen.length === messages.length) resolve()
          },
        }))
      })
      let timer: NodeJS.Timeout | undefined
      await Promise.race([done, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`consumed ${seen.length} of ${messages.length}`)), 60_000) })])
      clearTimeout(timer)
      await consumer.disconnect()
      expect(seen.sort()).toEqual(messages.map((m) => m.value).sort())
      const committed = await admin.fetchOffsets({ groupId: 'sasl-group', topics: [TOPIC] })
      expect(committed[0].partitions.map((p) => p.offset).sort()).toEqual(['5', '5', '5'])

      // The group's coordinator, found over SASL (v3 single key and v4 batched), is named at its SASL endpoint.
      const coordinator = await onSasl(2, (client) => client.request(ApiKey.FindCoordinator, 3, { key: 'sasl-group', keyType: 0 }))
      expect(coordinator.errorCode).toBe(ErrorCode.NONE)
      expect(coordinator.port).toBe(saslPorts.get(coordinator.nodeId))
      const batched = await onSasl(3, (client) => client.request(ApiKey.FindCoordinator, 4, { keyType: 0, coordinatorKeys: ['sasl-group', 'other'] }))
      for (const c of batched.coordinators) {
        expect(c.errorCode).toBe(ErrorCode.NONE)
        expect(c.port).toBe(saslPorts.get(c.nodeId))
      }
      const plain = await onPlaintext(4, (client) => client.request(ApiKey.FindCoordinator, 3, { key: 'sasl-group', keyType: 0 }))
      expect([plain.nodeId, plain.port]).toEqual([coordinator.nodeId, plaintextPorts.get(coordinator.nodeId)])
    } finally {
      await admin.disconnect()
    }
  }, 120_000)

  // Last: from here on a client asking for every topic over SASL gets a partition it cannot reach (kafkajs fails such a Metadata, as against Kafka).
  it('a partition led by the broker without a SASL listener is LISTENER_NOT_FOUND on SASL, led normally on PLAINTEXT', async () => {
    const metadata = new ClusterMetadata({ endpoints: [etcd.endpoint], cluster: CLUSTER })
    try {
      await createClusterTopic(metadata, { name: PLAIN_ONLY_TOPIC, partitions: 2, replicationFactor: 1, replicaAssignment: [[4], [1]] })
      // The transaction coordinators' topic, led by broker 4 alone: every transactional id's coordinator lacks the SASL listener.
      await createClusterTopic(metadata, { name: TRANSACTION_STATE_TOPIC, partitions: 1, replicationFactor: 1, configs: { ...TRANSACTION_STATE_CONFIGS }, replicaAssignment: [[4]] })
    } finally {
      metadata.close()
    }
    const onSaslV12 = await until(async () => {
      const response = await metadataOn(onSasl, 2, 12, [PLAIN_ONLY_TOPIC])
      return response.topics[0]?.partitions.length === 2 ? response : undefined
    }, `broker 2 knows ${PLAIN_ONLY_TOPIC}`)
    expect(onSaslV12.brokers.map((b) => b.nodeId)).not.toContain(4)
    const partitions = onSaslV12.topics[0].partitions.map((p) => [p.partitionIndex, p.errorCode, p.leaderId]).sort()
    expect(partitions).toEqual([[0, ErrorCode.LISTENER_NOT_FOUND, -1], [1, ErrorCode.NONE, 1]])
    // Before v6 Kafka has no LISTENER_NOT_FOUND for clients: LEADER_NOT_AVAILABLE.
    const onSaslV5 = await metadataOn(onSasl, 2, 5, [PLAIN_ONLY_TOPIC])
    expect(onSaslV5.topics[0].partitions.find((p) => p.partitionIndex === 0)).toMatchObject({ errorCode: ErrorCode.LEADER_NOT_AVAILABLE, leaderId: -1 })
    // FindCoordinator (v3 single key, v4 batched) on SASL: COORDINATOR_NOT_AVAILABLE; on PLAINTEXT broker 4 at its PLAINTEXT port.
    const findTxn = (via: Via, version: number) => via(1, (client) => client.request(ApiKey.FindCoordinator, version,
      version >= 4 ? { keyType: 1, coordinatorKeys: ['txn-a', 'txn-b'] } : { key: 'txn-a', keyType: 1 }))
    const txnOnPlain = await until(async () => {
      const r = await findTxn(onPlaintext, 3)
      return r.errorCode === ErrorCode.NONE ? r : undefined
    }, 'the transaction coordinator is known on PLAINTEXT')
    expect([txnOnPlain.nodeId, txnOnPlain.port]).toEqual([4, plaintextPorts.get(4)])
    expect((await findTxn(onSasl, 3)).errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE)
    expect((await findTxn(onSasl, 4)).coordinators.map((c) => [c.key, c.errorCode, c.nodeId])).toEqual([
      ['txn-a', ErrorCode.COORDINATOR_NOT_AVAILABLE, -1], ['txn-b', ErrorCode.COORDINATOR_NOT_AVAILABLE, -1],
    ])
    const onPlain = await metadataOn(onPlaintext, 2, 12, [PLAIN_ONLY_TOPIC])
    expect(onPlain.topics[0].partitions.map((p) => [p.partitionIndex, p.errorCode, p.leaderId]).sort()).toEqual([[0, ErrorCode.NONE, 4], [1, ErrorCode.NONE, 1]])
  })

  it('ringlog cluster status lists every broker at its inter-broker address, with its listeners', async () => {
    const status = await runRinglog(['cluster', 'status', '--etcd', etcd.endpoint, '--cluster-name', CLUSTER])
    expect(status.code, status.stderr).toBe(0)
    const brokerLines = status.stdout.split('\n').filter((line) => /^[1-4] /.test(line))
    expect(brokerLines).toHaveLength(4)
    for (const id of [1, 2, 3, 4]) {
      const line = brokerLines.find((l) => l.startsWith(`${id} `)) ?? ''
      expect(line).toContain(`127.0.0.1:${plaintextPorts.get(id)}`)
      expect(line).toContain(`PLAINTEXT://127.0.0.1:${plaintextPorts.get(id)}`)
      if (id === 4) expect(line).not.toContain('SASL_PLAINTEXT://')
      else expect(line).toContain(`SASL_PLAINTEXT://127.0.0.1:${saslPorts.get(id)}`)
    }
    const json = await runRinglog(['cluster', 'status', '--etcd', etcd.endpoint, '--cluster-name', CLUSTER, '--json'])
    expect(json.code, json.stderr).toBe(0)
    const parsed = JSON.parse(json.stdout) as { brokers: { id: number; listeners: string[] }[] }
    expect(parsed.brokers.find((b) => b.id === 4)?.listeners).toEqual([`PLAINTEXT://127.0.0.1:${plaintextPorts.get(4)}`])
  })
})
