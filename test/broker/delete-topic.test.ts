/**
 * Issue 18, M3: DeleteTopics renames the partition directories aside (`-delete`) before the
 * registry forgets the topic, so an interrupted delete never leaves directories under the
 * topic's own names (a re-created topic would have served the old records); start-up removes
 * the `-delete` directories such a crash leaves.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeRecordBatch } from '../../src/protocol/record-batch.js'
import { RawClient } from './raw-client.js'
import { startTestBroker, type TestBroker } from './test-broker.js'

type Msg = Record<string, any>

let broker: TestBroker
let client: RawClient

beforeAll(async () => {
  broker = await startTestBroker({ autoCreateTopics: false })
  client = await RawClient.connect(broker.port)
})

afterAll(async () => {
  client?.close()
  await broker?.destroy()
})

async function create(name: string, numPartitions: number): Promise<void> {
  const res = await client.request<Msg>(19, 4, { topics: [{ name, numPartitions, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 1000 })
  expect(res.topics[0].errorCode).toBe(0)
}

async function latest(topic: string, partition: number): Promise<number> {
  const res = await client.request<Msg>(2, 5, { replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp: -1 }] }] })
  return res.topics[0].partitions[0].offset
}

describe('DeleteTopics (M3)', () => {
  it('leaves nothing of the topic on disk, and a re-created topic starts empty', async () => {
    await create('m3', 2)
    const produced = await client.request<Msg>(0, 9, { acks: -1, timeoutMs: 1000, topicData: [{ name: 'm3', partitionData: [{ index: 1, records: encodeRecordBatch({ records: [{ value: 'old' }, { value: 'old' }] }) }] }] })
    expect(produced.responses[0].partitionResponses[0].errorCode).toBe(0)
    expect(await latest('m3', 1)).toBe(2)
    const deleted = await client.request<Msg>(20, 4, { topicNames: ['m3'], timeoutMs: 1000 })
    expect(deleted.responses[0].errorCode).toBe(0)
    expect(readdirSync(broker.dataDir).filter((name) => name.startsWith('m3-'))).toEqual([])
    await create('m3', 2)
    expect(await latest('m3', 1)).toBe(0)
  })

  it('removes at start-up the -delete directories an interrupted delete left', async () => {
    client.close()
    await broker.stop()
    const leftover = join(broker.dataDir, 'gone-0.abc123-delete')
    mkdirSync(leftover)
    writeFileSync(join(leftover, '00000000000000000000.log'), 'old records')
    broker = await broker.restart()
    client = await RawClient.connect(broker.port)
    expect(readdirSync(broker.dataDir).filter((name) => name.endsWith('-delete'))).toEqual([])
    expect(await latest('m3', 1)).toBe(0)
  })
})
