/**
 * Issue 13, item 2: CreatePartitions and (Incremental)AlterConfigs go through etcd in cluster
 * mode. Three broker processes and a private etcd: kafkajs adds partitions to an RF 3 topic (the
 * new ones get leaders on different brokers, every broker lists them, kafkajs produces to and
 * consumes from each); an explicit assignment is taken as given and bad ones are refused with
 * INVALID_REPLICA_ASSIGNMENT; an AlterConfigs of min.insync.replicas sent to one broker is
 * shown by DescribeConfigs on every broker and enforced by the leader (NOT_ENOUGH_REPLICAS once
 * two brokers are stopped; accepted again after IncrementalAlterConfigs lowers it).
 * Needs `npm run build` (the brokers run bin/ringlog.js) and /usr/bin/etcd.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildBatchTemplates } from '../../src/bench/loadgen/batch-templates.js'
import { ApiKey } from '../../src/kafka-client/kafka-wire-client.js'
import { withWireClient } from '../../src/kafka-client/negotiated-client.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { type BrokerProcess, type BrokerProcessCluster, stopBrokerProcess, startBrokerProcessCluster, stopBrokerProcessCluster } from './fixtures/broker-processes.js'
import { partitionView, until } from './fixtures/replica-logs.js'

const built = existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))
const hasEtcd = existsSync('/usr/bin/etcd')
const TOPIC = 'grow'
const TOPIC_RESOURCE = 2

/** One DescribeConfigs of the topic sent to this broker: the value it reports for `name`. */
function describedConfig(port: number, name: string): Promise<string | null | undefined> {
  return withWireClient(`127.0.0.1:${port}`, async (client) => {
    const r = await client.request(ApiKey.DescribeConfigs, 4, {
      resources: [{ resourceType: TOPIC_RESOURCE, resourceName: TOPIC, configurationKeys: [name] }],
      includeSynonyms: false, includeDocumentation: false,
    })
    return r.results[0]?.configs.find((c) => c.name === name)?.value
  }, { connectTimeoutMs: 3_000, requestTimeoutMs: 3_000 })
}

/** A raw acks=all Produce v9 of one small batch to `partition`, sent to this broker: its error code. */
function produceCode(port: number, partition: number): Promise<number> {
  const batch = buildBatchTemplates({ recordSize: 100, batchBytes: 1000, compression: 'none', templates: 1 })[0].batch
  return withWireClient(`127.0.0.1:${port}`, async (client) => {
    const r = await client.request(ApiKey.Produce, 9, {
      transactionalId: null, acks: -1, timeoutMs: 5_000,
      topicData: [{ name: TOPIC, partitionData: [{ index: partition, records: batch }] }],
    })
    return r.responses[0].partitionResponses[0].errorCode
  }, { connectTimeoutMs: 3_000, requestTimeoutMs: 8_000 })
}

