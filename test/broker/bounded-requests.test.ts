/**
 * Issue 18, H2: a request's work is bounded by what the broker controls, not by counts the
 * client claims. Repeated topics and partitions are folded (Metadata, Fetch) or refused per
 * entry as Kafka does (ListOffsets, CreateTopics, DeleteTopics: INVALID_REQUEST); a Metadata
 * request naming too many distinct topics closes its connection. Real sockets throughout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_DISTINCT_TOPICS } from '../../src/broker/handlers/03-metadata.js'
import { encodeRecordBatch } from '../../src/protocol/record-batch.js'
import { RawClient } from './raw-client.js'
import { startTestBroker, type TestBroker } from './test-broker.js'

type Msg = Record<string, any>

const INVALID_REQUEST = 42

let broker: TestBroker
let client: RawClient

beforeAll(async () => {
  broker = await startTestBroker({ numPartitions: 2, autoCreateTopics: false })
  client = await RawClient.connect(broker.port)
  const created = await client.request<Msg>(19, 4, { topics: [{ name: 'h2', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 1000 })
  expect(created.topics[0].errorCode).toBe(0)
  const produced = await client.request<Msg>(0, 7, { acks: 1, timeoutMs: 1000, topicData: [{ name: 'h2', partitionData: [{ index: 0, records: encodeRecordBatch({ records: [{ value: 'one' }, { value: 'two' }] }) }] }] })
  expect(produced.responses[0].partitionResponses[0].errorCode).toBe(0)
})

afterAll(async () => {
  client?.close()
  await broker?.destroy()
})

function peakRssMiB(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024)
}

describe('Metadata', () => {
  it('answers one topic named 1,000,000 times with one entry, and other clients are served meanwhile', async () => {
    const other = await RawClient.connect(broker.port)
    const rssBefore = peakRssMiB()
    const names = Array.from({ length: 1_000_000 }, () => ({ name: 'h2' }))
    const big = client.request<Msg>(3, 8, { topics: names, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false })
    const meanwhile = other.request<Msg>(18, 3, { clientSoftwareName: 'other', clientSoftwareVersion: '1' })
    const [res, otherRes] = await Promise.all([big, meanwhile])
    expect(otherRes.errorCode).toBe(0)
    expect(res.topics).toHaveLength(1)
    expect(res.topics[0]).toMatchObject({ name: 'h2', errorCode: 0 })
    expect(res.topics[0].partitions).toHaveLength(2)
    console.log(`H2: Metadata with 1,000,000 copies of one name: peak RSS of the test process (broker in it) ${rssBefore} MiB before, ${peakRssMiB()} MiB after`)
    other.close()
  })

  it('folds repeated unknown names and topic ids as well', async () => {
    const res = await client.request<Msg>(3, 8, { topics: [{ name: 'nope' }, { name: 'h2' }, { name: 'nope' }, { name: 'h2' }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false })
    expect(res.topics.map((t: Msg) => [t.name, t.errorCode])).toEqual([['nope', 3], ['h2', 0]])
  })

  it(`closes the connection of a request naming more than ${MAX_DISTINCT_TOPICS} distinct topics, and keeps serving others`, async () => {
    const greedy = await RawClient.connect(broker.port)
    await greedy.request<Msg>(18, 3, { clientSoftwareName: 'greedy', clientSoftwareVersion: '1' })
    const names = Array.from({ length: MAX_DISTINCT_TOPICS + 1 }, (_, i) => ({ name: `t${i}` }))
    await expect(greedy.request<Msg>(3, 8, { topics: names, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false })).rejects.toThrow()
    const res = await client.request<Msg>(3, 8, { topics: [{ name: 'h2' }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false })
    expect(res.topics[0].errorCode).toBe(0)
  })
})

describe('other handlers with repeated topics or partitions', () => {
  it('Fetch reads a partition named many times once, at its first place', async () => {
    const partition = { partition: 0, fetchOffset: 0, partitionMaxBytes: 1024 * 1024 }
    const res = await client.request<Msg>(1, 11, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 64 * 1024 * 1024, isolationLevel: 0,
      topics: [{ topic: 'h2', partitions: Array.from({ length: 1000 }, () => partition) }, { topic: 'h2', partitions: [{ ...partition, partition: 1 }, partition] }],
    })
    const answered = res.responses.flatMap((t: Msg) => t.partitions.map((p: Msg) => `${t.topic}-${p.partitionIndex}`))
    expect(answered).toEqual(['h2-0', 'h2-1'])
    expect(res.responses[0].partitions[0].records.length).toBeGreaterThan(0)
  })

  it('ListOffsets refuses a partition named twice with INVALID_REQUEST and answers the rest', async () => {
    const res = await client.request<Msg>(2, 5, {
      replicaId: -1, isolationLevel: 0,
      topics: [{ name: 'h2', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }, { partitionIndex: 1, currentLeaderEpoch: -1, timestamp: -1 }, { partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -2 }] }],
    })
    expect(res.topics[0].partitions.map((p: Msg) => [p.partitionIndex, p.errorCode])).toEqual([[0, INVALID_REQUEST], [1, 0], [0, INVALID_REQUEST]])
  })

  it('DeleteTopics refuses a topic named twice with INVALID_REQUEST and deletes nothing for it', async () => {
    const res = await client.request<Msg>(20, 4, { topicNames: ['h2', 'h2'], timeoutMs: 1000 })
    expect(res.responses.map((r: Msg) => r.errorCode)).toEqual([INVALID_REQUEST, INVALID_REQUEST])
    const meta = await client.request<Msg>(3, 8, { topics: [{ name: 'h2' }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false })
    expect(meta.topics[0].errorCode).toBe(0)
  })

  it('CreateTopics refuses a topic named twice with INVALID_REQUEST and creates nothing for it', async () => {
    const topic = { name: 'h2-twice', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }
    const res = await client.request<Msg>(19, 4, { topics: [topic, topic], timeoutMs: 1000 })
    expect(res.topics.map((t: Msg) => t.errorCode)).toEqual([INVALID_REQUEST, INVALID_REQUEST])
    const meta = await client.request<Msg>(3, 8, { topics: [{ name: 'h2-twice' }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false })
    expect(meta.topics[0].errorCode).toBe(3)
  })
})
