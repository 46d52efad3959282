/**
 * A whole-cluster restart (`ringlog cluster up` stopped with SIGTERM, then started again on the
 * same directory): every broker keeps its data (a broker once dropped every local partition at
 * start, syncing before its topics watch had loaded), every partition gets a leader again, the
 * records and a group's committed offsets are all there.
 * Needs `npm run build` (the brokers run bin/ringlog.js) and /usr/bin/etcd.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, describe, expect, it } from 'vitest'
import { DevCluster } from '../../src/cluster/dev-cluster.js'
import { partitionView, until } from './fixtures/replica-logs.js'

const built = existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))
const TOPIC = 'restarted'
const PARTITIONS = 4
const SERVE = ['--lease-ttl-seconds', '2', '--replica-lag-time-max-ms', '5000']

describe.skipIf(!built || !existsSync('/usr/bin/etcd'))('whole-cluster restart', () => {
  const root = mkdtempSync(join(tmpdir(), 'ringlog-cluster-restart-'))
  let cluster: DevCluster | undefined

  afterAll(async () => {
    await cluster?.stop()
    rmSync(root, { recursive: true, force: true })
  })

  const kafkaOf = (c: DevCluster): Kafka => new Kafka({
    clientId: 'restart', brokers: c.bootstrap, logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1_000 },
  })
  const allLed = (c: DevCluster, what: string): Promise<true> => until(async () => {
    for (let p = 0; p < PARTITIONS; p++) {
      const view = await partitionView(c.brokers[p % 3].port, TOPIC, p)
      if (!view || view.leader < 0) return undefined
    }
    return true
  }, what, 60_000)

  it('every broker keeps its data, every partition is led again, records and committed offsets survive', async () => {
    cluster = await DevCluster.start({ brokers: 3, dataDir: root, serveArgs: SERVE })
    const first = kafkaOf(cluster)
    const admin = first.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }], waitForLeaders: true })
    const producer = first.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    const sent: string[][] = Array.from({ length: PARTITIONS }, () => [])
    for (let i = 0; i < 40; i++) {
      const partition = i % PARTITIONS
      const value = `v${i}`
      await producer.send({ topic: TOPIC, acks: -1, messages: [{ partition, value }] })
      sent[partition].push(value)
    }
    await producer.disconnect()
    await admin.setOffsets({ groupId: 'kept', topic: TOPIC, partitions: Array.from({ length: PARTITIONS }, (_, partition) => ({ partition, offset: '5' })) })
    await admin.disconnect()
    const segment = join(cluster.brokers[0].dataDir, `${TOPIC}-0`, '00000000000000000000.log')
    const inode = statSync(segment).ino

    await cluster.stop()
    cluster = await DevCluster.start({ brokers: 3, dataDir: root, serveArgs: SERVE })
    await allLed(cluster, 'every partition has a leader after the restart')
    // The broker opened its own segment again rather than dropping the partition and refetching it.
    expect(statSync(segment).ino).toBe(inode)

    const second = kafkaOf(cluster)
    const checker = second.admin()
    await checker.connect()
    try {
      const offsets = await until(async () => {
        const o = await checker.fetchOffsets({ groupId: 'kept', topics: [TOPIC] })
        return o[0].partitions.every((p) => p.offset === '5') ? o : undefined
      }, 'the committed offsets are readable after the restart')
      expect(offsets[0].partitions).toHaveLength(PARTITIONS)
    } finally {
      await checker.disconnect()
    }
    const consumer = second.consumer({ groupId: 'restart-verify', maxWaitTimeInMs: 200 })
    const seen: string[][] = Array.from({ length: PARTITIONS }, () => [])
    await consumer.connect()
    try {
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`read ${seen.flat().length} of 40 records within 60 s`)), 60_000)
        void consumer.run({
          eachMessage: async ({ partition, message }) => {
            seen[partition].push(message.value!.toString())
            if (seen.flat().length >= 40) { clearTimeout(timer); resolve() }
          },
        }).catch(reject)
      })
    } finally {
      await consumer.disconnect()
    }
    expect(seen).toEqual(sent)
  }, 240_000)
})
