/**
 * Issue 13, test 3: a divergent tail. The leader of an RF 3 partition appends acks=1 batches
 * while both followers are SIGSTOPped (so they never fetch most of them), then dies with kill -9.
 * A follower becomes leader under a new epoch and takes acks=all writes at the same offsets. The
 * old leader comes back as a follower, asks OffsetForLeaderEpoch and truncates its unreplicated
 * tail (KIP-101/279) before fetching the new leader's batches. Afterwards no offset holds two
 * different batches on two replicas (compared from the segment files: offsets, epoch, CRC),
 * and every acks=all record is read back once, in order.
 * Needs `npm run build` (the brokers run bin/ringlog.js) and /usr/bin/etcd.
 */
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EtcdProcess } from '../../src/cluster/etcd-process.js'
import { type BrokerProcess, type BrokerProcessCluster, startBrokerProcess, startBrokerProcessCluster, stopBrokerProcess, stopBrokerProcessCluster } from './fixtures/broker-processes.js'
import { divergences, partitionView, type SegmentBatch, segmentBatches, until } from './fixtures/replica-logs.js'

const built = existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))
const hasEtcd = existsSync('/usr/bin/etcd')
const TOPIC = 'divergent'
/** More than one replica fetch carries (1 MiB a partition): a fetch parked before SIGSTOP cannot take the whole tail. */
const TAIL_BATCHES = 24
const TAIL_VALUE = 'x'.repeat(32 * 1024)
const BROKER_FLAGS = ['--lease-ttl-seconds', '3', '--replica-lag-time-max-ms', '30000']

