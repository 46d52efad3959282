/** startBroker() in this process: defaults a test wants, a real kafkajs client, stop() cleans up. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kafka, logLevel } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { startBroker } from '../../src/index.js'

describe('startBroker()', () => {
  it('serves kafkajs on 127.0.0.1 with a temporary data dir that stop() removes', async () => {
    const broker = await startBroker({ partitions: 3 })
    try {
      expect(broker.brokers).toEqual([`127.0.0.1:${broker.port}`])
      expect(broker.port).toBeGreaterThan(0)
      expect(existsSync(broker.dataDir)).toBe(true)
      const kafka = new Kafka({ clientId: 'start-broker-test', brokers: broker.brokers, logLevel: logLevel.NOTHING, retry: { retries: 10 } })
      const producer = kafka.producer({ allowAutoTopicCreation: true })
      await producer.connect()
      const [meta] = await producer.send({ topic: 'auto', messages: [{ value: 'a' }] })
      await producer.disconnect()
      expect(meta.errorCode).toBe(0)
      const admin = kafka.admin()
      await admin.connect()
      const topics = await admin.fetchTopicMetadata({ topics: ['auto'] })
      await admin.disconnect()
      expect(topics.topics[0].partitions).toHaveLength(3)
    } finally {
      await broker.stop()
    }
    expect(existsSync(broker.dataDir)).toBe(false)
    await broker.stop()
  })

  it('keeps a data dir it was given, and a second start finds the data', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringlog-start-broker-'))
    try {
      const first = await startBroker({ dataDir: dir, flush: 'always' })
      const kafka = new Kafka({ clientId: 'keep', brokers: first.brokers, logLevel: logLevel.NOTHING })
      const producer = kafka.producer()
      await producer.connect()
      await producer.send({ topic: 'kept', messages: [{ value: 'x' }, { value: 'y' }] })
      await producer.disconnect()
      await first.stop()
      expect(existsSync(dir)).toBe(true)

      const second = await startBroker({ dataDir: dir })
      try {
        const admin = new Kafka({ clientId: 'keep2', brokers: second.brokers, logLevel: logLevel.NOTHING }).admin()
        await admin.connect()
        const offsets = await admin.fetchTopicOffsets('kept')
        await admin.disconnect()
        expect(offsets).toEqual([expect.objectContaining({ partition: 0, high: '2' })])
      } finally {
        await second.stop()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuses a bad setting with a typed error and leaves no temporary dir behind', async () => {
    await expect(startBroker({ config: { maxWorkers: Number.NaN } })).rejects.toThrow(/maxWorkers/)
  })
})
