import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../src/broker/logger.js'
import { BrokerServer } from '../../src/broker/server.js'
import { resolveConfig } from '../../src/config.js'
import { createLatencyHistogram } from '../../src/bench/histogram.js'
import { addValueChecksum, forEachStamp, LoadFetcher, LoadgenCluster, LoadgenSink, LoadProducer } from '../../src/bench/loadgen/index.js'
import { decodeRecordBatch } from '../../src/protocol/record-batch.js'

/** Reads every record of `topic` back and sums its values' checksums. */
async function readBack(cluster: LoadgenCluster, topic: string, partitions: number): Promise<{ records: number; checksum: number; headerCount: number }> {
  const endOffsets = await cluster.endOffsets(topic, partitions)
  const fetcher = await LoadFetcher.create(cluster, { topic, partitions, partitionMaxBytes: 64 * 1024 })
  let records = 0
  let checksum = 0
  const deadline = Date.now() + 20_000
  const result = await fetcher.run({
    endOffsets,
    shouldContinue: () => Date.now() < deadline,
    onBatch: (buf, offset) => {
      for (const record of decodeRecordBatch(buf, offset).records) {
        records++
        checksum = addValueChecksum(checksum, record.value)
      }
    },
  })
  return { records, checksum, headerCount: result.records }
}

describe('load generator against the broker', () => {
  let dir: string
  let server: BrokerServer
  let cluster: LoadgenCluster

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ringlog-loadgen-test-'))
    server = await BrokerServer.start(resolveConfig({ dataDir: dir, host: '127.0.0.1', port: 0, flush: 'never' }), { logger: silentLogger })
    cluster = await LoadgenCluster.connect(`127.0.0.1:${server.address().port}`)
  })

  afterAll(async () => {
    await cluster?.close()
    await server?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  for (const [acks, compression] of [[-1, 'none'], [1, 'lz4']] as const) {
    it(`records sent with acks=${acks} ${compression} arrive intact (count and value checksum)`, async () => {
      const topic = `loadgen-${acks}-${compression}`
      const producer = await LoadProducer.create(cluster, { topic, partitions: 2, acks, compression, maxInFlight: 4 })
      const sent = await producer.run({ shouldContinue: (n) => n < 5000 })
      expect(sent.records).toBeGreaterThanOrEqual(5000)
      expect(sent.records % producer.recordsPerBatch).toBe(0)
      const back = await readBack(cluster, topic, 2)
      expect(back.records).toBe(sent.records)
      expect(back.headerCount).toBe(sent.records)
      expect(back.checksum).toBe(sent.valueChecksum)
    })
  }

  it('acks=0 records arrive too, and paced records carry stamps a consumer can read', async () => {
    const topic = 'loadgen-paced'
    const producer = await LoadProducer.create(cluster, { topic, partitions: 1, acks: 0, compression: 'lz4', recordSize: 64 })
    const result = await producer.runPaced({ rate: 20_000, lingerMs: 2, shouldContinue: (n) => n < 2000 })
    expect(result.records).toBe(2000)
    const fetcher = await LoadFetcher.create(cluster, { topic, partitions: 1 })
    const histogram = createLatencyHistogram()
    let stamps = 0
    const deadline = Date.now() + 20_000
    await fetcher.run({
      endOffsets: [2000],
      shouldContinue: () => Date.now() < deadline,
      onBatch: (buf, offset) => forEachStamp(buf, offset, (stamp) => {
        stamps++
        histogram.record(Math.max(1, Number(process.hrtime.bigint() - stamp)))
      }),
    })
    expect(stamps).toBe(2000)
    expect(histogram.min).toBeGreaterThan(0)
  })

  it('creates the topic through CreateTopics and refuses a missing topic when asked not to create', async () => {
    const layout = await cluster.ensureTopic('loadgen-created', { partitions: 3 })
    expect(layout.leaders).toHaveLength(3)
    await expect(cluster.ensureTopic('loadgen-absent', { partitions: 1, create: false })).rejects.toThrow(/does not exist/)
  })
})

describe('load generator against the discarding sink', () => {
  it('pipelines requests and the sink counts exactly what was acknowledged', async () => {
    const sink = await LoadgenSink.start({ retain: true })
    const cluster = await LoadgenCluster.connect(sink.address)
    try {
      const producer = await LoadProducer.create(cluster, { topic: 'sink', partitions: 3, acks: 1, compression: 'none', connections: 2, maxInFlight: 8 })
      const sent = await producer.run({ shouldContinue: (n) => n < 20_000 })
      expect(sink.stats.records).toBe(sent.records)
      expect(sink.stats.produceRequests).toBe(sent.requests)
      const back = await readBack(cluster, 'sink', 3)
      expect(back.records).toBe(sent.records)
      expect(back.checksum).toBe(sent.valueChecksum)
    } finally {
      await cluster.close()
      await sink.close()
    }
  })
})
