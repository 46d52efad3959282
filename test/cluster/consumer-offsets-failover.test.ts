/**
 * Issue 14: committed offsets live in the replicated `__consumer_offsets` topic. Three real broker
 * processes and a private etcd; FindCoordinator names the leader of the group's offsets partition,
 * an OffsetCommit there commits a group's offsets, that broker is killed with -9, and kafkajs finds
 * the new coordinator by itself and reads the same offsets back.
 * Needs `npm run build` (the brokers run bin/ringlog.js) and /usr/bin/etcd.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EtcdProcess } from '../../src/cluster/etcd-process.js'
import { ApiKey } from '../../src/kafka-client/kafka-wire-client.js'
import { withWireClient } from '../../src/kafka-client/negotiated-client.js'
import { runRinglog } from '../cli/ringlog-process.js'
import { type BrokerProcess, type BrokerProcessCluster, startBrokerProcess, stopBrokerProcess, startBrokerProcessCluster, stopBrokerProcessCluster } from './fixtures/broker-processes.js'

const built = existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))
const hasEtcd = existsSync('/usr/bin/etcd')
const GROUP = 'failover-group'
const TOPIC = 'offsets-failover'
const MEMBER_GROUP = 'failover-members'

/** FindCoordinator v3 from one broker, retried (bounded) until it names a broker other than `not`. */
async function coordinatorOf(port: number, not = -1, group = GROUP): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const answer = await withWireClient(`127.0.0.1:${port}`, (client) => client.request(ApiKey.FindCoordinator, 3, { key: group, keyType: 0 }))
    if (answer.errorCode === 0 && answer.nodeId !== not) return answer.nodeId
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error('no coordinator named within 10 s')
}

/**
 * OffsetCommit v2 for GROUP with no member (generation -1), as admin tools commit, to the
 * coordinator FindCoordinator names; asked again (bounded) while the answer is a retriable
 * coordinator error, as clients do. The coordinator that took the commit and the partitions' codes.
 */
