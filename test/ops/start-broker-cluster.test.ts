/**
 * startBroker({ cluster: 3 }): three real broker processes and a private etcd, as a user's
 * failover test gets them. kafkajs creates an RF 3 topic with min.insync.replicas 2 and
 * produces with acks=all; Metadata names all three brokers in every partition's ISR; after a
 * kill -9 of partition 0's leader the same producer's next acks=all send succeeds on the new
 * leader and a consumer reads every acknowledged record; stop() leaves no broker or etcd
 * process and removes the data dir. Needs `npm run build` (the brokers run bin/ringlog.js) and
 * /usr/bin/etcd.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, describe, expect, it } from 'vitest'
import { type StartedCluster, startBroker } from '../../src/index.js'

const built = existsSync(fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url)))
const hasEtcd = existsSync('/usr/bin/etcd')
const TOPIC = 'orders'

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe.skipIf(!built || !hasEtcd)('startBroker({ cluster: 3 })', () => {
  let cluster: StartedCluster | undefined
  afterAll(async () => { await cluster?.stop() })

  it('kafkajs produces with acks=all to three brokers, survives a kill -9 of the leader, and stop() cleans up', async () => {
    const started = Date.now()
    // A short lease: a killed broker's leaderships move within about 2 s.
    cluster = await startBroker({ cluster: 3, partitions: 2, logLevel: 'silent', config: { leaseTtlSeconds: 2 } })
    const startMs = Date.now() - started
    console.log(`startBroker({ cluster: 3 }) took ${startMs} ms`)
    expect(cluster.brokers).toHaveLength(3)
    expect(cluster.brokers[0]).toBe(`127.0.0.1:${cluster.port}`)
    expect(cluster.nodes.map((n) => [n.id, n.address, n.alive])).toEqual(cluster.brokers.map((address, i) => [i + 1, address, true]))
    const pids = cluster.nodes.map((n) => n.pid!)
    for (const pid of pids) expect(alive(pid)).toBe(true)

    const kafka = new Kafka({ clientId: 'cluster-fixture', brokers: cluster.brokers, logLevel: logLevel.NOTHING, retry: { retries: 12, initialRetryTime: 100, maxRetryTime: 1000 } })
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 2, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }], waitForLeaders: true })
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    let sent = 0
    const send = async (count: number): Promise<void> => {
      const messages = Array.from({ length: count }, (_, i) => ({ key: `k${(sent + i) % 2}`, value: `v${sent + i}` }))
      const results = await producer.send({ topic: TOPIC, acks: -1, messages })
      for (const r of results) expect(r.errorCode).toBe(0)
      sent += count
    }
    await send(20)
    // Bounded: the ISR of a just-created partition can take a fetch round to fill.
    let metadata = await admin.fetchTopicMetadata({ topics: [TOPIC] })
    for (let i = 0; i < 50 && metadata.topics[0].partitions.some((p) => p.isr.length < 3); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      metadata = await admin.fetchTopicMetadata({ topics: [TOPIC] })
    }
    for (const p of metadata.topics[0].partitions) {
      expect([...p.replicas].sort()).toEqual([1, 2, 3])
      expect([...p.isr].sort()).toEqual([1, 2, 3])
    }

    const leader = metadata.topics[0].partitions.find((p) => p.partitionId === 0)!.leader
    await cluster.killBroker(leader)
    expect(alive(pids[leader - 1])).toBe(false)
    expect(cluster.nodes[leader - 1].alive).toBe(false)
    await send(20)
    await producer.disconnect()
    await admin.disconnect()

    const consumer = kafka.consumer({ groupId: 'cluster-fixture-readers', maxWaitTimeInMs: 200 })
    await consumer.connect()
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
    const seen = new Set<string>()
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${seen.size} of ${sent} records within 30 s`)), 30_000)
      void consumer.run({
        eachMessage: async ({ message }) => {
          seen.add(message.value!.toString())
          if (seen.size === sent) { clearTimeout(timer); resolve() }
        },
      })
    })
    await consumer.disconnect()
    expect(seen).toEqual(new Set(Array.from({ length: sent }, (_, i) => `v${i}`)))

    const dataDir = cluster.dataDir
    await cluster.stop()
    for (const pid of pids) expect(alive(pid)).toBe(false)
    expect(cluster.nodes.every((n) => !n.alive)).toBe(true)
    expect(existsSync(dataDir)).toBe(false)
  }, 90_000)

  it('refuses a bad setting with a typed error before starting any process', async () => {
    await expect(startBroker({ cluster: 3, config: { leaseTtlSeconds: -1 } })).rejects.toThrow(/leaseTtlSeconds/)
    await expect(startBroker({ cluster: 0 })).rejects.toThrow(RangeError)
  })
})
