/**
 * Fetch v13-16 name topics by id: records come back under the id the request used, an unknown
 * id is UNKNOWN_TOPIC_ID per partition (not a closed connection), and v12 still goes by name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { topicIdToWire } from '../../src/core/topic-ids.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { ZERO_UUID } from '../../src/protocol/primitives.js'
import { decodeRecordSet } from './fetch-all.js'
import { RawClient } from './raw-client.js'
import { startTestBroker, type TestBroker } from './test-broker.js'

interface Partition { partitionIndex: number; errorCode: number; highWatermark: number; records: Buffer | null }
interface FetchResult { responses: { topic: string; topicId: string; partitions: Partition[] }[] }

let broker: TestBroker
let client: RawClient
let topicId: string

beforeAll(async () => {
  broker = await startTestBroker({ numPartitions: 2 })
  const info = await broker.server.context.createTopic('by-id', 2)
  topicId = topicIdToWire(info.topicId)
  for (let p = 0; p < 2; p++) {
    await broker.server.context.engine.appendRecords('by-id', p, [0, 1, 2].map((i) => ({ key: null, value: Buffer.from(`p${p}-${i}`), headers: [], timestamp: 1000 + i })), { acks: -1, compression: 0 })
  }
  client = await RawClient.connect(broker.port)
})

afterAll(async () => {
  client?.close()
  await broker?.destroy()
})

function fetch(version: number, topics: { topic?: string; topicId?: string; partitions: number[] }[]): Promise<FetchResult> {
  return client.request<FetchResult>(1, version, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: topics.map((t) => ({ topic: t.topic ?? '', topicId: t.topicId ?? ZERO_UUID, partitions: t.partitions.map((partition) => ({ partition, fetchOffset: 0, partitionMaxBytes: 1 << 20 })) })),
    forgottenTopicsData: [], rackId: '',
  })
}

describe('Fetch by topic id', () => {
  it('v13 to v16 answer under the id asked, with the records', async () => {
    for (const version of [13, 14, 15, 16]) {
      const r = await fetch(version, [{ topicId, partitions: [0, 1] }])
      expect(r.responses).toHaveLength(1)
      expect(r.responses[0].topicId).toBe(topicId)
      expect(r.responses[0].partitions.map((p) => [p.partitionIndex, p.errorCode, p.highWatermark])).toEqual([[0, 0, 3], [1, 0, 3]])
      expect(decodeRecordSet(1, r.responses[0].partitions[1].records).map((rec) => rec.value?.toString())).toEqual(['p1-0', 'p1-1', 'p1-2'])
    }
  })

  it('an unknown id is UNKNOWN_TOPIC_ID on each of its partitions; the connection stays usable', async () => {
    const unknown = topicIdToWire('00000000-0000-4000-8000-000000000001')
    const r = await fetch(13, [{ topicId: unknown, partitions: [0, 5] }, { topicId, partitions: [0] }])
    expect(r.responses.map((t) => [t.topicId, t.partitions.map((p) => p.errorCode)])).toEqual([
      [unknown, [ErrorCode.UNKNOWN_TOPIC_ID, ErrorCode.UNKNOWN_TOPIC_ID]],
      [topicId, [ErrorCode.NONE]],
    ])
  })

  it('v12 still names topics, and a topic id in the name field is an unknown topic', async () => {
    const r = await fetch(12, [{ topic: 'by-id', partitions: [0] }, { topic: topicId, partitions: [0] }])
    expect(r.responses.map((t) => [t.topic, t.partitions[0].errorCode])).toEqual([['by-id', 0], [topicId, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]])
  })
})