describe.skipIf(!built || !hasEtcd)('CreatePartitions and AlterConfigs in cluster mode', () => {
  let processes: BrokerProcessCluster | undefined
  let brokers: BrokerProcess[] = []
  let kafka: Kafka

  beforeAll(async () => {
    processes = await startBrokerProcessCluster({ name: 'admin', extra: ['--lease-ttl-seconds', '2', '--replica-lag-time-max-ms', '10000'] })
    brokers = processes.brokers
    kafka = new Kafka({
      clientId: 'admin-changes', brokers: brokers.map((b) => `127.0.0.1:${b.port}`), logLevel: logLevel.NOTHING,
      retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1_000 },
    })
  }, 120_000)

  afterAll(async () => {
    await stopBrokerProcessCluster(processes)
  })

  it('adds partitions across the brokers; kafkajs produces to and consumes from each new one; assignments are checked', async () => {
    const admin = kafka.admin()
    await admin.connect()
    try {
      await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 2, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }], waitForLeaders: true })
      await admin.createPartitions({ topicPartitions: [{ topic: TOPIC, count: 6 }] })

      // Every broker lists all six, each with a leader and its three replicas in the ISR.
      const leaders = await until(async () => {
        const found: number[] = []
        for (const b of brokers) {
          for (let p = 0; p < 6; p++) {
            const view = await partitionView(b.port, TOPIC, p)
            if (!view || view.leader < 0 || view.isr.length !== 3 || view.replicas.length !== 3) return undefined
            if (b === brokers[0]) found.push(view.leader)
          }
        }
        return found
      }, 'every broker lists six partitions with full ISRs', 45_000)
      expect(new Set(leaders.slice(2)).size).toBeGreaterThan(1) // the new partitions' leaders are spread

      const producer = kafka.producer({ allowAutoTopicCreation: false })
      await producer.connect()
      for (let p = 2; p < 6; p++) {
        await producer.send({ topic: TOPIC, acks: -1, messages: [{ partition: p, value: `new-${p}-a` }, { partition: p, value: `new-${p}-b` }] })
      }
      await producer.disconnect()
      const consumer = kafka.consumer({ groupId: 'grow-readers', maxWaitTimeInMs: 200 })
      await consumer.connect()
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
      const seen = new Map<number, string[]>()
      let count = 0
      await consumer.run({ eachMessage: async ({ partition, message }) => {
        seen.set(partition, [...(seen.get(partition) ?? []), message.value?.toString() ?? ''])
        count++
      } })
      await until(async () => (count >= 8 ? true : undefined), 'the consumer read the eight records', 45_000)
      await consumer.disconnect()
      for (let p = 2; p < 6; p++) expect(seen.get(p)).toEqual([`new-${p}-a`, `new-${p}-b`])

      // An explicit assignment is stored as given (preferred leader first).
      await admin.createPartitions({ topicPartitions: [{ topic: TOPIC, count: 7, assignments: [[3, 1, 2]] }] })
      const seventh = await until(async () => {
        const view = await partitionView(brokers[1].port, TOPIC, 6)
        return view && view.leader === 3 && view.isr.length === 3 ? view : undefined
      }, 'partition 6 led by broker 3')
      expect(seventh.replicas).toEqual([1, 2, 3])

      const refused = async (assignments: number[][]): Promise<unknown> =>
        admin.createPartitions({ topicPartitions: [{ topic: TOPIC, count: 8, assignments }] }).then(() => 'accepted', (error: unknown) => error)
      for (const bad of [[[1, 1, 2]], [[1, 2, 9]], [[1, 2]], [[1, 2, 3], [2, 3, 1]]]) {
        expect(await refused(bad), JSON.stringify(bad)).toMatchObject({ type: 'INVALID_REPLICA_ASSIGNMENT' })
      }
      expect((await partitionView(brokers[2].port, TOPIC, 7))).toBeUndefined()
    } finally {
      await admin.disconnect()
    }
  }, 180_000)

  it('an AlterConfigs on one broker is described by every broker and enforced by the leaders', async () => {
    const admin = kafka.admin()
    await admin.connect()
    try {
      await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: TOPIC, configEntries: [{ name: 'min.insync.replicas', value: '3' }, { name: 'retention.ms', value: '3600000' }] }] })
    } finally {
      await admin.disconnect()
    }
    for (const b of brokers) {
      await until(async () => ((await describedConfig(b.port, 'min.insync.replicas')) === '3' ? true : undefined), `broker ${b.nodeId} describes min.insync.replicas=3`)
      expect(await describedConfig(b.port, 'retention.ms')).toBe('3600000')
    }
    // All three in sync: partition 0's leader (whichever broker it is) takes acks=all.
    const leader = (await partitionView(brokers[0].port, TOPIC, 0))?.leader ?? -1
    expect(await produceCode(brokers[leader - 1].port, 0)).toBe(ErrorCode.NONE)

    // Two brokers leave (controlled shutdown): everything is led by broker 1 with an ISR of one.
    await stopBrokerProcess(brokers[2])
    await stopBrokerProcess(brokers[1])
    await until(async () => {
      const view = await partitionView(brokers[0].port, TOPIC, 0)
      return view && view.leader === 1 && view.isr.length === 1 ? true : undefined
    }, 'broker 1 leads partition 0 alone', 45_000)
    expect(await produceCode(brokers[0].port, 0)).toBe(ErrorCode.NOT_ENOUGH_REPLICAS)

    // IncrementalAlterConfigs through the survivor (etcd still there) lowers it: accepted again.
    const lower = await withWireClient(`127.0.0.1:${brokers[0].port}`, (client) => client.request(ApiKey.IncrementalAlterConfigs, 1, {
      resources: [{ resourceType: TOPIC_RESOURCE, resourceName: TOPIC, configs: [{ name: 'min.insync.replicas', configOperation: 0, value: '1' }] }],
      validateOnly: false,
    }))
    expect(lower.responses[0].errorCode).toBe(ErrorCode.NONE)
    expect(await describedConfig(brokers[0].port, 'min.insync.replicas')).toBe('1')
    expect(await describedConfig(brokers[0].port, 'retention.ms')).toBe('3600000') // incremental: the rest stays
    expect(await produceCode(brokers[0].port, 0)).toBe(ErrorCode.NONE)
  }, 180_000)
})
