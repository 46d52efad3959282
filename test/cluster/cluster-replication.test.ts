/**
 * Cluster mode end to end (issue 13, first slice): a private etcd and three real broker
 * processes on loopback. A kafkajs admin creates a topic with RF 3 and min.insync.replicas 2;
 * Metadata shows the three brokers and each partition's leader, replicas and ISR; an idempotent
 * kafkajs producer with acks=-1 keeps sending while the leader of partition 0 is killed with
 * -9; afterwards a kafkajs consumer reads every acknowledged record exactly once, in order per
 * partition; a SIGSTOPped follower leaves the ISR (acks=all then gets NOT_ENOUGH_REPLICAS) and
 * rejoins after SIGCONT; the killed broker restarts and rejoins the ISR; SIGTERM hands leaderships
 * off (controlled shutdown); all three replicas' segment files hold identical batches.
 * Needs `npm run build` (the brokers run bin/ringlog.js) and /usr/bin/etcd.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EtcdProcess } from '../../src/cluster/etcd-process.js'
import { ApiKey } from '../../src/kafka-client/kafka-wire-client.js'
import { withWireClient } from '../../src/kafka-client/negotiated-client.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { ZERO_UUID } from '../../src/protocol/primitives.js'
import { type BrokerProcess, type BrokerProcessCluster, startBrokerProcess, stopBrokerProcess, startBrokerProcessCluster, stopBrokerProcessCluster } from './fixtures/broker-processes.js'

const built = existsSync(fileURLToPath(new URL('../../dist/cli/index.js', import.meta.url))) || existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))
const hasEtcd = existsSync('/usr/bin/etcd')
const TOPIC = 'replicated'
const PARTITIONS = 2
const SENDS = 60
const PER_SEND = 10

/** A consumer's Fetch v12 of one partition from one broker: the partition's error code. */
function fetchError(port: number, partition: number, currentLeaderEpoch: number): Promise<number> {
  return withWireClient(`127.0.0.1:${port}`, async (client) => {
    const response = await client.request(ApiKey.Fetch, 12, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1024, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: TOPIC, partitions: [{ partition, currentLeaderEpoch, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1024 }] }],
      forgottenTopicsData: [], rackId: '',
    })
    return response.responses[0].partitions[0].errorCode
  })
}

/** ListOffsets v4 (latest) of one partition from one broker: the partition's error code. */
function listOffsetsError(port: number, partition: number): Promise<number> {
  return withWireClient(`127.0.0.1:${port}`, async (client) => {
    const response = await client.request(ApiKey.ListOffsets, 4, {
      replicaId: -1, isolationLevel: 0,
      topics: [{ name: TOPIC, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp: -1, maxNumOffsets: 1 }] }],
    })
    return response.topics[0].partitions[0].errorCode
  })
}

/** A partition's leader epoch as Metadata v9 reports it from one broker. */
function leaderEpochOf(port: number, partition: number): Promise<number> {
  return withWireClient(`127.0.0.1:${port}`, async (client) => {
    const response = await client.request(ApiKey.Metadata, 9, {
      topics: [{ name: TOPIC, topicId: ZERO_UUID }], allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false,
    })
    return response.topics[0].partitions.find((p) => p.partitionIndex === partition)!.leaderEpoch
  })
}

/** Polls partition 0's ISR through Metadata v9 (bounded: 150 tries, 100 ms apart) until `done` holds. */
async function untilIsr(port: number, done: (isr: number[]) => boolean, what: string): Promise<void> {
  for (let attempt = 0; attempt < 150; attempt++) {
    const isr = await withWireClient(`127.0.0.1:${port}`, async (client) => {
      const response = await client.request(ApiKey.Metadata, 9, {
        topics: [{ name: TOPIC, topicId: ZERO_UUID }], allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false,
      })
      return response.topics[0].partitions.find((p) => p.partitionIndex === 0)!.isrNodes
    })
    if (done(isr)) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`timed out waiting until ${what}`)
}

