/**
 * The embedded transactional producer (`producer.transaction()`, shaped like kafkajs): commit,
 * abort and sendOffsets, then the log is closed and served over the wire so a read_committed
 * reader and kafkajs's admin check what they left; a second producer with the same
 * transactional id fences the first (typed errors).
 */
import { afterAll, describe, expect, it } from 'vitest'
import kafkajs from 'kafkajs'
import { InvalidProducerEpochError, ProducerFencedError } from '../../src/index.js'
import { RawClient } from '../broker/raw-client.js'
import { startTestBroker } from '../broker/test-broker.js'
import { readIsolated } from '../transactions/read-isolated.js'
import { openLog, removeDir, tempDataDir } from './helpers.js'

const TXN = { transactionStateLogNumPartitions: 1, offsetsTopicNumPartitions: 1 } as const

describe('embedded transactions', () => {
  const dir = tempDataDir()
  afterAll(() => removeDir(dir))

  it('commits, aborts and commits offsets; a zombie producer is fenced', async () => {
    const log = await openLog(dir, TXN)
    await log.admin().createTopics({ topics: [{ topic: 'etx', numPartitions: 2 }, { topic: 'ein', numPartitions: 1 }] })
    const producer = log.producer({ transactionalId: 'emb', batchBytes: 1024 })
    const committed = await producer.transaction()
    const values = Array.from({ length: 300 }, (_, i) => `c${i}`)
    await committed.send({ topic: 'etx', messages: values.map((value, i) => ({ value, partition: i % 2 })) })
    await committed.sendOffsets({ consumerGroupId: 'eg', topics: [{ topic: 'ein', partitions: [{ partition: 0, offset: '12' }] }] })
    await committed.commit()
    expect(committed.isActive()).toBe(false)

    const aborted = await producer.transaction()
    await aborted.send({ topic: 'etx', messages: [{ value: 'a0', partition: 0 }, { value: 'a1', partition: 1 }] })
    await aborted.sendOffsets({ consumerGroupId: 'eg', topics: [{ topic: 'ein', partitions: [{ partition: 0, offset: '99' }] }] })
    await aborted.abort()

    const open = await producer.transaction()
    await open.send({ topic: 'etx', messages: [{ value: 'zombie', partition: 0 }] })
    const successor = log.producer({ transactionalId: 'emb' })
    const fresh = await successor.transaction()
    await expect(open.send({ topic: 'etx', messages: [{ value: 'zombie-2', partition: 0 }] })).rejects.toBeInstanceOf(InvalidProducerEpochError)
    await expect(open.abort()).rejects.toBeInstanceOf(ProducerFencedError)
    await fresh.send({ topic: 'etx', messages: [{ value: 'end', partition: 1 }] })
    await fresh.commit()
    await log.close()

    const broker = await startTestBroker(TXN, undefined, dir)
    const raw = await RawClient.connect(broker.port)
    const kafka = new kafkajs.Kafka({ clientId: 'check', brokers: [`127.0.0.1:${broker.port}`], logLevel: kafkajs.logLevel.NOTHING })
    const admin = kafka.admin()
    try {
      const p0 = await readIsolated(raw, 'etx', 0, true)
      const p1 = await readIsolated(raw, 'etx', 1, true)
      expect(p0.values).toEqual(values.filter((_, i) => i % 2 === 0))
      expect(p1.values).toEqual([...values.filter((_, i) => i % 2 === 1), 'end'])
      for (const p of [p0, p1]) expect(p.lastStableOffset).toBe(p.highWatermark)
      expect((await readIsolated(raw, 'etx', 0, false)).values.slice(-2)).toEqual(['a0', 'zombie'])
      await admin.connect()
      const [topic] = await admin.fetchOffsets({ groupId: 'eg', topics: ['ein'] })
      expect(topic?.partitions).toEqual([expect.objectContaining({ partition: 0, offset: '12' })])
    } finally {
      await admin.disconnect()
      raw.close()
      await broker.stop()
    }
  })
})
