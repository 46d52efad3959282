/**
 * Hostile and broken input: each case gets the right error code or a closed connection, and
 * the broker keeps serving another client afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Compression } from '../../src/protocol/compression.js'
import { encodeRecordBatch } from '../../src/protocol/record-batch.js'
import { RawClient } from './raw-client.js'
import { startTestBroker, type TestBroker } from './test-broker.js'

type Msg = Record<string, any>

let broker: TestBroker
let witness: RawClient

beforeAll(async () => {
  broker = await startTestBroker()
  witness = await RawClient.connect(broker.port)
  const res = await witness.request<Msg>(19, 4, { topics: [{ name: 'm', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 1000 })
  expect(res.topics[0].errorCode).toBe(0)
})

afterAll(async () => {
  witness?.close()
  await broker?.destroy()
})

async function stillServing(): Promise<void> {
  const res = await witness.request<Msg>(0, 9, { acks: 1, timeoutMs: 1000, topicData: [{ name: 'm', partitionData: [{ index: 0, records: encodeRecordBatch({ records: [{ value: 'alive' }] }) }] }] })
  expect(res.responses[0].partitionResponses[0].errorCode).toBe(0)
  const fresh = await RawClient.connect(broker.port)
  const versions = await fresh.request<Msg>(18, 3, { clientSoftwareName: 'x', clientSoftwareVersion: '1' })
  expect(versions.errorCode).toBe(0)
  fresh.close()
}

function frameWith(size: number, body: Buffer): Buffer {
  const b = Buffer.alloc(4 + body.length)
  b.writeInt32BE(size, 0)
  body.copy(b, 4)
  return b
}

describe('malformed input', () => {
  it('closes on an absurd or negative frame size', async () => {
    for (const size of [0x7fffffff, -5]) {
      const c = await RawClient.connect(broker.port)
      c.write(frameWith(size, Buffer.alloc(16)))
      expect(await c.closesWithin(5000)).toBe(true)
    }
    await stillServing()
  })

  it('closes when the first request exceeds the pre-request limit', async () => {
    const c = await RawClient.connect(broker.port)
    c.write(frameWith(10 * 1024 * 1024, Buffer.alloc(700 * 1024)))
    expect(await c.closesWithin(5000)).toBe(true)
    await stillServing()
  })

  it('tolerates a truncated frame from a client that goes away', async () => {
    const c = await RawClient.connect(broker.port)
    const whole = RawClient.frame(3, 1, 1, { topics: [] })
    c.write(whole.subarray(0, whole.length - 3))
    c.close()
    await stillServing()
  })

  it('closes on unknown API keys and unsupported versions', async () => {
    for (const [apiKey, version] of [[999, 0], [3, 13], [0, 2], [1, 17], [57, 0]]) {
      const c = await RawClient.connect(broker.port)
      const header = Buffer.alloc(10)
      header.writeInt16BE(apiKey, 0)
      header.writeInt16BE(version, 2)
      header.writeInt32BE(7, 4)
      header.writeInt16BE(-1, 8)
      c.write(frameWith(header.length + 4, Buffer.concat([header, Buffer.alloc(4)])))
      expect(await c.closesWithin(5000)).toBe(true)
    }
    await stillServing()
  })

  it('closes on malformed bodies: truncated, absurd counts, a header cut short', async () => {
    const produce = RawClient.frame(0, 7, 1, { acks: 1, timeoutMs: 1000, topicData: [{ name: 'm', partitionData: [{ index: 0, records: encodeRecordBatch({ records: [{ value: 'x' }] }) }] }] })
    const truncated = Buffer.from(produce.subarray(0, produce.length - 20))
    truncated.writeInt32BE(truncated.length - 4, 0)
    const absurdCount = Buffer.from(RawClient.frame(3, 1, 1, { topics: [] }))
    absurdCount.writeInt32BE(0x3fffffff, absurdCount.length - 4)
    const shortHeader = frameWith(3, Buffer.from([0, 3, 0]))
    for (const frame of [truncated, absurdCount, shortHeader]) {
      const c = await RawClient.connect(broker.port)
      c.write(frame)
      expect(await c.closesWithin(5000)).toBe(true)
    }
    await stillServing()
  })

  it('survives an lz4 bomb inside a produce', async () => {
    // 80 MiB of zeros squeezes into a few hundred KiB of LZ4: more than the decompression cap.
    const bomb = encodeRecordBatch({ records: [{ value: Buffer.alloc(80 * 1024 * 1024) }], compression: Compression.lz4 })
    expect(bomb.length).toBeLessThan(1024 * 1024)
    const c = await RawClient.connect(broker.port)
    await c.request<Msg>(18, 0, {})
    const logEnd = async (): Promise<number> => {
      const res = await c.request<Msg>(2, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'm', partitions: [{ partitionIndex: 0, timestamp: -1 }] }] })
      return res.topics[0].partitions[0].offset
    }
    const before = await logEnd()
    const res = await c.request<Msg>(0, 9, { acks: -1, timeoutMs: 1000, topicData: [{ name: 'm', partitionData: [{ index: 0, records: bomb }] }] })
    // The owning worker bounds the lz4 frame from its block table (never decompressing it) and
    // refuses it with CORRUPT_MESSAGE; nothing is stored and the broker keeps serving.
    expect(res.responses[0].partitionResponses[0].errorCode).toBe(2)
    expect(await logEnd()).toBe(before)
    c.close()
    await stillServing()
  })
})
