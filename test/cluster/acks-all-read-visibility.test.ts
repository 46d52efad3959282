/**
 * Under `--flush never` the leader answers acks=all from the HW its main thread computes from the
 * followers' fetch offsets, before its partition worker publishes that HW. A client that got the
 * acknowledgement must still find the batch at once: ListOffsets (latest) names the offset past it
 * and a Fetch from its base returns it, with a high watermark past it. Three brokers, RF 3,
 * min.insync.replicas 2; one connection to the leader sends each request right after the
 * previous answer. Needs `npm run build` (the brokers run bin/ringlog.js) and /usr/bin/etcd.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ClusterMetadata } from '../../src/cluster/cluster-metadata.js'
import type { EtcdProcess } from '../../src/cluster/etcd-process.js'
import { createClusterTopic } from '../../src/cluster/topic-creation.js'
import { ApiKey } from '../../src/kafka-client/kafka-wire-client.js'
import { withWireClient } from '../../src/kafka-client/negotiated-client.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { encodeRecordBatch } from '../../src/protocol/record-batch.js'
import { type BrokerProcess, type BrokerProcessCluster, startBrokerProcessCluster, stopBrokerProcessCluster } from './fixtures/broker-processes.js'

const built = existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))
const hasEtcd = existsSync('/usr/bin/etcd')
const CLUSTER = 'acks-visibility'
const TOPIC = 'visible'
const ROUNDS = 60
const RECORDS = 3

describe.skipIf(!built || !hasEtcd)('acks=all answered from the leader main thread HW (flush never)', () => {
  let processes: BrokerProcessCluster | undefined
  let etcd: EtcdProcess
  let brokers: BrokerProcess[] = []

  beforeAll(async () => {
    processes = await startBrokerProcessCluster({ name: CLUSTER, extra: ['--flush', 'never'] })
    ;({ etcd, brokers } = processes)
    const metadata = new ClusterMetadata({ endpoints: [etcd.endpoint], cluster: CLUSTER })
    try {
      await createClusterTopic(metadata, { name: TOPIC, partitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '2' }, replicaAssignment: [[1, 2, 3]] })
    } finally {
      metadata.close()
    }
  }, 180_000)

  afterAll(async () => {
    await stopBrokerProcessCluster(processes)
  })

  it('ListOffsets and Fetch right after each acknowledgement see the batch', async () => {
    await withWireClient(`127.0.0.1:${brokers[0].port}`, async (client) => {
      const produce = async (round: number): Promise<{ errorCode: number; baseOffset: number }> => {
        const records = encodeRecordBatch({ records: Array.from({ length: RECORDS }, (_, i) => ({ value: `round-${round}-${i}`, timestamp: 1_700_000_000_000 })) })
        const r = await client.request(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: TOPIC, partitionData: [{ index: 0, records }] }] })
        const p = r.responses[0].partitionResponses[0]
        return { errorCode: p.errorCode, baseOffset: Number(p.baseOffset) }
      }
      // Until broker 1 leads with a full ISR (bounded: 300 tries, 100 ms apart).
      for (let attempt = 0; (await produce(-1)).errorCode !== ErrorCode.NONE; attempt++) {
        if (attempt >= 300) throw new Error('no acks=all produce succeeded within 30 s')
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      const fetchVersion = client.version(ApiKey.Fetch, { max: 12 })
      for (let round = 0; round < ROUNDS; round++) {
        const { errorCode, baseOffset } = await produce(round)
        expect(errorCode).toBe(ErrorCode.NONE)
        const listed = await client.request(ApiKey.ListOffsets, 4, {
          replicaId: -1, isolationLevel: 0,
          topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1, maxNumOffsets: 1 }] }],
        })
        expect(listed.topics[0].partitions[0].errorCode).toBe(ErrorCode.NONE)
        expect(Number(listed.topics[0].partitions[0].offset)).toBeGreaterThanOrEqual(baseOffset + RECORDS)
        const fetched = await client.request(ApiKey.Fetch, fetchVersion, {
          replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
          topics: [{ topic: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: baseOffset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
          forgottenTopicsData: [], rackId: '',
        })
        const part = fetched.responses[0].partitions[0]
        expect(part.errorCode).toBe(ErrorCode.NONE)
        expect(Number(part.highWatermark)).toBeGreaterThanOrEqual(baseOffset + RECORDS)
        const bytes = part.records as Buffer | null
        expect(bytes?.length ?? 0).toBeGreaterThan(0)
        expect(Number(bytes!.readBigInt64BE(0))).toBe(baseOffset)
      }
    }, { connectTimeoutMs: 5_000, requestTimeoutMs: 15_000 })
  }, 120_000)
})
