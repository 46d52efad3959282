/**
 * Issue 13, item 4: `ringlog serve --etcd ... --port 0` registers the port it actually bound.
 * Two broker processes started with --port 0 and a private etcd: each one's registration in
 * etcd carries the port its "listening" line names, Metadata lists both at those ports, and
 * kafkajs (bootstrapped from one of them) creates an RF 2 topic, produces and consumes.
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
import { type BrokerProcess, startBrokerProcess, stopBrokerProcess } from './fixtures/broker-processes.js'
import { until } from './fixtures/replica-logs.js'

const built = existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))
const hasEtcd = existsSync('/usr/bin/etcd')

/** The port of the broker's "ringlog listening on host:port" line. */
function listeningPort(broker: BrokerProcess): number {
  const match = /ringlog listening on [^\s]+:(\d+) /.exec(broker.output())
  if (!match) throw new Error(`no listening line in: ${broker.output()}`)
  return Number(match[1])
}

describe.skipIf(!built || !hasEtcd)('serve --etcd --port 0', () => {
  let etcd: EtcdProcess
  let root = ''
  const brokers: BrokerProcess[] = []

  beforeAll(async () => {
    etcd = await startEtcd()
    root = mkdtempSync(join(tmpdir(), 'ringlog-port-zero-'))
  }, 60_000)

  afterAll(async () => {
    for (const b of brokers) await stopBrokerProcess(b, 'SIGKILL').catch(() => undefined)
    await etcd?.destroy()
    if (root) rmSync(root, { recursive: true, force: true })
  })

  it('registers the bound port; clients reach both brokers through it', async () => {
    for (const nodeId of [1, 2]) {
      brokers.push(await startBrokerProcess({ nodeId, port: 0, dataDir: join(root, `b${nodeId}`), etcd: etcd.endpoint, cluster: 'zero', extra: ['--lease-ttl-seconds', '2'] }))
    }
    const ports = brokers.map(listeningPort)
    for (const port of ports) expect(port).toBeGreaterThan(0)

    const metadata = new ClusterMetadata({ endpoints: etcd.endpoint, cluster: 'zero' })
    try {
      const registered = await metadata.listBrokers()
      expect([...registered.values()].map((b) => [b.id, b.port]).sort()).toEqual([[1, ports[0]], [2, ports[1]]])
    } finally {
      metadata.close()
    }

    const kafka = new Kafka({ clientId: 'port-zero', brokers: [`127.0.0.1:${ports[0]}`], logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1_000 } })
    const admin = kafka.admin()
    await admin.connect()
    try {
      await admin.createTopics({ topics: [{ topic: 'zero', numPartitions: 2, replicationFactor: 2 }], waitForLeaders: true })
      const cluster = await admin.describeCluster()
      expect(cluster.brokers.map((b) => [b.nodeId, b.port]).sort()).toEqual([[1, ports[0]], [2, ports[1]]])
    } finally {
      await admin.disconnect()
    }
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({ topic: 'zero', acks: -1, messages: [{ partition: 0, value: 'p0' }, { partition: 1, value: 'p1' }] })
    await producer.disconnect()
    const consumer = kafka.consumer({ groupId: 'zero-readers', maxWaitTimeInMs: 200 })
    const seen: string[] = []
    await consumer.connect()
    try {
      await consumer.subscribe({ topic: 'zero', fromBeginning: true })
      await consumer.run({ eachMessage: async ({ message }) => { seen.push(message.value!.toString()) } })
      // Distinct values: a broker that has not learned of the new topic yet answers NOT_LEADER for
      // its partition, and kafkajs (not idempotent here) resends the whole request, so the other
      // partition's record can be written twice (at least once, as in Kafka).
      await until(async () => (new Set(seen).size >= 2 ? true : undefined), 'both records read', 45_000)
    } finally {
      await consumer.disconnect()
    }
    expect([...new Set(seen)].sort()).toEqual(['p0', 'p1'])
  }, 120_000)
})
