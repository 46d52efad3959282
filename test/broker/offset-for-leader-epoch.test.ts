import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeRecordBatch } from '../../src/protocol/record-batch.js'
import { RawClient } from './raw-client.js'
import { startTestBroker, type TestBroker } from './test-broker.js'

type Msg = Record<string, any>

let broker: TestBroker
let client: RawClient
const TOPIC = 'ofle'

beforeAll(async () => {
  broker = await startTestBroker()
  client = await RawClient.connect(broker.port)
  const created = await client.request<Msg>(19, 4, { topics: [{ name: TOPIC, numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 1000 })
  expect(created.topics[0].errorCode).toBe(0)
})

afterAll(async () => {
  client?.close()
  await broker?.destroy()
})

async function produce(partition: number, count: number): Promise<number> {
  const records = encodeRecordBatch({ records: Array.from({ length: count }, (_, i) => ({ value: `r${i}`, timestamp: 1_700_000_000_000 + i })) })
  const res = await client.request<Msg>(0, 7, { acks: -1, timeoutMs: 1000, topicData: [{ name: TOPIC, partitionData: [{ index: partition, records }] }] })
  expect(res.responses[0].partitionResponses[0].errorCode).toBe(0)
  return res.responses[0].partitionResponses[0].baseOffset as number
}

async function ask(version: number, partitions: { partition: number; leaderEpoch: number; currentLeaderEpoch?: number }[], topic = TOPIC, replicaId = -1): Promise<Msg[]> {
  const res = await client.request<Msg>(23, version, { replicaId, topics: [{ topic, partitions: partitions.map((p) => ({ currentLeaderEpoch: -1, ...p })) }] })
  expect(res.topics).toHaveLength(1)
  return res.topics[0].partitions as Msg[]
}

describe('OffsetForLeaderEpoch over a socket', () => {
  it('is advertised in ApiVersions as versions 0-4', async () => {
    const res = await client.request<Msg>(18, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' })
    expect(res.apiKeys.find((k: Msg) => k.apiKey === 23)).toEqual({ apiKey: 23, minVersion: 0, maxVersion: 4 })
  })

  it('answers epoch end offsets from the leader-epoch cache in every version', async () => {
    // Single node: appends carry leader epoch 0 until a controller sets another.
    await produce(0, 3)
    await produce(0, 2)
    const engine = broker.server.context.engine
    await engine.setLeaderEpoch(TOPIC, 0, 4)
    const newer = await produce(0, 4)
    expect(newer).toBe(5)
    for (let v = 0; v <= 4; v++) {
      const [epoch0, epoch2, epoch4, epoch9] = await ask(v, [{ partition: 0, leaderEpoch: 0 }, { partition: 0, leaderEpoch: 2 }, { partition: 0, leaderEpoch: 4 }, { partition: 0, leaderEpoch: 9 }], TOPIC, v >= 3 ? 1 : -1)
      expect(epoch0).toMatchObject({ errorCode: 0, partition: 0, endOffset: 5 })
      expect(epoch2).toMatchObject({ errorCode: 0, endOffset: 5 })
      expect(epoch4).toMatchObject({ errorCode: 0, endOffset: 9 })
      expect(epoch9).toMatchObject({ errorCode: 0, endOffset: -1 })
      // The epoch field exists from v1 on.
      if (v >= 1) {
        expect([epoch0.leaderEpoch, epoch2.leaderEpoch, epoch4.leaderEpoch, epoch9.leaderEpoch]).toEqual([0, 0, 4, -1])
      }
    }
  })

  it('answers -1/-1 for a partition no epoch wrote yet, and UNKNOWN_TOPIC_OR_PARTITION for what does not exist', async () => {
    const [empty, missing] = await ask(4, [{ partition: 1, leaderEpoch: 0 }, { partition: 7, leaderEpoch: 0 }])
    expect(empty).toMatchObject({ errorCode: 0, leaderEpoch: -1, endOffset: -1 })
    expect(missing).toMatchObject({ errorCode: 3, partition: 7, leaderEpoch: -1, endOffset: -1 })
    const [unknown] = await ask(2, [{ partition: 0, leaderEpoch: 0 }], 'no-such-topic')
    expect(unknown).toMatchObject({ errorCode: 3 })
  })

  it('fences a stale current_leader_epoch (74) and flags a future one (75)', async () => {
    await broker.server.context.engine.setLeaderEpoch(TOPIC, 1, 6)
    const [stale, future, current, unchecked] = await ask(4, [
      { partition: 1, leaderEpoch: 0, currentLeaderEpoch: 5 },
      { partition: 1, leaderEpoch: 0, currentLeaderEpoch: 7 },
      { partition: 1, leaderEpoch: 0, currentLeaderEpoch: 6 },
      { partition: 1, leaderEpoch: 0, currentLeaderEpoch: -1 },
    ], TOPIC, 2)
    expect(stale).toMatchObject({ errorCode: 74, leaderEpoch: -1, endOffset: -1 })
    expect(future).toMatchObject({ errorCode: 75, leaderEpoch: -1, endOffset: -1 })
    expect(current).toMatchObject({ errorCode: 0 })
    expect(unchecked).toMatchObject({ errorCode: 0 })
    // v0-1 carry no current_leader_epoch: never fenced.
    const [old] = await ask(1, [{ partition: 1, leaderEpoch: 0 }])
    expect(old).toMatchObject({ errorCode: 0 })
  })
})
