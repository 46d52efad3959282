/**
 * Transactions with kafkajs (a real client over a real socket) against an in-process broker:
 * commit and abort seen through kafkajs consumers of both isolation levels, a zombie fenced by
 * a newer producer with the same transactional id, a transaction aborted by its timeout, and
 * offsets sent in a transaction reaching the group only when it commits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import kafkajs from 'kafkajs'
import { RawClient } from '../broker/raw-client.js'
import { eventually, startTestBroker, type TestBroker } from '../broker/test-broker.js'
import { latestOffset, readIsolated } from '../transactions/read-isolated.js'

const { Kafka, logLevel } = kafkajs
type KafkaClient = InstanceType<typeof Kafka>

let broker: TestBroker
let kafka: KafkaClient
let raw: RawClient

beforeAll(async () => {
  broker = await startTestBroker({
    transactionStateLogNumPartitions: 3, transactionAbortCheckIntervalMs: 100,
    groupInitialRebalanceDelayMs: 100, groupMinSessionTimeoutMs: 500,
  })
  kafka = new Kafka({ clientId: 'txn', brokers: [`127.0.0.1:${broker.port}`], logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 50, maxRetryTime: 500 } })
  raw = await RawClient.connect(broker.port)
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: ['tx-data', 'tx-zombie', 'tx-timeout', 'tx-in', 'tx-out'].map((topic) => ({ topic, numPartitions: topic === 'tx-data' ? 2 : 1 })) })
  await admin.disconnect()
})

afterAll(async () => {
  raw?.close()
  await broker?.destroy()
})

function transactionalProducer(transactionalId: string, transactionTimeout = 30_000): ReturnType<KafkaClient['producer']> {
  return kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1, transactionTimeout })
}

/** Consumes `topic` from the beginning until every partition's `end-<p>` value arrived (bounded by the test timeout). */
async function consumeUntilEnds(groupId: string, topic: string, partitions: number, readUncommitted: boolean): Promise<string[]> {
  const consumer = kafka.consumer({ groupId, readUncommitted, maxWaitTimeInMs: 100 })
  const seen: string[] = []
  const ends = new Set<string>()
  await consumer.connect()
  try {
    await consumer.subscribe({ topic, fromBeginning: true })
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          const value = message.value?.toString() ?? ''
          seen.push(value)
          if (value.startsWith('end-')) ends.add(value)
          if (ends.size === partitions) resolve()
        },
      })
    })
  } finally {
    await consumer.disconnect()
  }
  return seen
}

