/**
 * kafkajs (a real, independent Kafka client) against an in-process broker on the real
 * worker-thread engine: produce with every acks and compression setting, read everything back
 * with raw Fetch requests and compare each record; idempotent producer; admin topics and
 * offsets; a restart between produce and read.
 * `npm test` produces 18,000 records (2,000 a combination: one kafkajs batch per partition and
 * send, 9 combinations); `npm run test:soak` runs this file with 100,008 (RINGLOG_KAFKAJS_RECORDS).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import kafkajs from 'kafkajs'
import { RawClient } from '../broker/raw-client.js'
import { fetchAll, type FetchedRecord } from '../broker/fetch-all.js'
import { eventually, startTestBroker, type TestBroker } from '../broker/test-broker.js'
import './kafkajs-lz4.js'

const { Kafka, CompressionTypes, logLevel } = kafkajs

const TOTAL_RECORDS = Number(process.env.RINGLOG_KAFKAJS_RECORDS ?? 18_000)
const PARTITIONS = 6
const COMBOS = [0, 1, -1].flatMap((acks) => (['none', 'gzip', 'lz4'] as const).map((codec) => ({ acks, codec })))
const PER_COMBO = Math.ceil(TOTAL_RECORDS / COMBOS.length)
const BASE_TIME = 1_710_000_000_000
const CODECS = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP, lz4: CompressionTypes.LZ4 }

let broker: TestBroker

function kafkaClient(port: number): InstanceType<typeof Kafka> {
  return new Kafka({ clientId: 'compat', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100 } })
}

function expected(topic: string, i: number): { key: string; value: string; headers: Record<string, string>; timestamp: number } {
  return { key: `${topic}-key-${i}`, value: `value-${i}-${'v'.repeat(i % 50)}`, headers: { idx: String(i), topic }, timestamp: BASE_TIME + i }
}

function checkRecords(topic: string, records: FetchedRecord[], count: number): void {
  expect(records.length).toBe(count)
  const seen = new Set<number>()
  for (const r of records) {
    const i = Number(r.headers.find((h) => h.key === 'idx')?.value?.toString())
    const e = expected(topic, i)
    seen.add(i)
    if (r.key?.toString() !== e.key || r.value?.toString() !== e.value || r.timestamp !== e.timestamp) {
      throw new Error(`record ${topic}#${i} differs: ${r.key?.toString()} ${r.value?.toString()} ${r.timestamp}`)
    }
    expect(r.headers.map((h) => [h.key, h.value?.toString()])).toEqual([['idx', String(i)], ['topic', topic]])
  }
  expect(seen.size).toBe(count)
}

beforeAll(async () => {
  broker = await startTestBroker({ flush: 'always', numPartitions: PARTITIONS, maxWorkers: 2 })
})

afterAll(async () => {
  await broker?.destroy()
})

describe('kafkajs producer', () => {
  it(`produces ${PER_COMBO * COMBOS.length} records with acks 0/1/-1 and none/gzip/lz4; all read back intact, also after a restart`, async () => {
    const kafka = kafkaClient(broker.port)
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: COMBOS.map(({ acks, codec }) => ({ topic: `p-${codec}-${acks < 0 ? 'all' : acks}`, numPartitions: PARTITIONS })) })
    await admin.disconnect()
    const producer = kafka.producer({ allowAutoTopicCreation: false })
    await producer.connect()
    for (const { acks, codec } of COMBOS) {
      const topic = `p-${codec}-${acks < 0 ? 'all' : acks}`
      for (let from = 0; from < PER_COMBO; from += 2000) {
        const messages = []
        for (let i = from; i < Math.min(PER_COMBO, from + 2000); i++) {
          const e = expected(topic, i)
          messages.push({ key: e.key, value: e.value, headers: e.headers, timestamp: String(e.timestamp) })
        }
        await producer.send({ topic, acks, compression: CODECS[codec], messages })
      }
    }
    await producer.disconnect()

    const client = await RawClient.connect(broker.port)
    for (const { acks, codec } of COMBOS) {
      const topic = `p-${codec}-${acks < 0 ? 'all' : acks}`
      // acks=0 gets no confirmation: wait until the last appends are visible.
      await eventually(async () => {
        const res = await client.request<{ topics: { partitions: { offset: number }[] }[] }>(2, 1, { replicaId: -1, topics: [{ name: topic, partitions: Array.from({ length: PARTITIONS }, (_, p) => ({ partitionIndex: p, timestamp: -1 })) }] })
        return res.topics[0].partitions.reduce((s, p) => s + p.offset, 0) >= PER_COMBO ? true : undefined
      })
      checkRecords(topic, await fetchAll(client, topic, PARTITIONS, 11), PER_COMBO)
    }
    client.close()

    broker = await broker.restart()
    const after = await RawClient.connect(broker.port)
    for (const { acks, codec } of COMBOS) {
      const topic = `p-${codec}-${acks < 0 ? 'all' : acks}`
      checkRecords(topic, await fetchAll(after, topic, PARTITIONS, 4), PER_COMBO)
    }
    after.close()
    // 100,008 records (the soak's count) through kafkajs take about 17 s on 2 cores at load ~8: room for a busier machine.
  }, 240_000)

  it('idempotent producer: every record exactly once, in order per partition', async () => {
    const kafka = kafkaClient(broker.port)
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    const topic = 'idem'
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] })
    await admin.disconnect()
    for (let round = 0; round < 10; round++) {
      const messages = Array.from({ length: 100 }, (_, j) => {
        const e = expected(topic, round * 100 + j)
        return { key: e.key, value: e.value, headers: e.headers, timestamp: String(e.timestamp), partition: j % 2 }
      })
      await producer.send({ topic, acks: -1, messages })
    }
    await producer.disconnect()
    const client = await RawClient.connect(broker.port)
    const records = await fetchAll(client, topic, 2)
    checkRecords(topic, records, 1000)
    for (const p of [0, 1]) {
      const idx = records.filter((r) => r.partition === p).map((r) => Number(r.headers[0].value?.toString()))
      expect(idx).toEqual([...idx].sort((a, b) => a - b))
    }
    client.close()
  })
})

describe('kafkajs admin', () => {
  it('creates, lists and deletes topics; fetches offsets latest, earliest and by timestamp', async () => {
    const kafka = kafkaClient(broker.port)
    const admin = kafka.admin()
    await admin.connect()
    expect(await admin.createTopics({ topics: [{ topic: 'adm-a', numPartitions: 3 }, { topic: 'adm-b' }] })).toBe(true)
    expect(await admin.listTopics()).toEqual(expect.arrayContaining(['adm-a', 'adm-b']))
    await expect(admin.createTopics({ topics: [{ topic: 'adm-a', numPartitions: 3 }], validateOnly: false })).resolves.toBe(false)

    const producer = kafka.producer()
    await producer.connect()
    await producer.send({ topic: 'adm-a', acks: -1, messages: [0, 1, 2, 3].map((i) => ({ value: `m${i}`, partition: 1, timestamp: String(5000 + i * 10) })) })
    await producer.disconnect()

    const offsets = await admin.fetchTopicOffsets('adm-a')
    const p1 = offsets.find((o) => o.partition === 1)
    expect(p1).toMatchObject({ offset: '4', high: '4', low: '0' })
    expect(offsets.filter((o) => o.partition !== 1).every((o) => o.offset === '0')).toBe(true)
    const byTime = await admin.fetchTopicOffsetsByTimestamp('adm-a', 5015)
    expect(byTime.find((o) => o.partition === 1)?.offset).toBe('2')

    await admin.deleteTopics({ topics: ['adm-b'] })
    expect(await admin.listTopics()).not.toContain('adm-b')
    await admin.disconnect()
  })
})
