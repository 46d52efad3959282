/**
 * Issue 13, item 3: a retried idempotent batch is never stored twice across a leader kill -9.
 * Three brokers, RF 3, min.insync.replicas 2; three idempotent acks=all kafkajs producers, one
 * per partition, write at once while the leader of a partition (picked by the
 * seed) is stopped three times: kill -9, SIGTERM (controlled shutdown), kill -9. Afterwards every replica's segment files are read: no
 * (producerId, producerEpoch, baseSequence) is stored twice in any partition, and a consumer
 * reads every value at most once and every acknowledged value exactly once.
 * Prints its seed; `RINGLOG_SEED=<n>` replays the choice of victims and send sizes.
 * Needs `npm run build` (the brokers run bin/ringlog.js) and /usr/bin/etcd.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type EtcdProcess, startEtcd } from '../../src/cluster/etcd-process.js'
import { randomForTest } from '../seed.js'
import { type BrokerProcess, startBrokerProcess, stopBrokerProcess } from './fixtures/broker-processes.js'
import { partitionView, until } from './fixtures/replica-logs.js'

const built = existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))
const hasEtcd = existsSync('/usr/bin/etcd')
const TOPIC = 'dedup'
const PARTITIONS = 3
/** How each round stops the leader: kill -9, and once a controlled shutdown (it hands leaderships off while still serving). */
const STOPS: NodeJS.Signals[] = ['SIGKILL', 'SIGTERM', 'SIGKILL']
const FLAGS = ['--lease-ttl-seconds', '2', '--replica-lag-time-max-ms', '5000']

interface StoredBatch { baseOffset: number; producerId: bigint; producerEpoch: number; baseSequence: number; count: number }

/** Every whole batch of a partition directory with its idempotence fields (RecordBatch v2 header). */
function storedBatches(dir: string): StoredBatch[] {
  if (!existsSync(dir)) return []
  const out: StoredBatch[] = []
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.log')).sort()) {
    const data = readFileSync(join(dir, name))
    for (let at = 0; at + 61 <= data.length;) {
      const size = 12 + data.readInt32BE(at + 8)
      if (size <= 12 || at + size > data.length) break
      out.push({
        baseOffset: Number(data.readBigInt64BE(at)), producerId: data.readBigInt64BE(at + 43),
        producerEpoch: data.readInt16BE(at + 51), baseSequence: data.readInt32BE(at + 53), count: data.readInt32BE(at + 57),
      })
      at += size
    }
  }
  return out
}

/** Descriptions of every (producerId, epoch, sequence) stored more than once. */
function duplicateSequences(batches: readonly StoredBatch[]): string[] {
  const seen = new Map<string, number>()
  const twice: string[] = []
  for (const b of batches) {
    if (b.producerId < 0n) continue
    const key = `${b.producerId}/${b.producerEpoch}/${b.baseSequence}`
    const first = seen.get(key)
    if (first !== undefined) twice.push(`${key} at offsets ${first} and ${b.baseOffset}`)
    else seen.set(key, b.baseOffset)
  }
  return twice
}

