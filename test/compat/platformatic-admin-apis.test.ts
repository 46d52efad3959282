/**
 * OffsetDelete (47), DescribeProducers (61) and ListOffsets max timestamp (-3, and -4 of v8) against a broker
 * on a real socket: @platformatic/kafka's admin deletes group offsets and lists the max-timestamp
 * offset; its idempotent producer is what DescribeProducers then lists (no Node client has a
 * DescribeProducers call: the shared wire client asks). A group member subscribed to the topic
 * keeps its offsets (GROUP_SUBSCRIBED_TO_TOPIC), as in Kafka.
 */
import { Buffer } from 'node:buffer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Admin, Producer, stringSerializers } from '@platformatic/kafka'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { encodeSubscription } from '../../src/groups/consumer-protocol.js'
import { RawClient } from '../broker/raw-client.js'
import { startTestBroker, type TestBroker } from '../broker/test-broker.js'

const TOPIC = 'admin-apis'
let broker: TestBroker
let admin: Admin
let raw: RawClient

beforeAll(async () => {
  broker = await startTestBroker({ groupInitialRebalanceDelayMs: 0 })
  admin = new Admin({ clientId: 'plat-admin-apis', bootstrapBrokers: [`127.0.0.1:${broker.port}`] })
  await admin.createTopics({ topics: [TOPIC], partitions: 2, replicas: 1 })
  raw = await RawClient.connect(broker.port)
})

afterAll(async () => {
  raw?.close()
  await admin?.close()
  await broker?.destroy()
})

