import { EventEmitter } from 'node:events'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BrokerRegistration } from '../../src/cluster/broker-registration.js'
import { ClusterMetadata } from '../../src/cluster/cluster-metadata.js'
import { type EtcdProcess, startEtcd } from '../../src/cluster/etcd-process.js'
import { parseBrokerRegistration } from '../../src/cluster/metadata-layout.js'
import { nextEvent, waitForEtcd } from './fixtures/etcd-wait.js'

const TTL = 2

describe('broker registration', () => {
  let etcd: EtcdProcess
  const clients: ClusterMetadata[] = []
  const registrations: BrokerRegistration[] = []
  const connect = (cluster: string): ClusterMetadata => {
    const client = new ClusterMetadata({ endpoints: etcd.endpoint, cluster, callTimeoutMs: 2_000 })
    clients.push(client)
    return client
  }
  const register = async (metadata: ClusterMetadata, id: number, port: number): Promise<BrokerRegistration> => {
    const registration = await BrokerRegistration.register(metadata, id, { host: '127.0.0.1', port }, { ttlSeconds: TTL, registerTimeoutMs: 15_000 })
    registrations.push(registration)
    return registration
  }

  beforeAll(async () => {
    etcd = await startEtcd()
  })
  afterAll(async () => {
    for (const r of registrations) await r.close().catch(() => undefined)
    for (const c of clients) c.close()
    await etcd?.destroy()
  })

  it('lists registered brokers and watches one disappear when it stops keeping its lease alive', async () => {
    const metadata = connect('reg')
    const b1 = await register(metadata, 1, 9092)
    await register(metadata, 2, 9093)
    const brokers = await metadata.listBrokers()
    expect([...brokers.keys()].sort()).toEqual([1, 2])
    expect(brokers.get(1)).toMatchObject({ id: 1, host: '127.0.0.1', port: 9092, incarnation: 1 })
    expect(brokers.get(1)?.brokerEpoch).not.toBe(brokers.get(2)?.brokerEpoch)

    const seen: number[][] = []
    const changes = new EventEmitter()
    const watch = await metadata.watchBrokers((live, kind, id) => {
      seen.push([...live.keys()].sort())
      if (kind === 'delete' && id === 1) changes.emit('gone')
    })
    const gone = nextEvent(changes, 'gone')
    b1.abandon()
    await gone
    await watch.close()
    expect(seen[0]).toEqual([1, 2])
    expect(seen.at(-1)).toEqual([2])
    expect([...(await metadata.listBrokers()).keys()]).toEqual([2])
  })

  it('close() deregisters at once', async () => {
    const metadata = connect('close')
    const b = await register(metadata, 5, 9095)
    expect((await metadata.listBrokers()).has(5)).toBe(true)
    await b.close()
    expect((await metadata.listBrokers()).has(5)).toBe(false)
  })

  it('a restarted broker waits out the registration of its previous run instead of overwriting it', async () => {
    const metadata = connect('restart')
    const first = await register(metadata, 3, 9094)
    const firstEpoch = (await metadata.listBrokers()).get(3)?.brokerEpoch
    first.abandon() // as after kill -9: the old key stays until its lease expires
    const deletes: number[] = []
    const watch = await metadata.watchBrokers((_live, kind, id) => { if (kind === 'delete' && id !== undefined) deletes.push(id) })
    const second = await register(connect('restart'), 3, 9094)
    await watch.close()
    expect(deletes).toEqual([3]) // the controller can see the old run die
    const now = (await metadata.listBrokers()).get(3)
    expect(now?.brokerEpoch).not.toBe(firstEpoch)
    expect(second.incarnation).toBe(1)
  })

  it('refuses an invalid broker id', async () => {
    await expect(BrokerRegistration.register(connect('bad'), -1, { host: 'h', port: 1 })).rejects.toThrow(RangeError)
  })

  it('re-registers with a new lease after etcd was down longer than the TTL', async () => {
    const metadata = connect('etcd-restart')
    const broker = await register(metadata, 7, 9097)
    const leaseBefore = broker.leaseId
    const lost = nextEvent(broker, 'lost', 20_000)
    await etcd.stop()
    await lost // the client gave the lease up after 2 TTLs without keep-alive answers
    expect(broker.registered).toBe(false)
    const registered = nextEvent<[number]>(broker, 'registered', 30_000)
    await etcd.start()
    const [incarnation] = await registered
    expect(incarnation).toBe(2)
    expect(broker.leaseId).not.toBe(leaseBefore)
    const entry = await waitForEtcd(metadata, metadata.layout.brokersPrefix, async () => {
      const response = await metadata.etcd.get(metadata.layout.broker(7)).exec()
      const kv = response.kvs[0]
      return kv && kv.lease === broker.leaseId ? kv : undefined
    }, 'broker 7 bound to its new lease')
    expect(parseBrokerRegistration('k', entry.value.toString('utf8')).incarnation).toBe(2)
  })
})
