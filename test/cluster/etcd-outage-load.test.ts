/**
 * Issue 13, test 4: etcd stopped for 10 s under load, then started again. Three real brokers,
 * RF 3, min.insync.replicas 2, an idempotent acks=all kafkajs producer sending without pause.
 * While etcd is down the brokers keep serving produce for the leaders they have (acks=all goes
 * on: the ISRs are full and need no change); when it returns the cluster converges (every broker
 * registered, every partition led with a full ISR, a new topic can be created) and every
 * acknowledged record is read back once, in order.
 * Needs `npm run build` (the brokers run bin/ringlog.js) and /usr/bin/etcd.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EtcdProcess } from '../../src/cluster/etcd-process.js'
import { type BrokerProcess, type BrokerProcessCluster, startBrokerProcessCluster, stopBrokerProcessCluster } from './fixtures/broker-processes.js'
import { partitionView, until } from './fixtures/replica-logs.js'

const built = existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))
const hasEtcd = existsSync('/usr/bin/etcd')
const TOPIC = 'outage-load'
const PARTITIONS = 2
const OUTAGE_MS = 10_000
const PER_SEND = 20

describe.skipIf(!built || !hasEtcd)('cluster mode: etcd down for 10 s under acks=all load', () => {
  let processes: BrokerProcessCluster | undefined
  let etcd: EtcdProcess
  let brokers: BrokerProcess[] = []
  const cluster = `outage-${process.pid}`

  beforeAll(async () => {
    processes = await startBrokerProcessCluster({ name: cluster, extra: ['--lease-ttl-seconds', '2', '--replica-lag-time-max-ms', '5000'] })
    ;({ etcd, brokers } = processes)
  }, 60_000)

  afterAll(async () => {
    await stopBrokerProcessCluster(processes)
  })

  it('writes go on during the outage; afterwards the cluster converges and nothing acknowledged is lost', async () => {
    const kafka = new Kafka({
      clientId: 'outage-load', brokers: brokers.map((b) => `127.0.0.1:${b.port}`), logLevel: logLevel.NOTHING,
      retry: { retries: 50, initialRetryTime: 100, maxRetryTime: 1_000 },
    })
    const admin = kafka.admin()
    await admin.connect()
    const untilConverged = (what: string, topic: string, partitions: number): Promise<true> => until(async () => {
      for (let p = 0; p < partitions; p++) {
        const view = await partitionView(brokers[p % brokers.length].port, topic, p)
        if (!view || view.leader < 0 || view.isr.length !== 3) return undefined
      }
      return true
    }, what, 60_000)
    try {
      await admin.createTopics({
        topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }],
        waitForLeaders: true,
      })
      await untilConverged('the topic has leaders and full ISRs', TOPIC, PARTITIONS)

      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
      await producer.connect()
      const acked: string[][] = Array.from({ length: PARTITIONS }, () => [])
      let ackedCount = 0
      let failure: unknown
      let stop = false
      const load = (async () => {
        for (let send = 0; !stop && send < 1_000_000; send++) {
          const partition = send % PARTITIONS
          const values = Array.from({ length: PER_SEND }, (_, i) => `${send}:${i}`)
          try {
            await producer.send({ topic: TOPIC, acks: -1, messages: values.map((value) => ({ partition, value })) })
          } catch (error) {
            failure ??= error
            continue
          }
          acked[partition].push(...values)
          ackedCount += values.length
        }
      })()
      let duringOutage = 0
      try {
        await until(async () => (ackedCount >= 10 * PER_SEND ? true : undefined), 'the load starts')
        await etcd.stop()
        const down = Date.now()
        const atStop = ackedCount
        await until(async () => (ackedCount >= atStop + 10 * PER_SEND ? true : undefined), 'acks=all writes go on while etcd is down', OUTAGE_MS)
        // The outage lasts its full length (the scenario), whatever the load did.
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, OUTAGE_MS - (Date.now() - down))))
        duringOutage = ackedCount - atStop
        await etcd.start()
        await untilConverged('every partition is led with a full ISR after etcd returns', TOPIC, PARTITIONS)
        const afterRestart = ackedCount
        await until(async () => (ackedCount >= afterRestart + 10 * PER_SEND ? true : undefined), 'the load goes on after etcd returns')
      } finally {
        stop = true
        await load
        await producer.disconnect()
      }
      expect(failure).toBeUndefined()
      expect(duringOutage).toBeGreaterThan(0)

      // Converged: all three brokers registered again, a controller acts (a new topic gets leaders).
      const described = await until(async () => {
        const d = await admin.describeCluster()
        return d.brokers.length === 3 && d.controller !== null && d.controller >= 0 ? d : undefined
      }, 'every broker is registered and a controller elected')
      expect(described.brokers.map((b) => b.nodeId).sort()).toEqual([1, 2, 3])
      await admin.createTopics({ topics: [{ topic: 'after-outage', numPartitions: 3, replicationFactor: 3 }], waitForLeaders: true })
      await untilConverged('the topic created after the outage has leaders and full ISRs', 'after-outage', 3)

      const consumer = kafka.consumer({ groupId: 'outage-verify', maxWaitTimeInMs: 200 })
      const seen: string[][] = Array.from({ length: PARTITIONS }, () => [])
      let seenCount = 0 // not seen.flat().length per message: quadratic, it starved this process at 160,000 records
      await consumer.connect()
      try {
        await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`read ${seenCount} of ${ackedCount} records within 60 s`)), 60_000)
          void consumer.run({
            eachMessage: async ({ partition, message }) => {
              seen[partition].push(message.value!.toString())
              if (++seenCount >= ackedCount) { clearTimeout(timer); resolve() }
            },
          }).catch(reject)
        })
      } finally {
        await consumer.disconnect()
      }
      for (let p = 0; p < PARTITIONS; p++) expect(seen[p]).toEqual(acked[p])
    } finally {
      await admin.disconnect()
    }
  }, 180_000)
})
