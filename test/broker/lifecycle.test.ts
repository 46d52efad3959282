import { describe, expect, it } from 'vitest'
import { encodeRecordBatch } from '../../src/protocol/record-batch.js'
import { RawClient } from './raw-client.js'
import { fetchAll } from './fetch-all.js'
import { startTestBroker } from './test-broker.js'

type Msg = Record<string, any>

describe('broker lifecycle', () => {
  it('stop answers a parked fetch, closes connections and keeps acknowledged data for the next start', async () => {
    let broker = await startTestBroker()
    const c = await RawClient.connect(broker.port)
    await c.request<Msg>(19, 4, { topics: [{ name: 'life', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 1000 })
    const produced = await c.request<Msg>(0, 9, { acks: -1, timeoutMs: 1000, topicData: [{ name: 'life', partitionData: [{ index: 0, records: encodeRecordBatch({ records: [{ value: 'kept' }] }) }] }] })
    expect(produced.responses[0].partitionResponses[0].errorCode).toBe(0)
    const parked = c.request<Msg>(1, 12, {
      replicaId: -1, maxWaitMs: 60_000, minBytes: 1 << 20, maxBytes: 1 << 20, isolationLevel: 0,
      topics: [{ topic: 'life', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] }],
    })
    await new Promise((r) => setTimeout(r, 100))
    const stopping = broker.server.stop()
    const res = await parked
    expect(res.responses[0].partitions[0].errorCode).toBe(0)
    await stopping
    expect(await c.closesWithin(5000)).toBe(true)

    broker = await startTestBroker({}, undefined, broker.dataDir)
    const again = await RawClient.connect(broker.port)
    expect((await fetchAll(again, 'life', 1)).map((r) => r.value?.toString())).toEqual(['kept'])
    again.close()
    await broker.destroy()
  })
})
