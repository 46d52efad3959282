/**
 * Issue 14: committed offsets live in the replicated `__consumer_offsets` topic. Three real broker
 * processes and a private etcd; a kafkajs admin commits a group's offsets, FindCoordinator names
 * the leader of the group's offsets partition, that broker is killed with -9, and kafkajs finds
 * the new coordinator by itself and reads the same offsets back.
 * Needs `npm run build` (the brokers run bin/ringlog.js) and /usr/bin/etcd.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type EtcdProcess, startEtcd } from '../../src/cluster/etcd-process.js'
import { ApiKey } from '../../src/kafka-client/kafka-wire-client.js'
import { withWireClient } from '../../src/kafka-client/negotiated-client.js'
import { type BrokerProcess, startBrokerProcess, stopBrokerProcess } from './fixtures/broker-processes.js'

const built = existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))
const hasEtcd = existsSync('/usr/bin/etcd')
const GROUP = 'failover-group'
const TOPIC = 'offsets-failover'

/** FindCoordinator v3 from one broker, retried (bounded) until it names a broker other than `not`. */
async function coordinatorOf(port: number, not = -1): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const answer = await withWireClient(`127.0.0.1:${port}`, (client) => client.request(ApiKey.FindCoordinator, 3, { key: GROUP, keyType: 0 }))
    if (answer.errorCode === 0 && answer.nodeId !== not) return answer.nodeId
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error('no coordinator named within 10 s')
}

describe.skipIf(!built || !hasEtcd)('cluster mode: __consumer_offsets follows its leader', () => {
  let etcd: EtcdProcess
  let root = ''
  const brokers: BrokerProcess[] = []

  beforeAll(async () => {
    etcd = await startEtcd()
    root = mkdtempSync(join(tmpdir(), 'ringlog-offsets-'))
    for (const nodeId of [1, 2, 3]) {
      brokers.push(await startBrokerProcess({
        nodeId, dataDir: join(root, `b${nodeId}`), etcd: etcd.endpoint, cluster: `offsets-${process.pid}`,
        extra: ['--lease-ttl-seconds', '2', '--replica-lag-time-max-ms', '5000', '--min-insync-replicas', '2'],
      }))
    }
  }, 60_000)

  afterAll(async () => {
    for (const b of brokers) await stopBrokerProcess(b, 'SIGKILL').catch(() => undefined)
    await etcd?.stop()
    if (root) rmSync(root, { recursive: true, force: true })
  })

  it('a commit survives kill -9 of the coordinator; kafkajs re-finds it', async () => {
    const kafka = new Kafka({ clientId: 'offsets-test', brokers: brokers.map((b) => `127.0.0.1:${b.port}`), logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1_000 } })
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 3, replicationFactor: 3 }] })
    const coordinator = await coordinatorOf(brokers[0].port)
    await admin.setOffsets({ groupId: GROUP, topic: TOPIC, partitions: [{ partition: 0, offset: '7' }, { partition: 2, offset: '9' }] })
    await admin.disconnect()
    const victim = brokers.find((b) => b.nodeId === coordinator)!
    await stopBrokerProcess(victim, 'SIGKILL')
    const survivor = brokers.find((b) => b.nodeId !== coordinator)!
    const next = await coordinatorOf(survivor.port, coordinator)
    expect(next).not.toBe(coordinator)
    const after = new Kafka({ clientId: 'offsets-test-2', brokers: brokers.filter((b) => b !== victim).map((b) => `127.0.0.1:${b.port}`), logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1_000 } }).admin()
    await after.connect()
    try {
      const fetched = await after.fetchOffsets({ groupId: GROUP, topics: [TOPIC] })
      const offsets = new Map(fetched[0].partitions.map((p) => [p.partition, p.offset]))
      expect(offsets.get(0)).toBe('7')
      expect(offsets.get(2)).toBe('9')
    } finally {
      await after.disconnect()
    }
  }, 90_000)
})
