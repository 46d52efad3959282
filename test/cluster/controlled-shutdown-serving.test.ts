/**
 * Issue 13 (handoff under 200 ms): a broker's controlled shutdown runs while it still serves, as
 * Kafka orders its shutdown. Before, SIGTERM closed the listener and every connection first (up
 * to 1 s per connection a peer kept open) and only then asked the controller to move its
 * leaderships. Three real broker processes and a private etcd: the controller is SIGSTOPped so
 * the leaving broker's request (`shutdown/<id>` in etcd) stays unanswered; while it waits, the
 * leaving broker must still answer Metadata on its port (before the fix: connection refused).
 * After SIGCONT the controller moves the leadership, the broker exits with "controlled shutdown
 * done", and every acks=all record sent before the SIGTERM is read back from the new leader.
 * Issue 14: `__consumer_offsets` created at RF > 1 carries no flush.messages=1 (a commit is made
 * durable by the ISR, as in Kafka; a single node keeps flush.messages=1, test/groups/).
 * Needs `npm run build` (the brokers run bin/ringlog.js) and /usr/bin/etcd.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ClusterMetadata } from '../../src/cluster/cluster-metadata.js'
import type { EtcdProcess } from '../../src/cluster/etcd-process.js'
import { type BrokerProcess, type BrokerProcessCluster, startBrokerProcessCluster, stopBrokerProcessCluster } from './fixtures/broker-processes.js'
import { partitionView, until } from './fixtures/replica-logs.js'

const built = existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))
const hasEtcd = existsSync('/usr/bin/etcd')
const CLUSTER = 'handoff'
const TOPIC = 'handoff'

describe.skipIf(!built || !hasEtcd)('controlled shutdown while serving', () => {
  let processes: BrokerProcessCluster | undefined
  let etcd: EtcdProcess
  let metadata: ClusterMetadata
  let brokers: BrokerProcess[] = []
  let stopped: BrokerProcess | undefined

  beforeAll(async () => {
    // Lease TTL 10 s: the SIGSTOPped controller keeps its election for the whole check.
    processes = await startBrokerProcessCluster({ name: CLUSTER, extra: ['--lease-ttl-seconds', '10'] })
    ;({ etcd, brokers } = processes)
    metadata = new ClusterMetadata({ endpoints: etcd.endpoint, cluster: CLUSTER })
  }, 120_000)

  afterAll(async () => {
    if (stopped) process.kill(stopped.child.pid!, 'SIGCONT')
    metadata?.close()
    await stopBrokerProcessCluster(processes)
  })

  it('answers requests until the controller has moved its leadership, then exits with it moved', async () => {
    const kafka = new Kafka({ clientId: 'handoff-test', brokers: brokers.map((b) => `127.0.0.1:${b.port}`), logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1_000 } })
    const admin = kafka.admin()
    await admin.connect()
    let controllerId: number
    try {
      // Each broker learns of the others from its etcd watch a moment after they listen.
      await until(async () => ((await admin.describeCluster()).brokers.length === 3 ? true : undefined), 'every broker registered', 30_000)
      // Three partitions: their preferred leaders cover all three brokers, so one is led by a non-controller.
      await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 3, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }], waitForLeaders: true })
      controllerId = (await admin.describeCluster()).controller!
    } finally {
      await admin.disconnect()
    }
    const port = brokers[0].port
    const views = await until(async () => {
      const all = await Promise.all([0, 1, 2].map((p) => partitionView(port, TOPIC, p)))
      return all.every((v) => v !== undefined && v.isr.length === 3) ? all.map((v) => v!) : undefined
    }, 'every partition with a full ISR', 60_000)
    const partition = views.findIndex((v) => v.leader !== controllerId)
    expect(partition).toBeGreaterThanOrEqual(0)
    const leaving = brokers.find((b) => b.nodeId === views[partition].leader)!
    const controller = brokers.find((b) => b.nodeId === controllerId)!

    const producer = kafka.producer()
    await producer.connect()
    const values = Array.from({ length: 20 }, (_, i) => `before-${i}`)
    try {
      for (const value of values) await producer.send({ topic: TOPIC, acks: -1, messages: [{ partition, value }] })
    } finally {
      await producer.disconnect()
    }

    process.kill(controller.child.pid!, 'SIGSTOP')
    stopped = controller
    process.kill(leaving.child.pid!, 'SIGTERM')
    // The leaving broker has asked the (stopped) controller: it is in controlled shutdown now.
    const asked = await until(async () => metadata.readShutdown(leaving.nodeId), 'the leaving broker asks for its controlled shutdown', 15_000)
    expect(asked.state).toBe('requested')
    // ...and still serves: Metadata on its own port, naming itself the leader (nothing moved yet).
    const seen = await partitionView(leaving.port, TOPIC, partition).catch((error: unknown) => { throw new Error(`${String(error)}; broker ${leaving.nodeId} wrote: ${leaving.output()}`) })
    expect(seen?.leader).toBe(leaving.nodeId)

    process.kill(controller.child.pid!, 'SIGCONT')
    stopped = undefined
    let timer: NodeJS.Timeout | undefined
    await Promise.race([leaving.exited, new Promise<void>((resolve) => { timer = setTimeout(resolve, 30_000) })])
    clearTimeout(timer)
    expect(leaving.child.exitCode).toBe(0)
    expect(leaving.output()).toContain('controlled shutdown done')

    const survivor = brokers.find((b) => b !== leaving)!
    const moved = await until(async () => {
      const v = await partitionView(survivor.port, TOPIC, partition)
      return v && v.leader >= 0 && v.leader !== leaving.nodeId ? v : undefined
    }, 'the leadership moved', 30_000)
    expect(moved.leader).not.toBe(leaving.nodeId)

    const consumer = kafka.consumer({ groupId: 'handoff-readers', maxWaitTimeInMs: 200 })
    const read: string[] = []
    await consumer.connect()
    try {
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
      await consumer.run({ eachMessage: async ({ partition: p, message }) => { if (p === partition) read.push(message.value!.toString()) } })
      await until(async () => (read.length >= values.length ? true : undefined), 'every acknowledged record read back', 45_000)
    } finally {
      await consumer.disconnect()
    }
    expect(read).toEqual(values)
  }, 180_000)

  it('__consumer_offsets at RF > 1 does not fdatasync every commit (durable on the ISR, as Kafka); a commit is read back', async () => {
    const live = brokers.filter((b) => b.child.exitCode === null && b.child.signalCode === null)
    const kafka = new Kafka({ clientId: 'offsets-config-test', brokers: live.map((b) => `127.0.0.1:${b.port}`), logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1_000 } })
    const admin = kafka.admin()
    await admin.connect()
    try {
      await admin.setOffsets({ groupId: 'offsets-config', topic: TOPIC, partitions: [{ partition: 0, offset: '7' }] })
      expect((await admin.fetchOffsets({ groupId: 'offsets-config', topics: [TOPIC] }))[0].partitions.find((p) => p.partition === 0)?.offset).toBe('7')
      const [offsetsTopic] = (await admin.fetchTopicMetadata({ topics: ['__consumer_offsets'] })).topics
      expect(offsetsTopic.partitions[0].replicas.length).toBeGreaterThan(1)
      const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: '__consumer_offsets', configNames: ['flush.messages', 'cleanup.policy'] }] })
      const entries = new Map(described.resources[0].configEntries.map((e) => [e.configName, e.configValue]))
      expect(entries.get('cleanup.policy')).toBe('compact')
      expect(entries.get('flush.messages')).not.toBe('1')
    } finally {
      await admin.disconnect()
    }
  }, 60_000)
})
