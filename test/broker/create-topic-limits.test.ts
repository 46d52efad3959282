/**
 * Issue 18, H5: CreateTopics checks every limit before any work, and a create that fails
 * midway undoes itself: nothing stays open, no directory is left, later creates work, the
 * broker closes cleanly and reopens without orphans.
 */
import { readdirSync, readlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeRecordBatch } from '../../src/protocol/record-batch.js'
import { RawClient } from './raw-client.js'
import { startTestBroker, type TestBroker } from './test-broker.js'

type Msg = Record<string, any>

const INVALID_PARTITIONS = 37
/** startTestBroker runs 2 partition workers of 4096 slots each. */
const ENGINE_CAPACITY = 2 * 4096

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

function create(name: string, numPartitions: number): Promise<Msg> {
  return client.request<Msg>(19, 4, { topics: [{ name, numPartitions, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 1000 })
}

function entriesFor(topic: string): string[] {
  return readdirSync(broker.dataDir).filter((name) => name.startsWith(`${topic}-`))
}

function openDescriptorsOf(fragment: string): number {
  let count = 0
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).includes(fragment)) count++
    } catch {
      // closed between the listing and the readlink
    }
  }
  return count
}

async function metadataError(topic: string): Promise<number> {
  const res = await client.request<Msg>(3, 8, { topics: [{ name: topic }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false })
  return res.topics[0].errorCode
}

describe('CreateTopics limits (H5)', () => {
  it('undoes a create that fails midway: its partitions closed, its directories removed', async () => {
    // A file where partition 3's directory would go makes that partition's open fail.
    writeFileSync(join(broker.dataDir, 'h5-mid-3'), 'in the way')
    const res = await create('h5-mid', 8)
    expect(res.topics[0].errorCode).not.toBe(0)
    expect(entriesFor('h5-mid')).toEqual(['h5-mid-3'])
    expect(openDescriptorsOf('h5-mid-')).toBe(0)
    expect(await metadataError('h5-mid')).toBe(3)
  })

  it('refuses more partitions than the engine can hold before opening any', async () => {
    const res = await create('h5-big', 10_000)
    expect(res.topics[0].errorCode).toBe(INVALID_PARTITIONS)
    expect(res.topics[0].errorMessage).toContain(`${ENGINE_CAPACITY} more partitions`)
    expect(entriesFor('h5-big')).toEqual([])
    expect(openDescriptorsOf('h5-big-')).toBe(0)
    expect(await metadataError('h5-big')).toBe(3)
  })

  it('creates and serves a normal topic afterwards, closes cleanly and reopens without orphans', async () => {
    const res = await create('h5-ok', 4)
    expect(res.topics[0].errorCode).toBe(0)
    const produced = await client.request<Msg>(0, 9, { acks: -1, timeoutMs: 1000, topicData: [{ name: 'h5-ok', partitionData: [{ index: 2, records: encodeRecordBatch({ records: [{ value: 'kept' }] }) }] }] })
    expect(produced.responses[0].partitionResponses[0].errorCode).toBe(0)
    client.close()
    await broker.stop()
    broker = await broker.restart()
    client = await RawClient.connect(broker.port)
    const partitionDirs = readdirSync(broker.dataDir).filter((name) => /-\d+$/.test(name)).sort()
    expect(partitionDirs).toEqual(['h5-mid-3', 'h5-ok-0', 'h5-ok-1', 'h5-ok-2', 'h5-ok-3'])
    expect(await metadataError('h5-ok')).toBe(0)
    const offsets = await client.request<Msg>(2, 5, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'h5-ok', partitions: [{ partitionIndex: 2, currentLeaderEpoch: -1, timestamp: -1 }] }] })
    expect(offsets.topics[0].partitions[0].offset).toBe(1)
  })
})

describe('CreateTopics rules', () => {
  it('refuses Kafka\'s internal topic names (INVALID_REQUEST)', async () => {
    for (const name of ['__consumer_offsets', '__transaction_state']) {
      const res = await create(name, 1)
      expect(res.topics[0].errorCode).toBe(42)
      expect(entriesFor(name)).toEqual([])
      expect(await metadataError(name)).toBe(3)
    }
  })

  it('refuses segment.bytes below 1 MiB (Kafka 4.0\'s minimum) with INVALID_CONFIG and accepts 1 MiB', async () => {
    const topic = (name: string, value: string): Msg => ({ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'segment.bytes', value }] })
    const res = await client.request<Msg>(19, 4, { topics: [topic('h5-tiny-seg', '128'), topic('h5-min-seg', String(1024 * 1024))], timeoutMs: 1000 })
    expect(res.topics.map((t: Msg) => [t.name, t.errorCode])).toEqual([['h5-tiny-seg', 40], ['h5-min-seg', 0]])
    expect(entriesFor('h5-tiny-seg')).toEqual([])
  })
})
