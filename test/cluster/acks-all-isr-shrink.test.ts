/**
 * An acks=all produce that is waiting for its followers when the ISR shrinks below
 * min.insync.replicas is answered NOT_ENOUGH_REPLICAS_AFTER_APPEND, never success (Kafka's
 * Partition.checkEnoughReplicasReachOffset). The shrink itself moves the high watermark to the
 * leader's log end (min over an ISR of the leader alone), so "the HW passed the batch" alone would
 * acknowledge a batch only one replica holds. Two brokers, RF 2, min.insync.replicas 2: the
 * follower is stopped (SIGSTOP) before a kafkajs acks=all send; its lease (2 s) runs out and the
 * controller takes it out of the ISR while the send waits. Found while investigating issue 13.
 * Needs `npm run build` (the brokers run bin/ringlog.js) and /usr/bin/etcd.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ClusterMetadata } from '../../src/cluster/cluster-metadata.js'
import { type EtcdProcess, startEtcd } from '../../src/cluster/etcd-process.js'
import { createClusterTopic } from '../../src/cluster/topic-creation.js'
import { type BrokerProcess, startBrokerProcess, stopBrokerProcess } from './fixtures/broker-processes.js'
import { partitionView, until } from './fixtures/replica-logs.js'

const built = existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))
const hasEtcd = existsSync('/usr/bin/etcd')
const CLUSTER = 'isr-shrink'
const TOPIC = 'shrinking'
// A short lease so the stopped follower leaves the ISR well within the send's timeout.
const FLAGS = ['--lease-ttl-seconds', '2']

describe.skipIf(!built || !hasEtcd)('acks=all when the ISR shrinks below min.insync.replicas meanwhile', () => {
  let etcd: EtcdProcess
  let root = ''
  const brokers = new Map<number, BrokerProcess>()

  beforeAll(async () => {
    etcd = await startEtcd()
    root = mkdtempSync(join(tmpdir(), 'ringlog-isr-shrink-'))
    await Promise.all([1, 2].map(async (nodeId) => {
      brokers.set(nodeId, await startBrokerProcess({ nodeId, dataDir: join(root, `b${nodeId}`), etcd: etcd.endpoint, cluster: CLUSTER, extra: FLAGS }))
    }))
    const metadata = new ClusterMetadata({ endpoints: [etcd.endpoint], cluster: CLUSTER })
    try {
      await createClusterTopic(metadata, { name: TOPIC, partitions: 1, replicationFactor: 2, configs: { 'min.insync.replicas': '2' }, replicaAssignment: [[1, 2]] })
    } finally {
      metadata.close()
    }
  }, 180_000)

  afterAll(async () => {
    for (const b of brokers.values()) if (b.child.pid && b.child.exitCode === null && b.child.signalCode === null) process.kill(b.child.pid, 'SIGCONT')
    for (const b of brokers.values()) await stopBrokerProcess(b, 'SIGKILL').catch(() => undefined)
    await etcd?.destroy()
    if (root) rmSync(root, { recursive: true, force: true })
  })

  it('answers NOT_ENOUGH_REPLICAS_AFTER_APPEND, not success', async () => {
    const leader = brokers.get(1)!
    const follower = brokers.get(2)!
    // Only the leader is in the client's list: nothing kafkajs does waits on the stopped follower.
    const kafka = new Kafka({ clientId: 'isr-shrink', brokers: [`127.0.0.1:${leader.port}`], logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1_000 } })
    const warm = kafka.producer()
    await warm.connect()
    try {
      // The leader serves and the follower replicates: an acks=all send needs both.
      await warm.send({ topic: TOPIC, acks: -1, messages: [{ value: 'warm-up' }] })
    } finally {
      await warm.disconnect()
    }
    const producer = new Kafka({ clientId: 'isr-shrink-once', brokers: [`127.0.0.1:${leader.port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).producer()
    await producer.connect()
    process.kill(follower.child.pid!, 'SIGSTOP')
    try {
      const send = producer.send({ topic: TOPIC, acks: -1, timeout: 60_000, messages: [{ value: 'one replica only' }] })
      await expect(send).rejects.toMatchObject({ cause: { type: 'NOT_ENOUGH_REPLICAS_AFTER_APPEND' } })
      const view = await until(() => partitionView(leader.port, TOPIC, 0), `${TOPIC} metadata`)
      expect(view.isr).toEqual([1])
    } finally {
      process.kill(follower.child.pid!, 'SIGCONT')
      await producer.disconnect()
    }
  }, 240_000)
})
