import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeRecordBatch } from '../../src/protocol/record-batch.js'
import { HANDLERS } from '../../src/broker/handlers/index.js'
import { ZERO_UUID } from '../../src/protocol/primitives.js'
import { RawClient } from './raw-client.js'
import { decodeRecordSet, fetchAll } from './fetch-all.js'
import { eventually, startTestBroker, type TestBroker } from './test-broker.js'

type Msg = Record<string, any>

let broker: TestBroker
let client: RawClient

beforeAll(async () => {
  broker = await startTestBroker({ numPartitions: 2 })
  client = await RawClient.connect(broker.port)
})

afterAll(async () => {
  client?.close()
  await broker?.destroy()
})

async function createTopic(name: string, numPartitions: number): Promise<void> {
  const res = await client.request<Msg>(19, 4, { topics: [{ name, numPartitions, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 1000 })
  expect(res.topics[0].errorCode).toBe(0)
}

function batch(values: string[], timestamp = 1_700_000_000_000): Buffer {
  return encodeRecordBatch({ records: values.map((v, i) => ({ key: `k-${v}`, value: v, headers: { h: `hv-${i}` }, timestamp: timestamp + i })) })
}

describe('ApiVersions', () => {
  it('advertises exactly the handler list in every version 0-3', async () => {
    const expected = HANDLERS.map((h) => ({ apiKey: h.apiKey, minVersion: h.minVersion, maxVersion: h.maxVersion })).sort((a, b) => a.apiKey - b.apiKey)
    for (let v = 0; v <= 3; v++) {
      const res = await client.request<Msg>(18, v, { clientSoftwareName: 'test', clientSoftwareVersion: '1' })
      expect(res.errorCode).toBe(0)
      expect(res.apiKeys).toEqual(expected)
    }
    expect(expected.find((a) => a.apiKey === 1)).toEqual({ apiKey: 1, minVersion: 0, maxVersion: 16 })
    expect(expected.find((a) => a.apiKey === 0)).toEqual({ apiKey: 0, minVersion: 0, maxVersion: 11 })
  })

  it('answers an unsupported version with a v0 UNSUPPORTED_VERSION body and keeps the connection', async () => {
    const c = await RawClient.connect(broker.port)
    // ApiVersions v7: header v2 (flexible), an empty flexible body; the reply must be a v0 body.
    const frame = Buffer.from([0, 0, 0, 0, 0, 18, 0, 7, 0, 0, 0, 42, 0, 1, 0x78, 0, 0, 0, 0])
    frame.writeInt32BE(frame.length - 4, 0)
    const response = await c.send(frame)
    expect(response.readInt32BE(0)).toBe(42)
    expect(response.readInt16BE(4)).toBe(35)
    const count = response.readInt32BE(6)
    expect(count).toBe(HANDLERS.length)
    const meta = await c.request<Msg>(3, 1, { topics: [] })
    expect(meta.brokers).toHaveLength(1)
    c.close()
  })
})

describe('Metadata', () => {
  it('auto-creates an unknown topic: LEADER_NOT_AVAILABLE first, then the topic', async () => {
    const first = await client.request<Msg>(3, 9, { topics: [{ name: 'auto-1' }], allowAutoTopicCreation: true })
    expect(first.topics[0].errorCode).toBe(5)
    const topic = await eventually(async () => {
      const res = await client.request<Msg>(3, 10, { topics: [{ name: 'auto-1' }], allowAutoTopicCreation: true })
      return res.topics[0].errorCode === 0 ? res.topics[0] : undefined
    })
    expect(topic.partitions).toHaveLength(2)
    expect(topic.topicId).not.toBe(ZERO_UUID)
    expect(topic.partitions[1]).toMatchObject({ partitionIndex: 1, leaderId: 0, leaderEpoch: 0, replicaNodes: [0], isrNodes: [0] })
  })

  it('does not create when the request forbids it, and rejects illegal names', async () => {
    const res = await client.request<Msg>(3, 4, { topics: [{ name: 'never-made' }, { name: 'bad name!' }], allowAutoTopicCreation: false })
    expect(res.topics.map((t: Msg) => t.errorCode)).toEqual([3, 17])
    const again = await client.request<Msg>(3, 4, { topics: [{ name: 'never-made' }], allowAutoTopicCreation: false })
    expect(again.topics[0].errorCode).toBe(3)
  })

  it('lists all topics for v0 [] and v1+ null, none for v1+ []', async () => {
    await createTopic('listed', 1)
    const v0 = await client.request<Msg>(3, 0, { topics: [] })
    expect(v0.topics.map((t: Msg) => t.name)).toContain('listed')
    const v12 = await client.request<Msg>(3, 12, { topics: null })
    expect(v12.topics.map((t: Msg) => t.name)).toContain('listed')
    expect(v12.brokers[0]).toMatchObject({ nodeId: 0, host: '127.0.0.1', port: broker.port })
    expect(v12.clusterId).toBe('ringlog-cluster')
    const none = await client.request<Msg>(3, 1, { topics: [] })
    expect(none.topics).toEqual([])
  })

  it('looks topics up by id in v12', async () => {
    const named = await client.request<Msg>(3, 12, { topics: [{ name: 'listed' }] })
    const id = named.topics[0].topicId
    const byId = await client.request<Msg>(3, 12, { topics: [{ topicId: id, name: null }] })
    expect(byId.topics[0]).toMatchObject({ errorCode: 0, name: 'listed', topicId: id })
  })
})

describe('Produce and Fetch', () => {
  it('round-trips records in every Produce (3-11) and Fetch (4-12) version', async () => {
    await createTopic('rt', 1)
    const sent: string[] = []
    for (let v = 3; v <= 11; v++) {
      const values = [`v${v}-a`, `v${v}-b`]
      sent.push(...values)
      const res = await client.request<Msg>(0, v, { acks: -1, timeoutMs: 1000, transactionalId: null, topicData: [{ name: 'rt', partitionData: [{ index: 0, records: batch(values) }] }] })
      const p = res.responses[0].partitionResponses[0]
      expect(p.errorCode).toBe(0)
      expect(p.baseOffset).toBe(sent.length - 2)
    }
    for (let v = 4; v <= 12; v++) {
      const records = await fetchAll(client, 'rt', 1, v)
      expect(records.map((r) => r.value?.toString())).toEqual(sent)
      expect(records.map((r) => r.offset)).toEqual(sent.map((_, i) => i))
      expect(records[1].key?.toString()).toBe(`k-${sent[1]}`)
      expect(records[1].headers[0].value?.toString()).toBe('hv-1')
      expect(records[1].timestamp).toBe(1_700_000_000_001)
    }
  })

  it('refuses a RecordBatch v2 in Produce v0-2 (message format v0/v1 only) per partition with INVALID_RECORD and stores nothing', async () => {
    await createTopic('old-format', 1)
    for (let v = 0; v <= 2; v++) {
      const res = await client.request<Msg>(0, v, { acks: -1, timeoutMs: 1000, topicData: [{ name: 'old-format', partitionData: [{ index: 0, records: batch(['old']) }] }] })
      expect(res.responses[0].partitionResponses[0].errorCode).toBe(87)
    }
    const offsets = await client.request<Msg>(2, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'old-format', partitions: [{ partitionIndex: 0, timestamp: -1 }] }] })
    expect(offsets.topics[0].partitions[0].offset).toBe(0)
  })

  it('returns at least one batch beyond partitionMaxBytes and maxBytes (KIP-74), and respects maxBytes for later partitions', async () => {
    await createTopic('kip74', 2)
    for (const index of [0, 1]) {
      await client.request<Msg>(0, 7, { acks: 1, timeoutMs: 1000, topicData: [{ name: 'kip74', partitionData: [{ index, records: batch(['x'.repeat(1000), 'y']) }] }] })
      await client.request<Msg>(0, 7, { acks: 1, timeoutMs: 1000, topicData: [{ name: 'kip74', partitionData: [{ index, records: batch(['z']) }] }] })
    }
    const res = await client.request<Msg>(1, 11, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 10, isolationLevel: 0,
      topics: [{ topic: 'kip74', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 10 }, { partition: 1, fetchOffset: 0, partitionMaxBytes: 10 }] }],
    })
    const [p0, p1] = res.responses[0].partitions
    expect(decodeRecordSet(0, p0.records).map((r) => r.value?.toString().slice(0, 1))).toEqual(['x', 'y'])
    expect(p1.records?.length ?? 0).toBe(0)
    expect(p1.highWatermark).toBe(3)
  })

  it('answers OFFSET_OUT_OF_RANGE past the end and UNKNOWN_TOPIC_OR_PARTITION for unknown partitions', async () => {
    const res = await client.request<Msg>(1, 12, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1000, isolationLevel: 0,
      topics: [
        { topic: 'rt', partitions: [{ partition: 0, fetchOffset: 999, partitionMaxBytes: 1000 }, { partition: 7, fetchOffset: 0, partitionMaxBytes: 1000 }] },
        { topic: 'nope', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1000 }] },
      ],
    })
    expect(res.sessionId).toBe(0)
    expect(res.responses[0].partitions.map((p: Msg) => p.errorCode)).toEqual([1, 3])
    expect(res.responses[1].partitions[0].errorCode).toBe(3)
  })

  it('parks a fetch until data arrives (long poll) and keeps responses in request order', async () => {
    await createTopic('lp', 1)
    const fetching = client.request<Msg>(1, 11, {
      replicaId: -1, maxWaitMs: 20_000, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0,
      topics: [{ topic: 'lp', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] }],
    })
    // A request pipelined behind the parked fetch on the same connection completes first inside
    // the broker, but its response must still come second.
    const meta = client.request<Msg>(3, 1, { topics: [] })
    const other = await RawClient.connect(broker.port)
    await other.request<Msg>(0, 9, { acks: 1, timeoutMs: 1000, topicData: [{ name: 'lp', partitionData: [{ index: 0, records: batch(['woken']) }] }] })
    other.close()
    const res = await fetching
    await meta
    expect(decodeRecordSet(0, res.responses[0].partitions[0].records).map((r) => r.value?.toString())).toEqual(['woken'])
    const ids = client.receivedCorrelationIds
    expect([...ids].sort((a, b) => a - b)).toEqual(ids)
  })

  it('sends no response for acks=0 and INVALID_REQUIRED_ACKS for acks=2', async () => {
    await createTopic('acks', 1)
    await client.request(0, 8, { acks: 0, timeoutMs: 1000, topicData: [{ name: 'acks', partitionData: [{ index: 0, records: batch(['zero']) }] }] }, { expectResponse: false })
    const bad = await client.request<Msg>(0, 8, { acks: 2, timeoutMs: 1000, topicData: [{ name: 'acks', partitionData: [{ index: 0, records: batch(['two']) }] }] })
    expect(bad.responses[0].partitionResponses[0].errorCode).toBe(21)
    // acks=0 promises nothing about when the record becomes visible: wait for it (bounded).
    const values = await eventually(async () => {
      const records = await fetchAll(client, 'acks', 1)
      return records.length > 0 ? records.map((r) => r.value?.toString()) : undefined
    })
    expect(values).toEqual(['zero'])
  })

  it('maps a bad CRC to CORRUPT_MESSAGE and an unknown topic to UNKNOWN_TOPIC_OR_PARTITION', async () => {
    const corrupt = batch(['crc'])
    corrupt[corrupt.length - 1] ^= 0xff
    const res = await client.request<Msg>(0, 9, { acks: -1, timeoutMs: 1000, topicData: [
      { name: 'acks', partitionData: [{ index: 0, records: corrupt }] },
      { name: 'missing-topic', partitionData: [{ index: 0, records: batch(['m']) }] },
    ] })
    expect(res.responses[0].partitionResponses[0].errorCode).toBe(2)
    expect(res.responses[1].partitionResponses[0].errorCode).toBe(3)
  })
})

