/**
 * sendOffsets in a cluster whose group coordinator is not the transaction coordinator (issue 19):
 * a private etcd and three `ringlog serve` processes; the transactional id and the group id are
 * picked so that FindCoordinator names different brokers for them (their `__transaction_state`
 * and `__consumer_offsets` partitions, abs(String.hashCode) % 3, have different leaders). kafkajs
 * sends AddOffsetsToTxn to the transaction coordinator and TxnOffsetCommit to the group
 * coordinator, which holds the offsets pending until the COMMIT/ABORT marker reaches the group's
 * offsets partition:
 * - between sendOffsets and commit, OffsetFetch v7 with requireStable answers
 *   UNSTABLE_OFFSET_COMMIT and without it the last committed offset (the pending one is not seen);
 * - a commit makes the offsets the group's, an abort leaves the previous ones; a fresh kafkajs
 *   consumer of the group starts exactly after the last committed transaction's offsets;
 * - the group coordinator killed -9 between sendOffsets and commit: the new leader of the offsets
 *   partition rebuilds the pending offsets from the log and the retried marker commits them.
 * Needs `npm run build` (the brokers run bin/ringlog.js) and /usr/bin/etcd.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel, type Producer } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiKey } from '../../src/kafka-client/kafka-wire-client.js'
import { withWireClient } from '../../src/kafka-client/negotiated-client.js'
import { partitionForGroup } from '../../src/protocol/consumer-offsets-records.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { type BrokerProcess, type BrokerProcessCluster, stopBrokerProcess, startBrokerProcessCluster, stopBrokerProcessCluster } from '../cluster/fixtures/broker-processes.js'

const built = existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))
const hasEtcd = existsSync('/usr/bin/etcd')
const IN = 'sendoffsets-in'
const OUT = 'sendoffsets-out'
const INTERNAL_PARTITIONS = 3
const INPUT_RECORDS = 40

describe.skipIf(!built || !hasEtcd)('cluster mode: sendOffsets when the group and transaction coordinators differ', () => {
  let processes: BrokerProcessCluster | undefined
  let brokers: BrokerProcess[] = []
  let kafka: Kafka
  let txnId = ''
  let groupId = ''
  let groupCoordinator = -1

  const live = (): BrokerProcess => brokers.find((b) => b.child.exitCode === null && b.child.signalCode === null)!
  const addressOf = (nodeId: number): string => `127.0.0.1:${brokers.find((b) => b.nodeId === nodeId)!.port}`

  /** FindCoordinator (key type 0 group, 1 transaction), asked until the internal topic has a leader (bounded). */
  async function coordinatorOf(key: string, keyType: 0 | 1): Promise<number> {
    for (let attempt = 0; attempt < 300; attempt++) {
      const answer = await withWireClient(`127.0.0.1:${live().port}`, (client) => client.request(ApiKey.FindCoordinator, 3, { key, keyType }))
      if (answer.errorCode === 0) return answer.nodeId
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw new Error(`no coordinator for ${key} (type ${keyType}) within 30 s`)
  }

  /** OffsetFetch v7 of the input partition, asked of the group coordinator itself. */
  async function fetchOffset(requireStable: boolean): Promise<{ offset: number; errorCode: number }> {
    const answer = await withWireClient(addressOf(groupCoordinator), (client) => client.request(ApiKey.OffsetFetch, 7, {
      groupId, topics: [{ name: IN, partitionIndexes: [0] }], requireStable,
    }))
    const p = answer.topics[0]!.partitions[0]!
    return { offset: Number(p.committedOffset), errorCode: p.errorCode }
  }

  /** What kafkajs's admin reads as the group's committed offset of the input partition. */
  async function committed(): Promise<number> {
    const admin = kafka.admin()
    await admin.connect()
    try {
      const [topic] = await admin.fetchOffsets({ groupId, topics: [IN] })
      return Number(topic!.partitions.find((p) => p.partition === 0)!.offset)
    } finally {
      await admin.disconnect()
    }
  }

  /** One consume-transform-produce step: input offsets [from, to) become output records, the group's offset `to` rides the transaction. */
  async function transform(producer: Producer, from: number, to: number, beforeEnd: () => Promise<void>, commit: boolean): Promise<void> {
    const tx = await producer.transaction()
    await tx.send({ topic: OUT, messages: Array.from({ length: to - from }, (_, i) => ({ value: `out-${from + i}` })) })
    await tx.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: IN, partitions: [{ partition: 0, offset: String(to) }] }] })
    await beforeEnd()
    await (commit ? tx.commit() : tx.abort())
  }

  beforeAll(async () => {
    processes = await startBrokerProcessCluster({ name: `sendoffsets-${process.pid}`, extra: ['--lease-ttl-seconds', '2', '--transaction-state-log-num-partitions', String(INTERNAL_PARTITIONS), '--offsets-topic-num-partitions', String(INTERNAL_PARTITIONS), '--group-initial-rebalance-delay-ms', '0'] })
    brokers = processes.brokers
    kafka = new Kafka({ clientId: 'cluster-sendoffsets', brokers: brokers.map((b) => `127.0.0.1:${b.port}`), logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1_000 } })
    const admin = kafka.admin()
    await admin.connect()
    try {
      await admin.createTopics({ topics: [{ topic: IN, numPartitions: 1, replicationFactor: 3 }, { topic: OUT, numPartitions: 1, replicationFactor: 3 }], waitForLeaders: true })
    } finally {
      await admin.disconnect()
    }
    // Both internal topics exist (FindCoordinator creates them); pick ids whose partitions (Java's
    // String.hashCode, as the brokers compute them) have different leaders.
    const txnCoordinators = new Map<number, string>()
    for (let i = 0; i < 12 && txnCoordinators.size < INTERNAL_PARTITIONS; i++) {
      const id = `so-txn-${i}`
      const node = await coordinatorOf(id, 1)
      if (!txnCoordinators.has(node)) txnCoordinators.set(node, id)
    }
    for (let i = 0; i < 12 && groupId === ''; i++) {
      const candidate = `so-group-${i}`
      const node = await coordinatorOf(candidate, 0)
      const other = [...txnCoordinators].find(([txnNode]) => txnNode !== node)
      if (!other) continue
      groupId = candidate
      groupCoordinator = node
      txnId = other[1]
    }
    expect(groupId).not.toBe('')
    const producer = kafka.producer()
    await producer.connect()
    try {
      await producer.send({ topic: IN, messages: Array.from({ length: INPUT_RECORDS }, (_, i) => ({ value: `in-${i}` })) })
    } finally {
      await producer.disconnect()
    }
  }, 240_000)

  afterAll(async () => {
    await stopBrokerProcessCluster(processes)
  })

  it('pending offsets are invisible until the marker; commit makes them the group\'s, abort drops them', async () => {
    const txnCoordinator = await coordinatorOf(txnId, 1)
    expect(txnCoordinator).not.toBe(groupCoordinator)
    expect(partitionForGroup(groupId, INTERNAL_PARTITIONS)).toBeGreaterThanOrEqual(0)
    const producer = kafka.producer({ transactionalId: txnId, idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    try {
      await transform(producer, 0, 10, async () => {
        expect(await fetchOffset(true)).toEqual({ offset: -1, errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT })
        expect(await fetchOffset(false)).toEqual({ offset: -1, errorCode: ErrorCode.NONE })
      }, true)
      expect(await committed()).toBe(10)
      expect(await fetchOffset(true)).toEqual({ offset: 10, errorCode: ErrorCode.NONE })

      await transform(producer, 10, 20, async () => {
        expect(await fetchOffset(true)).toEqual({ offset: -1, errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT })
        expect(await fetchOffset(false)).toEqual({ offset: 10, errorCode: ErrorCode.NONE })
      }, false)
      expect(await committed()).toBe(10)
      expect(await fetchOffset(true)).toEqual({ offset: 10, errorCode: ErrorCode.NONE })

      await transform(producer, 10, 20, async () => undefined, true)
      expect(await committed()).toBe(20)
    } finally {
      await producer.disconnect()
    }

    // A fresh consumer of the group starts where the last committed transaction left it.
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 })
    await consumer.connect()
    let first = -1
    try {
      await consumer.subscribe({ topic: IN, fromBeginning: true })
      await new Promise<void>((resolve) => {
        void consumer.run({
          autoCommit: false,
          eachMessage: async ({ message }) => {
            if (first < 0) first = Number(message.offset)
            resolve()
          },
        })
      })
    } finally {
      await consumer.disconnect()
    }
    expect(first).toBe(20)
  }, 240_000)

  it('the group coordinator killed -9 between sendOffsets and commit: the commit still lands', async () => {
    const victim = brokers.find((b) => b.nodeId === groupCoordinator)!
    const producer = kafka.producer({ transactionalId: txnId, idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    try {
      await transform(producer, 20, 30, async () => {
        // The pending offsets are on every in-sync replica of the offsets partition (acks=all).
        await stopBrokerProcess(victim, 'SIGKILL')
      }, true)
    } finally {
      await producer.disconnect()
    }
    const newCoordinator = await coordinatorOf(groupId, 0)
    expect(newCoordinator).not.toBe(victim.nodeId)
    groupCoordinator = newCoordinator
    expect(await committed()).toBe(30)
    expect(await fetchOffset(true)).toEqual({ offset: 30, errorCode: ErrorCode.NONE })
  }, 240_000)
})