describe('admin APIs through @platformatic/kafka and the wire', () => {
  it('ListOffsets -3 answers the record with the largest timestamp, inside its batch', async () => {
    const engine = broker.server.context.engine
    const batch = (timestamps: number[]) => timestamps.map((timestamp, i) => ({ key: null, value: Buffer.from(`r${i}`), headers: [], timestamp }))
    await engine.appendRecords(TOPIC, 1, batch([1000, 9000, 2000]), { acks: -1, compression: 0 })
    await engine.appendRecords(TOPIC, 1, batch([3000, 4000]), { acks: -1, compression: 0 })
    const listed = await admin.listOffsets({ topics: [{ name: TOPIC, partitions: [{ partitionIndex: 1, timestamp: -3n }, { partitionIndex: 0, timestamp: -3n }] }] })
    const byPartition = new Map(listed[0].partitions.map((p) => [p.partitionIndex, [p.offset, p.timestamp]]))
    expect(byPartition.get(1)).toEqual([1n, 9000n])
    // An empty partition has no record with a largest timestamp.
    expect(byPartition.get(0)).toEqual([-1n, -1n])
    // -4 (earliest local, ListOffsets v8): every segment is local, so the log start.
    const local = await raw.request<{ topics: { partitions: { errorCode: number; offset: number }[] }[] }>(2, 8, {
      replicaId: -1, isolationLevel: 0, topics: [{ name: TOPIC, partitions: [{ partitionIndex: 1, currentLeaderEpoch: -1, timestamp: -4 }] }],
    })
    expect([local.topics[0].partitions[0].errorCode, local.topics[0].partitions[0].offset]).toEqual([0, 0])
  })

  it('OffsetDelete removes one partition of an Empty group; an unknown group and an unknown partition are refused', async () => {
    await admin.alterConsumerGroupOffsets({ groupId: 'g-del', topics: [{ name: TOPIC, partitionOffsets: [{ partition: 0, offset: 0n }, { partition: 1, offset: 4n }] }] })
    const before = await admin.listConsumerGroupOffsets({ groups: ['g-del'] })
    expect(before[0].topics[0].partitions.map((p) => p.partitionIndex).sort()).toEqual([0, 1])
    await admin.deleteConsumerGroupOffsets({ groupId: 'g-del', topics: [{ name: TOPIC, partitionIndexes: [1] }] })
    const after = await admin.listConsumerGroupOffsets({ groups: ['g-del'] })
    expect(after[0].topics[0].partitions.map((p) => [p.partitionIndex, p.committedOffset])).toEqual([[0, 0n]])

    const unknownGroup = await raw.request<{ errorCode: number }>(47, 0, { groupId: 'no-such-group', topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0 }] }] })
    expect(unknownGroup.errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND)
    const unknownPartition = await raw.request<{ errorCode: number; topics: { partitions: { partitionIndex: number; errorCode: number }[] }[] }>(
      47, 0, { groupId: 'g-del', topics: [{ name: TOPIC, partitions: [{ partitionIndex: 7 }] }, { name: 'nope', partitions: [{ partitionIndex: 0 }] }] })
    expect([unknownPartition.errorCode, unknownPartition.topics.map((t) => t.partitions[0].errorCode)])
      .toEqual([0, [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]])
  })

  it('OffsetDelete keeps the offsets of a topic a live member subscribes to (GROUP_SUBSCRIBED_TO_TOPIC) and deletes the others', async () => {
    await admin.alterConsumerGroupOffsets({ groupId: 'g-live', topics: [{ name: TOPIC, partitionOffsets: [{ partition: 0, offset: 0n }] }] })
    await broker.server.context.createTopic('other', 1)
    await admin.alterConsumerGroupOffsets({ groupId: 'g-live', topics: [{ name: 'other', partitionOffsets: [{ partition: 0, offset: 0n }] }] })
    // A consumer-protocol member subscribed to TOPIC joins (one member: the join completes at once).
    const member = await RawClient.connect(broker.port)
    try {
      const metadata = encodeSubscription({ topics: [TOPIC] })
      const join = (memberId: string) => member.request<{ errorCode: number; memberId: string }>(11, 5, {
        groupId: 'g-live', sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 30_000, memberId, groupInstanceId: null, protocolType: 'consumer',
        protocols: [{ name: 'range', metadata }],
      })
      let joined = await join('')
      if (joined.errorCode === ErrorCode.MEMBER_ID_REQUIRED) joined = await join(joined.memberId)
      expect(joined.errorCode).toBe(0)
      const r = await raw.request<{ errorCode: number; topics: { name: string; partitions: { errorCode: number }[] }[] }>(47, 0, {
        groupId: 'g-live', topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0 }] }, { name: 'other', partitions: [{ partitionIndex: 0 }] }],
      })
      expect([r.errorCode, r.topics.map((t) => [t.name, t.partitions[0].errorCode])]).toEqual([0, [[TOPIC, ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC], ['other', 0]]])
      const left = await admin.listConsumerGroupOffsets({ groups: ['g-live'] })
      expect(left[0].topics.map((t) => t.name)).toEqual([TOPIC])
    } finally {
      member.close()
    }
  })

  it('DescribeProducers lists the idempotent producer that wrote, with its epoch and last sequence', async () => {
    const producer = new Producer({ clientId: 'plat-idem', bootstrapBrokers: [`127.0.0.1:${broker.port}`], serializers: stringSerializers, idempotent: true, acks: -1 })
    try {
      for (let i = 0; i < 3; i++) await producer.send({ messages: [{ topic: TOPIC, key: `k${i}`, value: `v${i}`, partition: 0 }] })
    } finally {
      await producer.close()
    }
    type Described = { topics: { name: string; partitions: { partitionIndex: number; errorCode: number; activeProducers: { producerId: number; producerEpoch: number; lastSequence: number; lastTimestamp: number; coordinatorEpoch: number; currentTxnStartOffset: number }[] }[] }[] }
    const r = await raw.request<Described>(61, 0, { topics: [{ name: TOPIC, partitionIndexes: [0, 1, 9] }] })
    const [p0, p1, p9] = r.topics[0].partitions
    expect(p0.errorCode).toBe(0)
    expect(p0.activeProducers).toHaveLength(1)
    const active = p0.activeProducers[0]
    expect(active.producerId).toBeGreaterThanOrEqual(0)
    expect([active.producerEpoch, active.lastSequence, active.coordinatorEpoch, active.currentTxnStartOffset]).toEqual([0, 2, -1, -1])
    expect(active.lastTimestamp).toBeGreaterThan(0)
    // Partition 1 was written without a producer id; 9 does not exist.
    expect([p1.errorCode, p1.activeProducers]).toEqual([0, []])
    expect(p9.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  })
})
