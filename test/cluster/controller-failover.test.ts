import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { childScriptArgv } from '../node-argv.js'
import { BrokerRegistration } from '../../src/cluster/broker-registration.js'
import { ClusterMetadata } from '../../src/cluster/cluster-metadata.js'
import { Controller } from '../../src/cluster/controller.js'
import { ControllerElection } from '../../src/cluster/controller-election.js'
import { type EtcdProcess, startEtcd } from '../../src/cluster/etcd-process.js'
import { createClusterTopic } from '../../src/cluster/topic-creation.js'
import { nextEvent, waitForEtcd } from './fixtures/etcd-wait.js'

const TTL = 2
const CHILD = fileURLToPath(new URL('./fixtures/controller-child.ts', import.meta.url))

/** Starts a controller candidate process and resolves once it prints that it was elected. */
function startCandidateProcess(endpoint: string, cluster: string, brokerId: number): Promise<{ child: ChildProcess; epoch: string }> {
  const child = spawn(process.execPath, childScriptArgv(CHILD, [endpoint, cluster, String(brokerId), String(TTL)]), { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`candidate ${brokerId} not elected within 20 s: ${output}`)), 20_000)
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /elected (\d+)/.exec(output)
      if (match) { clearTimeout(timer); resolve({ child, epoch: match[1] }) }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`candidate exited with ${code}: ${output}`)) })
  })
}

describe('controller failover', () => {
  let etcd: EtcdProcess
  const clients: ClusterMetadata[] = []
  const controllers: Controller[] = []
  const registrations: BrokerRegistration[] = []
  const children: ChildProcess[] = []
  const connect = (cluster: string): ClusterMetadata => {
    const client = new ClusterMetadata({ endpoints: etcd.endpoint, cluster })
    clients.push(client)
    return client
  }
  const startController = (cluster: string, brokerId: number): Controller => {
    const controller = Controller.start(connect(cluster), { brokerId, ttlSeconds: TTL, retryDelayMs: 200 })
    controllers.push(controller)
    return controller
  }
  const register = async (cluster: string, id: number): Promise<BrokerRegistration> => {
    const r = await BrokerRegistration.register(connect(cluster), id, { host: '127.0.0.1', port: 9000 + id }, { ttlSeconds: TTL, registerTimeoutMs: 15_000 })
    registrations.push(r)
    return r
  }

  beforeAll(async () => {
    etcd = await startEtcd()
  })
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    for (const c of controllers) await c.close()
    for (const r of registrations) await r.close().catch(() => undefined)
    for (const c of clients) c.close()
    await etcd?.destroy()
  })

  it('a killed (-9) controller is replaced; its successor repairs what happened meanwhile from etcd alone', async () => {
    const cluster = 'kill'
    const metadata = connect(cluster)
    const brokers = new Map<number, BrokerRegistration>()
    for (const id of [1, 2, 3]) brokers.set(id, await register(cluster, id))
    const first = await startCandidateProcess(etcd.endpoint, cluster, 1)
    children.push(first.child)
    expect((await ControllerElection.currentController(metadata))?.brokerId).toBe(1)

    await createClusterTopic(metadata, { name: 't', partitions: 1, replicationFactor: 3, replicaAssignment: [[1, 2, 3]] })

    // kill -9 the controller, and broker 1 (the leader) dies while there is no controller.
    const exited = new Promise((resolve) => first.child.once('exit', resolve))
    first.child.kill('SIGKILL')
    await exited
    brokers.get(1)?.abandon()
    await waitForEtcd(metadata, metadata.layout.brokersPrefix, async () => ((await metadata.listBrokers()).has(1) ? undefined : true), 'broker 1 to expire')
    expect((await metadata.readPartition('t', 0))?.state).toMatchObject({ leader: 1, leaderEpoch: 0 })

    // A candidate started only now must find the dead leader in etcd's state alone.
    const standby = startController(cluster, 2)
    const elected = nextEvent<[string]>(standby, 'elected', 20_000)
    const [epoch] = await elected
    expect(BigInt(epoch)).toBeGreaterThan(BigInt(first.epoch))
    expect(await ControllerElection.currentController(metadata)).toEqual({ brokerId: 2, epoch })
    const state = await waitForEtcd(metadata, metadata.layout.prefix, async () => {
      const s = await metadata.readPartition('t', 0)
      return s && s.state.leader !== 1 ? s.state : undefined
    }, 'a new leader for t-0')
    expect(state).toMatchObject({ leader: 2, leaderEpoch: 1, isr: [2, 3] })

    // The dead controller's fence no longer writes.
    const current = await metadata.readPartition('t', 0)
    const stale = await metadata.casPartition(current!, { leader: 3, leaderEpoch: 2, isr: [3] }, { key: metadata.layout.controller, createRevision: first.epoch })
    expect(stale).toEqual({ ok: false, reason: 'fenced' })
  })

  it('two candidates: one wins; when it closes the other takes over at once and continues', async () => {
    const cluster = 'close'
    const metadata = connect(cluster)
    const b4 = await register(cluster, 4)
    await register(cluster, 5)
    const a = startController(cluster, 4)
    await nextEvent(a, 'elected')
    const b = startController(cluster, 5)
    expect(b.active).toBe(false)
    await createClusterTopic(metadata, { name: 'u', partitions: 1, replicationFactor: 2, replicaAssignment: [[4, 5]] })

    const takeover = nextEvent<[string]>(b, 'elected')
    await a.close() // resigns: no lease timeout to wait for
    const [epoch] = await takeover
    expect(a.active).toBe(false)
    expect(b.epoch).toBe(epoch)

    await b4.close() // broker 4 leaves; the new controller moves its leadership
    const state = await waitForEtcd(metadata, metadata.layout.prefix, async () => {
      const s = await metadata.readPartition('u', 0)
      return s && s.state.leader === 5 ? s.state : undefined
    }, 'broker 5 leading u-0')
    expect(state).toMatchObject({ leader: 5, leaderEpoch: 1, isr: [5] })
  })
})