describe.skipIf(!built || !hasEtcd)('cluster mode: a divergent tail is truncated when the old leader returns', () => {
  let processes: BrokerProcessCluster | undefined
  let etcd: EtcdProcess
  let brokers: BrokerProcess[] = []
  const cluster = `divergent-${process.pid}`
  const stopped = new Set<number>()

  beforeAll(async () => {
    processes = await startBrokerProcessCluster({ name: cluster, extra: BROKER_FLAGS })
    ;({ etcd, brokers } = processes)
  }, 60_000)

  afterAll(async () => {
    for (const pid of stopped) try { process.kill(pid, 'SIGCONT') } catch { /* gone */ }
    await stopBrokerProcessCluster(processes)
  })

  const kafkaOf = (ports: number[], clientId: string): Kafka => new Kafka({
    clientId, brokers: ports.map((p) => `127.0.0.1:${p}`), logLevel: logLevel.NOTHING,
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1_000 },
  })
  const partitionDir = (b: BrokerProcess): string => join(b.dataDir, `${TOPIC}-0`)

  it('the old leader truncates its unreplicated acks=1 tail; no offset holds two batches; every acks=all record reads back once', async () => {
    const admin = kafkaOf(brokers.map((b) => b.port), 'divergent-admin').admin()
    await admin.connect()
    try {
      await admin.createTopics({
        topics: [{ topic: TOPIC, numPartitions: 1, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }],
        waitForLeaders: true,
      })
    } finally {
      await admin.disconnect()
    }
    const before = await until(async () => {
      const v = await partitionView(brokers[0].port, TOPIC, 0)
      return v && v.leader > 0 && v.isr.length === 3 ? v : undefined
    }, 'the partition has a leader and a full ISR')
    const oldLeader = brokers.find((b) => b.nodeId === before.leader)!
    const followers = brokers.filter((b) => b !== oldLeader)

    // Replicated prefix: acks=all, so every ISR member holds it.
    const committed: string[] = []
    const first = kafkaOf(brokers.map((b) => b.port), 'divergent-first').producer({ idempotent: true, maxInFlightRequests: 1 })
    await first.connect()
    try {
      for (let i = 0; i < 10; i++) {
        const values = [0, 1, 2].map((j) => `first-${i}-${j}`)
        await first.send({ topic: TOPIC, acks: -1, messages: values.map((value) => ({ partition: 0, value })) })
        committed.push(...values)
      }
    } finally {
      await first.disconnect()
    }

    // Followers stopped: the leader alone appends an acks=1 tail, then dies with kill -9.
    const tail = kafkaOf([oldLeader.port], 'divergent-tail').producer({ retry: { retries: 0 } })
    await tail.connect()
    let tailEnd = -1
    try {
      for (const f of followers) { process.kill(f.child.pid!, 'SIGSTOP'); stopped.add(f.child.pid!) }
      for (let i = 0; i < TAIL_BATCHES; i++) {
        const [meta] = await tail.send({ topic: TOPIC, acks: 1, messages: [0, 1].map((j) => ({ partition: 0, value: `tail-${i}-${j}-${TAIL_VALUE}` })) })
        tailEnd = Number(meta.baseOffset) + 2
      }
    } finally {
      await stopBrokerProcess(oldLeader, 'SIGKILL')
      await tail.disconnect().catch(() => undefined)
      for (const f of followers) { process.kill(f.child.pid!, 'SIGCONT'); stopped.delete(f.child.pid!) }
    }
    const oldCopy = segmentBatches(partitionDir(oldLeader))
    expect(oldCopy.at(-1)!.lastOffset + 1).toBe(tailEnd)

    // A follower takes over under a newer epoch and accepts acks=all writes at the same offsets.
    const after = await until(async () => {
      const v = await partitionView(followers[0].port, TOPIC, 0)
      return v && followers.some((f) => f.nodeId === v.leader) && v.leaderEpoch > before.leaderEpoch ? v : undefined
    }, 'a follower leads under a newer epoch', 45_000)
    const newLeader = followers.find((f) => f.nodeId === after.leader)!
    const second = kafkaOf(followers.map((b) => b.port), 'divergent-second').producer({ idempotent: true, maxInFlightRequests: 1 })
    await second.connect()
    try {
      for (let i = 0; i < 10; i++) {
        const values = [0, 1, 2].map((j) => `second-${i}-${j}`)
        await second.send({ topic: TOPIC, acks: -1, messages: values.map((value) => ({ partition: 0, value })) })
        committed.push(...values)
      }
    } finally {
      await second.disconnect()
    }
    const newCopy = segmentBatches(partitionDir(newLeader))
    // The tails really diverged: the new leader wrote other batches where the old one has its acks=1 tail.
    const conflicts = divergences(new Map<string, SegmentBatch[]>([['old leader', oldCopy], ['new leader', newCopy]]))
    expect(conflicts.length).toBeGreaterThan(0)

    // The old leader returns as a follower: it truncates, catches up and rejoins the ISR. It cuts
    // its own segment in place (same file), never drops the replica and fetches it all again.
    const firstSegment = join(partitionDir(oldLeader), '00000000000000000000.log')
    const inode = statSync(firstSegment).ino
    const returned = await startBrokerProcess({ nodeId: oldLeader.nodeId, dataDir: oldLeader.dataDir, port: oldLeader.port, etcd: etcd.endpoint, cluster, extra: BROKER_FLAGS })
    brokers[brokers.indexOf(oldLeader)] = returned
    await until(async () => {
      const v = await partitionView(newLeader.port, TOPIC, 0)
      return v?.isr.length === 3 ? v : undefined
    }, 'the old leader rejoins the ISR', 45_000)
    const leaderEnd = newCopy.at(-1)!.lastOffset + 1
    await until(async () => {
      const copy = segmentBatches(partitionDir(returned))
      return copy.length > 0 && copy.at(-1)!.lastOffset + 1 >= leaderEnd ? copy : undefined
    }, 'the returned broker holds the new leader\'s batches')

    // Every acks=all record once, in order (the acks=1 tail that never replicated is gone).
    const consumer = kafkaOf(followers.map((b) => b.port), 'divergent-read').consumer({ groupId: 'divergent-verify', maxWaitTimeInMs: 200 })
    const seen: string[] = []
    await consumer.connect()
    try {
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`read ${seen.length} records, expected at least ${committed.length}, within 30 s`)), 30_000)
        void consumer.run({
          eachMessage: async ({ message }) => {
            seen.push(message.value!.toString())
            if (seen.filter((v) => !v.startsWith('tail-')).length >= committed.length) { clearTimeout(timer); resolve() }
          },
        }).catch(reject)
      })
    } finally {
      await consumer.disconnect()
    }
    expect(seen.filter((v) => !v.startsWith('tail-'))).toEqual(committed)

    for (const b of brokers) await stopBrokerProcess(b, 'SIGKILL')
    const copies = new Map(brokers.map((b) => [`broker ${b.nodeId}`, segmentBatches(partitionDir(b))]))
    expect(divergences(copies)).toEqual([])
    expect(statSync(firstSegment).ino).toBe(inode)
    // All three hold the same log, batch for batch.
    const [reference, ...others] = [...copies.values()]
    for (const copy of others) expect(copy).toEqual(reference)
  }, 120_000)
})