/** Whether one broker's Metadata (all topics) lists `topic`. */
function hasTopic(port: number, topic: string): Promise<boolean> {
  return withWireClient(`127.0.0.1:${port}`, async (client) => {
    const response = await client.request(ApiKey.Metadata, 9, {
      topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false,
    })
    return response.topics.some((t) => t.name === topic)
  })
}

interface Batch { baseOffset: number; bytes: string }

/** Every whole batch in a partition directory's segment files: base offset and its bytes (hex), in offset order. */
function segmentBatches(partitionDir: string): Batch[] {
  const batches: Batch[] = []
  for (const name of readdirSync(partitionDir).filter((n) => n.endsWith('.log')).sort()) {
    const data = readFileSync(join(partitionDir, name))
    let position = 0
    while (position + 12 <= data.length) {
      const size = 12 + data.readInt32BE(position + 8)
      if (size <= 12 || position + size > data.length) break
      batches.push({ baseOffset: Number(data.readBigInt64BE(position)), bytes: data.subarray(position, position + size).toString('hex') })
      position += size
    }
  }
  return batches
}

describe.skipIf(!built || !hasEtcd)('cluster mode: 3 brokers, RF 3, acks=all, leader killed with -9', () => {
  let processes: BrokerProcessCluster | undefined
  let etcd: EtcdProcess
  let brokers: BrokerProcess[] = []
  const cluster = `wire-${process.pid}`
  let kafka: Kafka

  beforeAll(async () => {
    processes = await startBrokerProcessCluster({ name: cluster, extra: ['--lease-ttl-seconds', '2', '--replica-lag-time-max-ms', '5000'] })
    ;({ etcd, brokers } = processes)
    kafka = new Kafka({
      clientId: 'cluster-test', brokers: brokers.map((b) => `127.0.0.1:${b.port}`), logLevel: logLevel.NOTHING,
      retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1_000 },
    })
  }, 60_000)

  afterAll(async () => {
    await stopBrokerProcessCluster(processes)
  })

  const alive = (): BrokerProcess[] => brokers.filter((b) => b.child.exitCode === null && b.child.signalCode === null)

  it('creates an RF 3 topic; Metadata lists 3 brokers and every partition\'s leader, replicas and ISR', async () => {
    const admin = kafka.admin()
    await admin.connect()
    try {
      const created = await admin.createTopics({
        topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }],
        waitForLeaders: true,
      })
      expect(created).toBe(true)
      const tooMany = await admin.createTopics({ topics: [{ topic: 'rf4', numPartitions: 1, replicationFactor: 4 }] }).then(() => undefined, (error: { errors?: { type?: string }[] }) => error)
      expect(tooMany?.errors?.[0]?.type).toBe('INVALID_REPLICATION_FACTOR')
      // DeleteTopics goes through etcd: the topic leaves every broker's metadata.
      await admin.createTopics({ topics: [{ topic: 'doomed', numPartitions: 1, replicationFactor: 2 }], waitForLeaders: true })
      await admin.deleteTopics({ topics: ['doomed'] })
      for (let attempt = 0; attempt < 50 && (await Promise.all(brokers.map((b) => hasTopic(b.port, 'doomed')))).some(Boolean); attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect(await Promise.all(brokers.map((b) => hasTopic(b.port, 'doomed')))).toEqual([false, false, false])
      const described = await admin.describeCluster()
      expect(described.brokers.map((b) => b.nodeId).sort()).toEqual([1, 2, 3])
      expect([1, 2, 3]).toContain(described.controller)
      const { topics } = await admin.fetchTopicMetadata({ topics: [TOPIC] })
      expect(topics[0].partitions).toHaveLength(PARTITIONS)
      for (const p of topics[0].partitions) {
        expect([...p.replicas].sort()).toEqual([1, 2, 3])
        expect([...p.isr].sort()).toEqual([1, 2, 3])
        expect(p.replicas).toContain(p.leader)
      }
    } finally {
      await admin.disconnect()
    }
  }, 30_000)

  it('only the leader serves consumers and ListOffsets; producer ids differ across brokers', async () => {
    const admin = kafka.admin()
    await admin.connect()
    const { topics } = await admin.fetchTopicMetadata({ topics: [TOPIC] }).finally(() => admin.disconnect())
    const p0 = topics[0].partitions.find((p) => p.partitionId === 0)!
    const leader = brokers.find((b) => b.nodeId === p0.leader)!
    const follower = brokers.find((b) => b.nodeId !== p0.leader)!
    // The leader applies its role from the etcd watch a moment after Metadata shows it: wait for that (bounded).
    let attempts = 0
    while ((await fetchError(leader.port, 0, -1)) !== ErrorCode.NONE && attempts < 100) {
      attempts++
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(await fetchError(leader.port, 0, -1)).toBe(ErrorCode.NONE)
    expect(await fetchError(follower.port, 0, -1)).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER)
    expect(await fetchError(leader.port, 0, (await leaderEpochOf(leader.port, 0)) + 1)).toBe(ErrorCode.UNKNOWN_LEADER_EPOCH)
    expect(await listOffsetsError(leader.port, 0)).toBe(ErrorCode.NONE)
    expect(await listOffsetsError(follower.port, 0)).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER)
    const ids = await Promise.all(brokers.map((b) => withWireClient(`127.0.0.1:${b.port}`, (client) =>
      client.request(ApiKey.InitProducerId, 0, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 }))))
    expect(ids.map((r) => r.errorCode)).toEqual([0, 0, 0])
    expect(new Set(ids.map((r) => r.producerId)).size).toBe(3)
  }, 30_000)

  it('acks=all survives kill -9 of a leader: every acknowledged record is read once, in order; a stopped follower leaves the ISR (NOT_ENOUGH_REPLICAS) and rejoins; the killed broker restarts and rejoins; all replicas hold identical batches', async () => {
    const admin = kafka.admin()
    await admin.connect()
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    const acked: number[][] = Array.from({ length: PARTITIONS }, () => [])
    let victim: BrokerProcess | undefined
    try {
      for (let send = 0; send < SENDS; send++) {
        if (send === SENDS / 2) {
          const { topics } = await admin.fetchTopicMetadata({ topics: [TOPIC] })
          const leader = topics[0].partitions.find((p) => p.partitionId === 0)!.leader
          victim = brokers.find((b) => b.nodeId === leader)!
          await stopBrokerProcess(victim, 'SIGKILL')
        }
        const partition = send % PARTITIONS
        const values = Array.from({ length: PER_SEND }, (_, i) => send * PER_SEND + i)
        await producer.send({ topic: TOPIC, acks: -1, messages: values.map((v) => ({ partition, value: String(v) })) })
        acked[partition].push(...values)
      }
    } finally {
      await producer.disconnect()
      await admin.disconnect()
    }
    expect(victim).toBeDefined()
    // The new leader of partition 0 fences a consumer that still knows the old epoch.
    const checker = kafka.admin()
    await checker.connect()
    const after = await checker.fetchTopicMetadata({ topics: [TOPIC] }).finally(() => checker.disconnect())
    const moved = after.topics[0].partitions.find((p) => p.partitionId === 0)!
    expect(moved.leader).not.toBe(victim!.nodeId)
    const successor = brokers.find((b) => b.nodeId === moved.leader)!
    const epoch = await leaderEpochOf(successor.port, 0)
    expect(epoch).toBeGreaterThan(0)
    expect(await fetchError(successor.port, 0, epoch - 1)).toBe(ErrorCode.FENCED_LEADER_EPOCH)

    const consumer = kafka.consumer({ groupId: 'verify', maxWaitTimeInMs: 200 })
    const seen: number[][] = Array.from({ length: PARTITIONS }, () => [])
    const total = acked.reduce((n, list) => n + list.length, 0)
    let seenCount = 0 // a count, not seen.flat().length per message (quadratic in the records read)
    await consumer.connect()
    try {
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`read ${seenCount} of ${total} records within 30 s`)), 30_000)
        void consumer.run({
          eachMessage: async ({ partition, message }) => {
            seen[partition].push(Number(message.value!.toString()))
            if (++seenCount >= total) { clearTimeout(timer); resolve() }
          },
        }).catch(reject)
      })
    } finally {
      await consumer.disconnect()
    }
    for (let p = 0; p < PARTITIONS; p++) expect(seen[p]).toEqual(acked[p])

    // With one survivor stopped the ISR shrinks below min.insync.replicas: acks=all is refused
    // before the append; once it runs again it catches up and rejoins the ISR.
    const survivors = alive()
    expect(survivors).toHaveLength(2)
    const other = survivors.find((b) => b.nodeId !== successor.nodeId)!
    process.kill(other.child.pid!, 'SIGSTOP')
    try {
      await untilIsr(successor.port, (isr) => isr.length === 1, 'the ISR shrinks to the leader alone')
      // A client of the leader alone: the stopped broker accepts connections it never answers.
      const refused = new Kafka({ clientId: 'refused', brokers: [`127.0.0.1:${successor.port}`], logLevel: logLevel.NOTHING })
        .producer({ retry: { retries: 0 } })
      await refused.connect()
      const outcome = await refused.send({ topic: TOPIC, acks: -1, messages: [{ partition: 0, value: 'refused' }] })
        .then(() => 'acknowledged', (error: { type?: string; cause?: { type?: string }; message?: string }) => error.type ?? error.cause?.type ?? error.message)
        .finally(() => refused.disconnect())
      expect(outcome).toBe('NOT_ENOUGH_REPLICAS')
    } finally {
      process.kill(other.child.pid!, 'SIGCONT')
    }
    await untilIsr(successor.port, (isr) => isr.length === 2, 'the stopped follower rejoins the ISR')

    // The killed broker restarts on its data dir: it follows (truncating to the leader's epoch
    // end first) and rejoins the ISR.
    const restarted = await startBrokerProcess({
      nodeId: victim!.nodeId, dataDir: victim!.dataDir, port: victim!.port, etcd: etcd.endpoint, cluster,
      extra: ['--lease-ttl-seconds', '2', '--replica-lag-time-max-ms', '5000'],
    })
    brokers[brokers.indexOf(victim!)] = restarted
    await untilIsr(successor.port, (isr) => isr.length === 3, 'the restarted broker rejoins the ISR')

    // SIGTERM hands leaderships to the others first; then the three copies are compared.
    const replicas = alive()
    expect(replicas).toHaveLength(3)
    await stopBrokerProcess(replicas[0], 'SIGTERM')
    expect(replicas[0].output()).toContain('controlled shutdown done')
    const handedOff = await withWireClient(`127.0.0.1:${replicas[1].port}`, (client) => client.request(ApiKey.Metadata, 9, {
      topics: [{ name: TOPIC, topicId: ZERO_UUID }], allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false,
    }))
    for (const p of handedOff.topics[0].partitions) expect([replicas[1].nodeId, replicas[2].nodeId]).toContain(p.leaderId)
    for (const b of replicas.slice(1)) await stopBrokerProcess(b, 'SIGTERM')
    for (let p = 0; p < PARTITIONS; p++) {
      const copies = replicas.map((r) => segmentBatches(join(r.dataDir, `${TOPIC}-${p}`)))
      const common = Math.min(...copies.map((c) => c.length))
      for (const copy of copies.slice(1)) expect(copy.slice(0, common)).toEqual(copies[0].slice(0, common))
      // Every acknowledged record is in every copy: the first `acked` offsets are covered.
      for (const copy of copies) expect(copy.length * PER_SEND).toBeGreaterThanOrEqual(acked[p].length)
    }
  }, 60_000)
})
