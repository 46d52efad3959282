/**
 * Issue 18 item 4 in cluster mode: a damaged batch in a replica's closed segment is mended from
 * another replica. A bit flipped in a follower's segment file is found by its scrubber and the
 * follower rewrites the batch with its leader's copy; a bit flipped in the leader's copy makes
 * it hand leadership to an in-sync follower and then mend the batch from it. Afterwards every
 * replica holds the same bytes as before the damage and kafkajs reads every record once, in order.
 * The batch and bit are drawn from a seeded source (RINGLOG_SEED replays).
 * Needs `npm run build` (the brokers run bin/ringlog.js) and /usr/bin/etcd.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { splitBatches } from '../../src/protocol/record-batch.js'
import { randomForTest, type SeededRandom } from '../seed.js'
import { type BrokerProcess, type BrokerProcessCluster, startBrokerProcessCluster, stopBrokerProcessCluster } from './fixtures/broker-processes.js'
import { partitionView, segmentBatches, until } from './fixtures/replica-logs.js'

const built = existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))
const hasEtcd = existsSync('/usr/bin/etcd')
const TOPIC = 'scrubbed'
const RECORDS = 60
const BROKER_FLAGS = ['--lease-ttl-seconds', '2', '--replica-lag-time-max-ms', '30000', '--scrub-interval-ms', '300', '--scrub-rate-mb', '50']

describe.skipIf(!built || !hasEtcd)('cluster mode: the scrubber mends a damaged batch from another replica', () => {
  let processes: BrokerProcessCluster | undefined
  let brokers: BrokerProcess[] = []
  const cluster = `scrub-repair-${process.pid}`

  beforeAll(async () => {
    processes = await startBrokerProcessCluster({ name: cluster, extra: BROKER_FLAGS })
    brokers = processes.brokers
  }, 60_000)

  afterAll(async () => {
    await stopBrokerProcessCluster(processes)
  })

  const kafka = (): Kafka => new Kafka({
    clientId: 'scrub-repair', brokers: brokers.map((b) => `127.0.0.1:${b.port}`), logLevel: logLevel.NOTHING,
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1_000 },
  })
  const partitionDir = (b: BrokerProcess): string => join(b.dataDir, `${TOPIC}-0`)

  /** Flips one bit inside a CRC-covered byte of a batch of a closed segment; returns the file, its intact bytes and the batch's base offset. */
  function damage(b: BrokerProcess, random: SeededRandom): { path: string; intact: Buffer; baseOffset: number } {
    const dir = partitionDir(b)
    const segments = readdirSync(dir).filter((n) => n.endsWith('.log')).sort()
    const path = join(dir, segments[random.int(segments.length - 1)]) // never the active (newest) one
    const intact = readFileSync(path)
    const { batches } = splitBatches(intact)
    const victim = batches[random.int(batches.length)]
    const at = victim.offset + 21 + random.int(victim.size - 21)
    const fd = openSync(path, 'r+')
    try { writeSync(fd, Buffer.from([intact[at] ^ (1 << random.int(8))]), 0, 1, at) } finally { closeSync(fd) }
    return { path, intact, baseOffset: Number(intact.readBigInt64BE(victim.offset)) }
  }

  it('a follower mends its copy from the leader; a damaged leader hands over and mends its copy from the new leader', async () => {
    const random = randomForTest()
    const admin = kafka().admin()
    await admin.connect()
    try {
      await admin.createTopics({
        topics: [{ topic: TOPIC, numPartitions: 1, replicationFactor: 3, configEntries: [{ name: 'segment.bytes', value: '4096' }] }],
        waitForLeaders: true,
      })
    } finally {
      await admin.disconnect()
    }
    const values = Array.from({ length: RECORDS }, (_, i) => `record-${i}-${'v'.repeat(300)}`)
    const producer = kafka().producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    try {
      for (const value of values) await producer.send({ topic: TOPIC, acks: -1, messages: [{ partition: 0, value }] })
    } finally {
      await producer.disconnect()
    }
    await until(async () => (brokers.every((b) => segmentBatches(partitionDir(b)).length === RECORDS) ? true : undefined), 'every replica holds every batch')
    const before = await until(async () => {
      const v = await partitionView(brokers[0].port, TOPIC, 0)
      return v && v.leader > 0 && v.isr.length === 3 ? v : undefined
    }, 'the partition has a leader and a full ISR')

    // A follower's copy.
    const follower = brokers.find((b) => b.nodeId !== before.leader)!
    const hurt = damage(follower, random)
    await until(async () => (readFileSync(hurt.path).equals(hurt.intact) ? true : undefined), `broker ${follower.nodeId} mends offset ${hurt.baseOffset} (seed=${random.seed})`)
    // The log line reaches this process through a pipe, maybe a moment after the file is whole.
    await until(async () => (/scrub repair: .* repaired with broker \d+'s copy/.test(follower.output()) ? true : undefined), `broker ${follower.nodeId} logs its repair (seed=${random.seed})`)

    // The leader's copy: leadership moves to an in-sync follower, then the old leader mends its copy.
    const leader = brokers.find((b) => b.nodeId === before.leader)!
    const hurtLeader = damage(leader, random)
    const after = await until(async () => {
      const v = await partitionView(follower.port, TOPIC, 0)
      return v && v.leader > 0 && v.leader !== leader.nodeId && v.leaderEpoch > before.leaderEpoch ? v : undefined
    }, `broker ${leader.nodeId} hands leadership over (seed=${random.seed})`)
    expect(after.isr).toContain(leader.nodeId)
    await until(async () => (readFileSync(hurtLeader.path).equals(hurtLeader.intact) ? true : undefined), `broker ${leader.nodeId} mends offset ${hurtLeader.baseOffset} (seed=${random.seed})`)
    await until(async () => (/leadership handed to another in-sync replica/.test(leader.output()) ? true : undefined), `broker ${leader.nodeId} logs its handover (seed=${random.seed})`)

    // Every record once, in order, through the new leader.
    const consumer = kafka().consumer({ groupId: 'scrub-repair-verify', maxWaitTimeInMs: 200 })
    const seen: string[] = []
    await consumer.connect()
    try {
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`read ${seen.length} of ${RECORDS} records within 30 s`)), 30_000)
        void consumer.run({
          eachMessage: async ({ message }) => {
            seen.push(message.value!.toString())
            if (seen.length >= RECORDS) { clearTimeout(timer); resolve() }
          },
        }).catch(reject)
      })
    } finally {
      await consumer.disconnect()
    }
    expect(seen).toEqual(values)
  }, 120_000)
})
