import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BrokerRegistration } from '../../src/cluster/broker-registration.js'
import { ClusterMetadata, type VersionedPartitionState } from '../../src/cluster/cluster-metadata.js'
import { controlledShutdown } from '../../src/cluster/controlled-shutdown.js'
import { Controller, type ReconcileSummary } from '../../src/cluster/controller.js'
import { type EtcdProcess, startEtcd } from '../../src/cluster/etcd-process.js'
import { NO_LEADER, type PartitionState } from '../../src/cluster/metadata-layout.js'
import { preferredReplicaElection } from '../../src/cluster/preferred-election.js'
import { createClusterTopic } from '../../src/cluster/topic-creation.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { nextEvent, waitForEtcd } from './fixtures/etcd-wait.js'

const TTL = 2
const CLUSTER = 'ctl'

describe('controller', () => {
  let etcd: EtcdProcess
  let metadata: ClusterMetadata
  let controller: Controller
  const clients: ClusterMetadata[] = []
  const brokers = new Map<number, BrokerRegistration>()

  const connect = (): ClusterMetadata => {
    const client = new ClusterMetadata({ endpoints: etcd.endpoint, cluster: CLUSTER })
    clients.push(client)
    return client
  }
  const startBroker = async (id: number): Promise<BrokerRegistration> => {
    // Each broker has its own etcd connection, as separate processes would.
    const registration = await BrokerRegistration.register(connect(), id, { host: '127.0.0.1', port: 9000 + id }, { ttlSeconds: TTL, registerTimeoutMs: 15_000 })
    brokers.set(id, registration)
    return registration
  }
  /** The broker stops keeping its lease alive, as a kill -9 would: it expires after the TTL. */
  const killBroker = (id: number): void => {
    brokers.get(id)?.abandon()
    brokers.delete(id)
  }
  const partition = async (topic: string, p: number): Promise<VersionedPartitionState> => {
    const state = await metadata.readPartition(topic, p)
    if (!state) throw new Error(`${topic}-${p} has no state`)
    return state
  }
  const waitForState = (topic: string, p: number, accept: (s: PartitionState) => boolean, what: string): Promise<PartitionState> =>
    waitForEtcd(metadata, metadata.layout.prefix, async () => {
      const s = await metadata.readPartition(topic, p)
      return s && accept(s.state) ? s.state : undefined
    }, `${topic}-${p}: ${what}`)
  /** The leader shrinks its ISR, as it would for a lagging follower (a CAS write). */
  const shrinkIsr = async (topic: string, p: number, isr: number[]): Promise<void> => {
    const current = await partition(topic, p)
    const result = await metadata.casPartition(current, { leader: current.state.leader, leaderEpoch: current.state.leaderEpoch, isr })
    expect(result.ok).toBe(true)
  }
  const view = (s: PartitionState) => ({ leader: s.leader, leaderEpoch: s.leaderEpoch, isr: s.isr })

  beforeAll(async () => {
    etcd = await startEtcd()
    metadata = connect()
    for (let id = 1; id <= 15; id++) await startBroker(id)
    controller = Controller.start(connect(), { brokerId: 100, ttlSeconds: TTL, retryDelayMs: 200 })
    await nextEvent(controller, 'elected')
  })
  afterAll(async () => {
    await controller?.close()
    for (const b of brokers.values()) await b.close().catch(() => undefined)
    for (const c of clients) c.close()
    await etcd?.destroy()
  })

  it('creates topics with leaders and replicas spread over live brokers', async () => {
    const created = await createClusterTopic(metadata, { name: 'spread', partitions: 30, replicationFactor: 3 })
    const leaders = new Map<number, number>()
    for (const [p, replicas] of created.replicas.entries()) {
      expect(new Set(replicas).size).toBe(3)
      const s = await partition('spread', p)
      expect(view(s.state)).toEqual({ leader: replicas[0], leaderEpoch: 0, isr: replicas })
      leaders.set(replicas[0], (leaders.get(replicas[0]) ?? 0) + 1)
    }
    expect([...leaders.values()].every((n) => n === 2)).toBe(true) // 30 partitions over 15 brokers
    await expect(createClusterTopic(metadata, { name: 'too-wide', partitions: 1, replicationFactor: 16 }))
      .rejects.toMatchObject({ code: ErrorCode.INVALID_REPLICATION_FACTOR })
    await expect(createClusterTopic(metadata, { name: 'spread', partitions: 1, replicationFactor: 1 }))
      .rejects.toMatchObject({ code: ErrorCode.TOPIC_ALREADY_EXISTS })
    expect(await metadata.deleteTopic('spread')).toBe(true)
  })

  it('moves leadership of a dead broker to the next ISR member with epoch + 1; dead followers leave ISRs', async () => {
    await createClusterTopic(metadata, { name: 'a', partitions: 2, replicationFactor: 3, replicaAssignment: [[1, 2, 3], [2, 1, 3]] })
    killBroker(1)
    expect(view(await waitForState('a', 0, (s) => s.leader !== 1, 'a new leader'))).toEqual({ leader: 2, leaderEpoch: 1, isr: [2, 3] })
    expect(view((await waitForState('a', 1, (s) => !s.isr.includes(1), 'broker 1 out of the ISR')))).toEqual({ leader: 2, leaderEpoch: 0, isr: [2, 3] })
  })

  it('a returning broker is not forced back into the ISR or into leadership', async () => {
    const passAfterReturn = new Promise<ReconcileSummary>((resolve) => {
      const onPass = (summary: ReconcileSummary): void => {
        if (!summary.live.includes(1)) return
        controller.off('reconciled', onPass)
        resolve(summary)
      }
      controller.on('reconciled', onPass)
    })
    await startBroker(1)
    const summary = await passAfterReturn
    expect(summary.changed.filter((tp) => tp.startsWith('a-'))).toEqual([])
    expect(view((await partition('a', 0)).state)).toEqual({ leader: 2, leaderEpoch: 1, isr: [2, 3] })
  })

  it('a broker that dies and registers again at once is still handled as a failure', async () => {
    await createClusterTopic(metadata, { name: 'bounce', partitions: 1, replicationFactor: 2, replicaAssignment: [[14, 15]] })
    await brokers.get(14)?.close() // its registration is deleted...
    await startBroker(14) // ...and made again before the controller may have run a pass
    expect(view(await waitForState('bounce', 0, (s) => s.leader !== 14, 'a new leader'))).toEqual({ leader: 15, leaderEpoch: 1, isr: [15] })
  })

  it('gives leadership back to preferred replicas on demand, only where the preferred one is live and in sync', async () => {
    // Broker 1 is back and its leader has taken it into the ISR again (a CAS write).
    const a0 = await partition('a', 0)
    expect((await metadata.casPartition(a0, { leader: 2, leaderEpoch: a0.state.leaderEpoch, isr: [2, 3, 1] })).ok).toBe(true)
    // p-0's preferred replica (2) is live but out of the ISR: it must not get the leadership.
    await createClusterTopic(metadata, { name: 'p', partitions: 1, replicationFactor: 2, replicaAssignment: [[2, 3]] })
    const p0 = await partition('p', 0)
    expect((await metadata.casPartition(p0, { leader: 3, leaderEpoch: 1, isr: [3] })).ok).toBe(true)
    const p0Before = (await partition('p', 0)).state

    expect(await preferredReplicaElection(metadata, null, 15_000)).toBe('done')
    expect(view((await partition('a', 0)).state)).toEqual({ leader: 1, leaderEpoch: 2, isr: [2, 3, 1] })
    expect((await partition('p', 0)).state).toEqual(p0Before)
    expect(await preferredReplicaElection(metadata, [{ topic: 'a', partition: 0 }], 15_000)).toBe('done')
    expect(view((await partition('a', 0)).state)).toEqual({ leader: 1, leaderEpoch: 2, isr: [2, 3, 1] })
  })

  it('elects only from the ISR, even when a live replica comes first in replica order', async () => {
    await createClusterTopic(metadata, { name: 'b', partitions: 1, replicationFactor: 3, replicaAssignment: [[4, 5, 6]] })
    await shrinkIsr('b', 0, [4, 6]) // 5 fell behind
    killBroker(4)
    expect(view(await waitForState('b', 0, (s) => s.leader !== 4, 'a new leader'))).toEqual({ leader: 6, leaderEpoch: 1, isr: [6] })
  })

  it('takes a partition offline when no ISR member is live, and back when one returns', async () => {
    await createClusterTopic(metadata, { name: 'c', partitions: 1, replicationFactor: 2, replicaAssignment: [[7, 8]] })
    await shrinkIsr('c', 0, [7])
    killBroker(7)
    expect(view(await waitForState('c', 0, (s) => s.leader !== 7, 'offline'))).toEqual({ leader: NO_LEADER, leaderEpoch: 1, isr: [7] })
    await startBroker(7)
    expect(view(await waitForState('c', 0, (s) => s.leader === 7, 'back online'))).toEqual({ leader: 7, leaderEpoch: 2, isr: [7] })
  })

  it('elects outside the ISR only when the topic enables unclean leader election', async () => {
    await createClusterTopic(metadata, {
      name: 'd', partitions: 1, replicationFactor: 2, replicaAssignment: [[9, 10]], configs: { 'unclean.leader.election.enable': 'true' },
    })
    await shrinkIsr('d', 0, [9])
    killBroker(9)
    expect(view(await waitForState('d', 0, (s) => s.leader !== 9, 'an unclean leader'))).toEqual({ leader: 10, leaderEpoch: 1, isr: [10] })
  })

  it('controlled shutdown moves leadership away before the broker exits, and reports what could not move', async () => {
    await createClusterTopic(metadata, { name: 'e', partitions: 3, replicationFactor: 3, replicaAssignment: [[11, 12, 13], [12, 11, 13], [13, 12, 11]] })
    await createClusterTopic(metadata, { name: 'e1', partitions: 1, replicationFactor: 1, replicaAssignment: [[11]] })
    const broker = brokers.get(11)
    if (!broker) throw new Error('broker 11 missing')
    const result = await controlledShutdown(metadata, broker, 15_000)
    expect(result).toEqual({ done: true, remaining: ['e1-0'] })
    expect(view((await partition('e', 0)).state)).toEqual({ leader: 12, leaderEpoch: 1, isr: [12, 13] })
    expect(view((await partition('e', 1)).state)).toEqual({ leader: 12, leaderEpoch: 0, isr: [12, 13] })
    expect(view((await partition('e', 2)).state)).toEqual({ leader: 13, leaderEpoch: 0, isr: [13, 12] })
    expect(view((await partition('e1', 0)).state)).toEqual({ leader: 11, leaderEpoch: 0, isr: [11] })
    // The broker exits (its lease goes); the partition nobody else could take goes offline.
    await broker.close()
    brokers.delete(11)
    expect(view(await waitForState('e1', 0, (s) => s.leader !== 11, 'offline'))).toEqual({ leader: NO_LEADER, leaderEpoch: 1, isr: [11] })
    expect(view((await partition('e', 0)).state)).toEqual({ leader: 12, leaderEpoch: 1, isr: [12, 13] })
  })
})