describe('ListOffsets', () => {
  it('answers earliest, latest and by timestamp', async () => {
    await createTopic('lo', 1)
    await client.request<Msg>(0, 9, { acks: -1, timeoutMs: 1000, topicData: [{ name: 'lo', partitionData: [{ index: 0, records: batch(['a', 'b', 'c'], 1000) }] }] })
    for (const v of [1, 4, 7]) {
      // One timestamp per request: a partition named twice in one request is refused (as Kafka does).
      const answers: Msg[] = []
      for (const timestamp of [-2, -1, 1001, 99_999]) {
        const res = await client.request<Msg>(2, v, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'lo', partitions: [{ partitionIndex: 0, timestamp }] }, { name: 'nope', partitions: [{ partitionIndex: 0, timestamp: -1 }] }] })
        expect(res.topics[1].partitions[0].errorCode).toBe(3)
        answers.push(res.topics[0].partitions[0])
      }
      expect(answers.map((p: Msg) => [p.errorCode, p.offset])).toEqual([[0, 0], [0, 3], [0, 1], [0, -1]])
      expect(answers[2].timestamp).toBe(1001)
    }
  })
})

describe('CreateTopics and DeleteTopics', () => {
  it('validates like Kafka', async () => {
    await createTopic('exists', 1)
    const res = await client.request<Msg>(19, 7, { validateOnly: false, timeoutMs: 1000, topics: [
      { name: 'exists', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
      { name: 'rf3', numPartitions: 1, replicationFactor: 3, assignments: [], configs: [] },
      { name: 'zero', numPartitions: 0, replicationFactor: 1, assignments: [], configs: [] },
      { name: 'bad/name', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
      { name: 'cfg', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'no.such.config', value: '1' }] },
      { name: 'dflt', numPartitions: -1, replicationFactor: -1, assignments: [], configs: [{ name: 'retention.ms', value: '1000' }] },
    ] })
    expect(res.topics.map((t: Msg) => [t.name, t.errorCode])).toEqual([['exists', 36], ['rf3', 38], ['zero', 37], ['bad/name', 17], ['cfg', 40], ['dflt', 0]])
    expect(res.topics[5]).toMatchObject({ numPartitions: 2, replicationFactor: 1 })
    expect(res.topics[5].topicId).not.toBe(ZERO_UUID)
    const dup = await client.request<Msg>(19, 2, { timeoutMs: 1000, topics: [
      { name: 'twice', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
      { name: 'twice', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
    ] })
    expect(dup.topics.map((t: Msg) => t.errorCode)).toEqual([42, 42])
  })

  it('validateOnly creates nothing', async () => {
    const res = await client.request<Msg>(19, 5, { validateOnly: true, timeoutMs: 1000, topics: [{ name: 'dry', numPartitions: 3, replicationFactor: 1, assignments: [], configs: [] }] })
    expect(res.topics[0]).toMatchObject({ errorCode: 0, numPartitions: 3 })
    const meta = await client.request<Msg>(3, 4, { topics: [{ name: 'dry' }], allowAutoTopicCreation: false })
    expect(meta.topics[0].errorCode).toBe(3)
  })

  it('deletes by name (v0-5) and by id (v6)', async () => {
    await createTopic('del-a', 1)
    await createTopic('del-b', 1)
    const byName = await client.request<Msg>(20, 4, { topicNames: ['del-a', 'del-none'], timeoutMs: 1000 })
    expect(byName.responses.map((r: Msg) => r.errorCode)).toEqual([0, 3])
    const meta = await client.request<Msg>(3, 12, { topics: [{ name: 'del-b' }] })
    const id = meta.topics[0].topicId
    const byId = await client.request<Msg>(20, 6, { topics: [{ name: null, topicId: id }, { name: null, topicId: 'AAAAAAAAAAAAAAAAAAAAAQ' }], timeoutMs: 1000 })
    expect(byId.responses.map((r: Msg) => r.errorCode)).toEqual([0, 100])
    expect(byId.responses[0].name).toBe('del-b')
    const after = await client.request<Msg>(3, 4, { topics: [{ name: 'del-a' }, { name: 'del-b' }], allowAutoTopicCreation: false })
    expect(after.topics.map((t: Msg) => t.errorCode)).toEqual([3, 3])
  })
})

describe('InitProducerId', () => {
  it('hands out distinct ids with epoch 0; a transactional id keeps its id and bumps its epoch', async () => {
    const a = await client.request<Msg>(22, 0, { transactionalId: null, transactionTimeoutMs: 1000 })
    const b = await client.request<Msg>(22, 4, { transactionalId: null, transactionTimeoutMs: 1000, producerId: -1, producerEpoch: -1 })
    expect(a).toMatchObject({ errorCode: 0, producerEpoch: 0 })
    expect(b.producerId).toBeGreaterThan(a.producerId)
    const txn = await client.request<Msg>(22, 2, { transactionalId: 'tx', transactionTimeoutMs: 1000 })
    expect(txn).toMatchObject({ errorCode: 0, producerEpoch: 0 })
    const again = await client.request<Msg>(22, 2, { transactionalId: 'tx', transactionTimeoutMs: 1000 })
    expect(again).toMatchObject({ errorCode: 0, producerId: txn.producerId, producerEpoch: 1 })
    const tooLong = await client.request<Msg>(22, 2, { transactionalId: 'tx', transactionTimeoutMs: 900_001 })
    expect(tooLong.errorCode).toBe(50)
  })
})