describe('kafkajs transactions', () => {
  it('commit and abort: read_committed consumers never see aborted records, read_uncommitted ones do', async () => {
    const producer = transactionalProducer('tx-a')
    await producer.connect()
    const send = async (values: string[], commit: boolean): Promise<void> => {
      const txn = await producer.transaction()
      await txn.send({ topic: 'tx-data', messages: values.map((value, i) => ({ value, partition: i % 2 })) })
      if (commit) await txn.commit()
      else await txn.abort()
    }
    const committed = Array.from({ length: 20 }, (_, i) => `c${i}`)
    const aborted = Array.from({ length: 20 }, (_, i) => `a${i}`)
    await send(committed.slice(0, 10), true)
    await send(aborted, false)
    await send(committed.slice(10), true)
    const txn = await producer.transaction()
    await txn.send({ topic: 'tx-data', messages: [{ value: 'end-0', partition: 0 }, { value: 'end-1', partition: 1 }] })
    await txn.commit()
    await producer.disconnect()

    const [readCommitted, readUncommitted] = await Promise.all([
      consumeUntilEnds('rc', 'tx-data', 2, false),
      consumeUntilEnds('ru', 'tx-data', 2, true),
    ])
    expect([...readCommitted].sort()).toEqual([...committed, 'end-0', 'end-1'].sort())
    expect([...readUncommitted].sort()).toEqual([...committed, ...aborted, 'end-0', 'end-1'].sort())
    // Every transaction ended: the last stable offset is the high watermark.
    for (const p of [0, 1]) expect(await latestOffset(raw, 'tx-data', p, true)).toBe(await latestOffset(raw, 'tx-data', p, false))
  })

  it('fences a zombie: a newer producer with the same transactional id aborts its open transaction', async () => {
    const zombie = transactionalProducer('tx-z')
    await zombie.connect()
    const old = await zombie.transaction()
    await old.send({ topic: 'tx-zombie', messages: [{ value: 'zombie-1' }] })
    // LSO is held at the zombie's open transaction.
    expect(await latestOffset(raw, 'tx-zombie', 0, true)).toBe(0)

    // kafkajs sends InitProducerId with the transactional id at its first transaction().
    const successor = transactionalProducer('tx-z')
    await successor.connect()
    const fresh = await successor.transaction()
    await expect(old.send({ topic: 'tx-zombie', messages: [{ value: 'zombie-2' }] })).rejects.toThrow(/epoch/i)
    await expect(old.commit()).rejects.toThrow(/epoch/i)
    await fresh.send({ topic: 'tx-zombie', messages: [{ value: 'fresh' }] })
    await fresh.commit()
    await Promise.all([zombie.disconnect(), successor.disconnect()])

    const committed = await readIsolated(raw, 'tx-zombie', 0, true)
    expect(committed.values).toEqual(['fresh'])
    expect(committed.lastStableOffset).toBe(committed.highWatermark)
    expect((await readIsolated(raw, 'tx-zombie', 0, false)).values).toEqual(['zombie-1', 'fresh'])
  })

  it('aborts a transaction open longer than its timeout and fences its producer', async () => {
    const producer = transactionalProducer('tx-t', 500)
    await producer.connect()
    const txn = await producer.transaction()
    await txn.send({ topic: 'tx-timeout', messages: [{ value: 'late-1' }, { value: 'late-2' }] })
    // The coordinator aborts it: the ABORT marker moves the last stable offset to the log end.
    const end = await eventually(async () => {
      const read = await readIsolated(raw, 'tx-timeout', 0, true)
      return read.lastStableOffset === read.highWatermark && read.highWatermark === 3 ? read : undefined
    }, 200, 50)
    expect(end.values).toEqual([])
    await expect(txn.commit()).rejects.toThrow(/epoch/i)
    await producer.disconnect()
  })

  it('sendOffsets: the group sees a transaction\'s offsets only once it commits', async () => {
    const producer = transactionalProducer('tx-eos')
    await producer.connect()
    const admin = kafka.admin()
    await admin.connect()
    const groupOffset = async (): Promise<string | undefined> => {
      const [topic] = await admin.fetchOffsets({ groupId: 'eos', topics: ['tx-in'] })
      return topic?.partitions.find((p) => p.partition === 0)?.offset
    }
    const aborted = await producer.transaction()
    await aborted.send({ topic: 'tx-out', messages: [{ value: 'out-aborted' }] })
    await aborted.sendOffsets({ consumerGroupId: 'eos', topics: [{ topic: 'tx-in', partitions: [{ partition: 0, offset: '5' }] }] })
    await aborted.abort()
    expect(await groupOffset()).toBe('-1')

    const committed = await producer.transaction()
    await committed.send({ topic: 'tx-out', messages: [{ value: 'out-committed' }] })
    await committed.sendOffsets({ consumerGroupId: 'eos', topics: [{ topic: 'tx-in', partitions: [{ partition: 0, offset: '7' }] }] })
    expect(await groupOffset()).toBe('-1')
    await committed.commit()
    expect(await groupOffset()).toBe('7')
    expect((await readIsolated(raw, 'tx-out', 0, true)).values).toEqual(['out-committed'])
    await Promise.all([producer.disconnect(), admin.disconnect()])
  })
})