describe.skipIf(!built || !hasEtcd)('idempotent produce across leader kills', () => {
  let etcd: EtcdProcess
  let root = ''
  const brokers: BrokerProcess[] = []

  beforeAll(async () => {
    etcd = await startEtcd()
    root = mkdtempSync(join(tmpdir(), 'ringlog-dedup-'))
  }, 60_000)

  afterAll(async () => {
    for (const b of brokers) await stopBrokerProcess(b, 'SIGKILL').catch(() => undefined)
    await etcd?.destroy()
    if (root) rmSync(root, { recursive: true, force: true })
  })

  it('no (producerId, sequence) is stored twice and no record is read twice', async () => {
    const random = randomForTest()
    console.log(`seed=${random.seed} (replay: RINGLOG_SEED=${random.seed})`)
    for (const nodeId of [1, 2, 3]) {
      brokers.push(await startBrokerProcess({ nodeId, dataDir: join(root, `b${nodeId}`), etcd: etcd.endpoint, cluster: 'dedup', extra: FLAGS }))
    }
    const kafka = new Kafka({
      clientId: 'dedup', brokers: brokers.map((b) => `127.0.0.1:${b.port}`), logLevel: logLevel.NOTHING,
      retry: { retries: 50, initialRetryTime: 100, maxRetryTime: 1_000 },
    })
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({
      topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }],
      waitForLeaders: true,
    }).finally(() => admin.disconnect())
    const fullIsr = (what: string): Promise<true> => until(async () => {
      const alive = brokers.find((b) => b.child.exitCode === null && b.child.signalCode === null)!
      for (let p = 0; p < PARTITIONS; p++) {
        const view = await partitionView(alive.port, TOPIC, p)
        if (!view || view.leader < 0 || view.isr.length !== 3) return undefined
      }
      return true
    }, what, 60_000)
    await fullIsr('full ISRs')

    // One idempotent producer per partition, each with one send at a time, all three writing at
    // once. kafkajs's producer is not safe for more: it does not reassign sequences after a failed
    // in-flight batch (KAFKA-5494's client half; kafkajs#980), and two concurrent send() calls for
    // one partition that reach two brokers during a leader change (it locks per broker) take the
    // same sequence and roll it back by each other's lengths; either way its later batches get
    // OUT_OF_ORDER_SEQUENCE_NUMBER or DUPLICATE_SEQUENCE_NUMBER, which it treats as fatal, and it
    // stops writing for good, as it would against Kafka. Retries back off at most 1 s (its
    // default grows to 30 s, which makes a failover of a few seconds look like a minute's stall).
    const producers = Array.from({ length: PARTITIONS }, () => kafka.producer({
      idempotent: true, maxInFlightRequests: 1, retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 1_000 },
    }))
    for (const producer of producers) await producer.connect()
    const acked = new Set<string>()
    const sent = new Set<string>()
    const failures: string[] = []
    let stop = false
    let sendNo = 0
    const lane = async (partition: number): Promise<void> => {
      while (!stop) {
        const n = sendNo++
        const size = 1 + random.int(40)
        const values = Array.from({ length: size }, (_, i) => `${n}:${i}`)
        for (const v of values) sent.add(v)
        try {
          await producers[partition].send({ topic: TOPIC, acks: -1, messages: values.map((value) => ({ partition, value })) })
          for (const v of values) acked.add(v)
        } catch (error) {
          // An unacknowledged send may be stored at most once; the last failures explain a stall.
          failures.push(`${(error as Error).name}: ${(error as Error).message}`)
          if (failures.length > 20) failures.shift()
        }
      }
    }
    const lanes = Array.from({ length: PARTITIONS }, (_, partition) => lane(partition))
    try {
      for (const [kill, signal] of STOPS.entries()) {
        const before = acked.size
        await until(async () => (acked.size > before + 200 ? true : undefined), `kill ${kill}: load before`, 60_000)
        const view = await partitionView(brokers[0].port, TOPIC, random.int(PARTITIONS))
        const victim = brokers.find((b) => b.nodeId === view?.leader) ?? brokers[random.int(3)]
        await stopBrokerProcess(victim, signal)
        const afterKill = acked.size
        await until(async () => (acked.size > afterKill + 200 ? true : undefined), `kill ${kill}: writes go on without broker ${victim.nodeId}`, 60_000)
          .catch((error: Error) => { throw new Error(`${error.message}; the last failed sends: ${[...new Set(failures)].join(' | ')}`) })
        brokers[brokers.indexOf(victim)] = await startBrokerProcess({ nodeId: victim.nodeId, dataDir: victim.dataDir, port: victim.port, etcd: etcd.endpoint, cluster: 'dedup', extra: FLAGS })
        await fullIsr(`kill ${kill}: broker ${victim.nodeId} rejoins every ISR`)
      }
    } finally {
      stop = true
      await Promise.all(lanes)
      for (const producer of producers) await producer.disconnect()
    }

    // Replicas caught up: read each partition's stored batches on every broker.
    for (let p = 0; p < PARTITIONS; p++) {
      for (const b of brokers) {
        const batches = storedBatches(join(b.dataDir, `${TOPIC}-${p}`))
        expect(duplicateSequences(batches), `broker ${b.nodeId} partition ${p}`).toEqual([])
      }
    }
    const consumer = kafka.consumer({ groupId: 'dedup-verify', maxWaitTimeInMs: 200 })
    const seen = new Map<string, number>()
    await consumer.connect()
    try {
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
      let ackedSeen = 0
      await consumer.run({ eachMessage: async ({ message }) => {
        const value = message.value!.toString()
        seen.set(value, (seen.get(value) ?? 0) + 1)
        if (acked.has(value) && seen.get(value) === 1) ackedSeen++
      } })
      await until(async () => (ackedSeen >= acked.size ? true : undefined), `the consumer reads all ${acked.size} acknowledged values`, 90_000)
        .catch((error: Error) => {
          const missing = [...acked].filter((v) => !seen.has(v))
          const stored = brokers.map((b) => `broker ${b.nodeId}: ${Array.from({ length: PARTITIONS }, (_, p) => storedBatches(join(b.dataDir, `${TOPIC}-${p}`)).reduce((n, x) => n + x.count, 0)).join('/')} records`)
          throw new Error(`${error.message}: read ${ackedSeen}; ${missing.length} missing, e.g. ${missing.slice(0, 10).join(', ')} (values n:i of one send share a partition); ${stored.join('; ')}`)
        })
    } finally {
      await consumer.disconnect()
    }
    expect([...seen].filter(([, n]) => n > 1).map(([v]) => v)).toEqual([])
    expect([...seen.keys()].filter((v) => !sent.has(v))).toEqual([])
  }, 300_000)
})
