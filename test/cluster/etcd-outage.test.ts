import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BrokerRegistration } from '../../src/cluster/broker-registration.js'
import { ClusterMetadata } from '../../src/cluster/cluster-metadata.js'
import { Controller } from '../../src/cluster/controller.js'
import { type EtcdProcess, startEtcd } from '../../src/cluster/etcd-process.js'
import { createClusterTopic } from '../../src/cluster/topic-creation.js'
import { nextEvent, waitForEtcd } from './fixtures/etcd-wait.js'

const TTL = 2
const CLUSTER = 'outage'

describe('etcd outage longer than the lease TTL', () => {
  let etcd: EtcdProcess
  const clients: ClusterMetadata[] = []
  const registrations = new Map<number, BrokerRegistration>()
  let controller: Controller | undefined
  const connect = (): ClusterMetadata => {
    const client = new ClusterMetadata({ endpoints: etcd.endpoint, cluster: CLUSTER, callTimeoutMs: 2_000 })
    clients.push(client)
    return client
  }

  beforeAll(async () => {
    etcd = await startEtcd()
  })
  afterAll(async () => {
    await controller?.close()
    for (const r of registrations.values()) await r.close().catch(() => undefined)
    for (const c of clients) c.close()
    await etcd?.destroy()
  })

  it('brokers re-register, a controller is elected again and fails over partitions as before', async () => {
    const metadata = connect()
    for (const id of [1, 2, 3]) {
      registrations.set(id, await BrokerRegistration.register(connect(), id, { host: '127.0.0.1', port: 9000 + id }, { ttlSeconds: TTL, registerTimeoutMs: 15_000 }))
    }
    controller = Controller.start(connect(), { brokerId: 1, ttlSeconds: TTL, retryDelayMs: 200 })
    await nextEvent(controller, 'elected')
    await createClusterTopic(metadata, { name: 't', partitions: 1, replicationFactor: 3, replicaAssignment: [[1, 2, 3]] })

    const deposed = nextEvent(controller, 'deposed', 20_000)
    const lost = [...registrations.values()].map((r) => nextEvent(r, 'lost', 20_000))
    await etcd.stop()
    await deposed // the controller stops acting once its lease is gone
    await Promise.all(lost)
    expect(controller.active).toBe(false)

    const reregistered = [...registrations.values()].map((r) => nextEvent<[number]>(r, 'registered', 30_000))
    const reelected = nextEvent<[string]>(controller, 'elected', 30_000)
    await etcd.start()
    expect((await Promise.all(reregistered)).map(([incarnation]) => incarnation)).toEqual([2, 2, 2])
    await reelected
    expect([...(await metadata.listBrokers()).keys()].sort()).toEqual([1, 2, 3])
    // The registrations expired during the outage, so the controller may have moved the
    // leadership once already (as Kafka's does after session expiry): either way it has one.
    const before = (await metadata.readPartition('t', 0))?.state
    if (!before) throw new Error('t-0 has no state')
    expect([1, 2, 3]).toContain(before.leader)

    const victim = before.leader
    registrations.get(victim)?.abandon()
    registrations.delete(victim)
    const state = await waitForEtcd(metadata, metadata.layout.prefix, async () => {
      const s = await metadata.readPartition('t', 0)
      return s && s.state.leader !== victim && !s.state.isr.includes(victim) ? s.state : undefined
    }, 'a new leader after the outage')
    expect([...registrations.keys()]).toContain(state.leader)
    expect(state.leaderEpoch).toBeGreaterThan(before.leaderEpoch)
  })
})