async function commitOffsets(firstPort: number, ports: Map<number, number>, offsets: [partition: number, offset: number][]): Promise<{ coordinator: number; codes: number[] }> {
  const RETRIABLE = new Set([14, 15, 16]) // COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR
  for (let attempt = 0; attempt < 100; attempt++) {
    const coordinator = await coordinatorOf(firstPort)
    const answer = await withWireClient(`127.0.0.1:${ports.get(coordinator)}`, (client) => client.request(ApiKey.OffsetCommit, 2, {
      groupId: GROUP, generationIdOrMemberEpoch: -1, memberId: '', retentionTimeMs: -1,
      topics: [{ name: TOPIC, partitions: offsets.map(([partitionIndex, committedOffset]) => ({ partitionIndex, committedOffset, committedMetadata: null })) }],
    }))
    const codes = answer.topics[0].partitions.map((p) => p.errorCode)
    if (!codes.some((code) => RETRIABLE.has(code))) return { coordinator, codes }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error('no coordinator took the commit within 100 attempts')
}

describe.skipIf(!built || !hasEtcd)('cluster mode: __consumer_offsets follows its leader', () => {
  let processes: BrokerProcessCluster | undefined
  let etcd: EtcdProcess
  let brokers: BrokerProcess[] = []

  beforeAll(async () => {
    processes = await startBrokerProcessCluster({ name: `offsets-${process.pid}`, extra: ['--lease-ttl-seconds', '2', '--replica-lag-time-max-ms', '5000', '--min-insync-replicas', '2'] })
    ;({ etcd, brokers } = processes)
  }, 60_000)

  afterAll(async () => {
    await stopBrokerProcessCluster(processes)
  })

  it('a broker that FindCoordinator names answers COORDINATOR_LOAD_IN_PROGRESS until it has loaded the partition, not NOT_COORDINATOR', async () => {
    // The offsets topic does not exist yet: the first FindCoordinator creates it. A broker names
    // itself once its metadata shows it leading the group's partition, a moment before it takes
    // the partition over; a client told NOT_COORDINATOR there would look for the coordinator again.
    const codes: number[] = []
    const deadline = Date.now() + 30_000
    for (let attempt = 0; attempt < 1_000 && Date.now() < deadline && codes.at(-1) !== 0; attempt++) {
      for (const b of brokers) {
        await withWireClient(`127.0.0.1:${b.port}`, async (client) => {
          const found = await client.request(ApiKey.FindCoordinator, 3, { key: 'load-window-group', keyType: 0 })
          if (found.errorCode !== 0 || found.nodeId !== b.nodeId) return
          const answer = await client.request(ApiKey.OffsetFetch, 3, { groupId: 'load-window-group', topics: null })
          codes.push(answer.errorCode)
        })
        if (codes.at(-1) === 0) break
      }
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    expect(codes.at(-1)).toBe(0)
    expect(codes.filter((code) => code === 16), codes.join(' ')).toEqual([]) // NOT_COORDINATOR
  }, 60_000)

  it('a commit survives kill -9 of the coordinator; kafkajs re-finds it', async () => {
    const kafka = new Kafka({ clientId: 'offsets-test', brokers: brokers.map((b) => `127.0.0.1:${b.port}`), logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1_000 } })
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 3, replicationFactor: 3 }] })
    await admin.disconnect()
    // An admin-style commit (no member, generation -1) straight to the coordinator. kafkajs's
    // setOffsets would join the group with a consumer whose paused fetch loop sleeps 5 s before it
    // commits; controlled-shutdown-serving runs kafkajs setOffsets on a replicated __consumer_offsets.
    const { coordinator, codes } = await commitOffsets(brokers[0].port, new Map(brokers.map((b) => [b.nodeId, b.port])), [[0, 7], [2, 9]])
    expect(codes).toEqual([0, 0])
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

  it('ringlog groups describe|list through any broker shows a live group right after its coordinator is killed', async () => {
    // The broker the first test killed comes back (same port and data dir): three again.
    for (const [i, b] of brokers.entries()) {
      if (b.child.exitCode !== null || b.child.signalCode !== null) {
        brokers[i] = await startBrokerProcess({
          nodeId: b.nodeId, dataDir: b.dataDir, port: b.port, etcd: etcd.endpoint, cluster: `offsets-${process.pid}`,
          extra: ['--lease-ttl-seconds', '2', '--replica-lag-time-max-ms', '5000', '--min-insync-replicas', '2'],
        })
      }
    }
    const live = [...brokers]
    const kafka = new Kafka({ clientId: 'member-client', brokers: live.map((b) => `127.0.0.1:${b.port}`), logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1_000 } })
    // The session outlives the describe below (a few seconds after the kill) with room to spare,
    // and is short because a rejoin under a new member id waits it out (Kafka's rule: the restored
    // member stays until its session expires), and disconnect() waits for that join: 30 s took 33.
    const consumer = kafka.consumer({ groupId: MEMBER_GROUP, sessionTimeout: 12_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 200 })
    let joined: () => void = () => undefined
    const joinedOnce = new Promise<void>((resolve) => { joined = resolve })
    // Every member id kafkajs joins under: after the coordinator's kill it may restart its consumer and
    // join again with a new member id, and then the first one stays a member until its session times
    // out (as in Kafka), so the group may list this client twice.
    const memberIds = new Set<string>()
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      memberIds.add(event.payload.memberId)
      joined()
    })
    await consumer.connect()
    try {
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
      await consumer.run({ eachMessage: async () => undefined })
      await joinedOnce
      const coordinator = await coordinatorOf(live[0].port, -1, MEMBER_GROUP)
      const victim = live.find((b) => b.nodeId === coordinator)!
      await stopBrokerProcess(victim, 'SIGKILL')
      const survivors = live.filter((b) => b !== victim)
      const next = await coordinatorOf(survivors[0].port, coordinator, MEMBER_GROUP)
      // Ask a broker that is not the coordinator: the CLI must find it.
      const asked = survivors.find((b) => b.nodeId !== next) ?? survivors[0]
      const described = await runRinglog(['groups', 'describe', MEMBER_GROUP, '-b', `127.0.0.1:${asked.port}`, '--json'])
      expect(described.stderr).toBe('')
      const group = JSON.parse(described.stdout) as { state: string; members: { memberId: string; clientId: string; assignment: { topic: string; partitions: number[] }[] }[] }
      expect(['Stable', 'PreparingRebalance', 'CompletingRebalance']).toContain(group.state)
      // The member restored from the group's record is listed (its session outlives this check); a
      // second one can only be the same client's rejoin under a new id.
      const [restored] = memberIds
      expect(group.members.map((m) => m.memberId)).toContain(restored)
      expect(group.members.length).toBeLessThanOrEqual(2)
      for (const m of group.members) expect(m.clientId).toBe('member-client')
      const listed = await runRinglog(['groups', 'list', '-b', `127.0.0.1:${asked.port}`, '--json'])
      expect(listed.stderr).toBe('')
      expect((JSON.parse(listed.stdout) as { groupId: string }[]).map((g) => g.groupId)).toEqual(expect.arrayContaining([GROUP, MEMBER_GROUP]))
    } finally {
      await consumer.disconnect().catch(() => undefined)
    }
  }, 90_000)
})
