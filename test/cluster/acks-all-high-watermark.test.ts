/**
 * Issue 14: at RF 3 the leader answers acks=all from the high watermark its main thread computes
 * from the followers' fetch offsets. Three real broker processes and a private etcd, once with
 * --flush never (the HW shown from the leader's thread) and once with --flush always (the HW the
 * partition worker publishes after the leader's fdatasync). After every acknowledged produce the
 * leader's ListOffsets (latest) and Fetch already show a HW past the batch; then the leader is
 * killed with -9 and the new leader serves every acknowledged record.
 * Needs `npm run build` (the brokers run bin/ringlog.js) and /usr/bin/etcd.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiKey } from '../../src/kafka-client/kafka-wire-client.js'
import { withWireClient } from '../../src/kafka-client/negotiated-client.js'
import { type BrokerProcess, type BrokerProcessCluster, stopBrokerProcess, startBrokerProcessCluster, stopBrokerProcessCluster } from './fixtures/broker-processes.js'

const built = existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))
const hasEtcd = existsSync('/usr/bin/etcd')
const TOPIC = 'acked-hw'
const SENDS = 40
const PER_SEND = 5

/** ListOffsets v4 (latest) of partition 0 from one broker: error code and offset. */
function latestOffset(port: number): Promise<{ errorCode: number; offset: number }> {
  return withWireClient(`127.0.0.1:${port}`, async (client) => {
    const response = await client.request(ApiKey.ListOffsets, 4, {
      replicaId: -1, isolationLevel: 0,
      topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1, maxNumOffsets: 1 }] }],
    })
    const p = response.topics[0].partitions[0]
    return { errorCode: p.errorCode, offset: Number(p.offset) }
  })
}

/** A consumer's Fetch v12 of partition 0 at `offset` from one broker (no wait): error code and HW. */
function fetchHighWatermark(port: number, offset: number): Promise<{ errorCode: number; highWatermark: number }> {
  return withWireClient(`127.0.0.1:${port}`, async (client) => {
    const response = await client.request(ApiKey.Fetch, 12, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1024, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: offset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1024 }] }],
      forgottenTopicsData: [], rackId: '',
    })
    const p = response.responses[0].partitions[0]
    return { errorCode: p.errorCode, highWatermark: Number(p.highWatermark) }
  })
}

describe.skipIf(!built || !hasEtcd).each(['never', 'always'])('cluster mode, --flush %s: an acks=all ack shows in the HW at once and survives kill -9 of the leader', (flush) => {
  let processes: BrokerProcessCluster | undefined
  let brokers: BrokerProcess[] = []
  let kafka: Kafka

  beforeAll(async () => {
    processes = await startBrokerProcessCluster({ name: `acked-hw-${flush}-${process.pid}`, extra: ['--lease-ttl-seconds', '2', '--replica-lag-time-max-ms', '5000', '--min-insync-replicas', '2', '--flush', flush] })
    brokers = processes.brokers
    kafka = new Kafka({
      clientId: 'acked-hw', brokers: brokers.map((b) => `127.0.0.1:${b.port}`), logLevel: logLevel.NOTHING,
      retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1_000 },
    })
  }, 90_000)

  afterAll(async () => {
    await stopBrokerProcessCluster(processes)
  })

  it('ListOffsets and Fetch on the leader see every acknowledged batch; the new leader serves them all', async () => {
    const admin = kafka.admin()
    await admin.connect()
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    const acked: number[] = []
    let leader: BrokerProcess
    try {
      await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1, replicationFactor: 3 }], waitForLeaders: true })
      const { topics } = await admin.fetchTopicMetadata({ topics: [TOPIC] })
      leader = brokers.find((b) => b.nodeId === topics[0].partitions[0].leader)!
      await producer.connect()
      for (let send = 0; send < SENDS; send++) {
        const values = Array.from({ length: PER_SEND }, (_, i) => send * PER_SEND + i)
        const [answer] = await producer.send({ topic: TOPIC, acks: -1, messages: values.map((v) => ({ partition: 0, value: String(v) })) })
        const end = Number(answer.baseOffset) + PER_SEND
        acked.push(...values)
        // Asked right after the ack, without retries: the HW already passes the batch.
        const latest = await latestOffset(leader.port)
        expect(latest.errorCode).toBe(0)
        expect(latest.offset).toBeGreaterThanOrEqual(end)
        const fetched = await fetchHighWatermark(leader.port, Number(answer.baseOffset))
        expect(fetched.errorCode).toBe(0)
        expect(fetched.highWatermark).toBeGreaterThanOrEqual(end)
      }
    } finally {
      await producer.disconnect()
      await admin.disconnect()
    }
    // Every acknowledged batch is in each ISR member's log: the leader's death loses none of it.
    await stopBrokerProcess(leader, 'SIGKILL')
    const consumer = kafka.consumer({ groupId: `verify-${flush}`, maxWaitTimeInMs: 200 })
    const seen: number[] = []
    await consumer.connect()
    try {
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`read ${seen.length} of ${acked.length} records within 30 s`)), 30_000)
        void consumer.run({
          eachMessage: async ({ message }) => {
            seen.push(Number(message.value!.toString()))
            if (seen.length >= acked.length) { clearTimeout(timer); resolve() }
          },
        }).catch(reject)
      })
    } finally {
      await consumer.disconnect()
    }
    expect(seen).toEqual(acked)
  }, 120_000)
})
