/**
 * Issue 17: security in cluster mode. A private etcd and three real broker processes with only a
 * SASL_PLAINTEXT listener, the authorizer on and the brokers logging in to each other as
 * `User:broker` (a super user). Users and the brokers' own login are put into etcd offline with
 * `ringlog users add --etcd` before any broker runs.
 * - a SCRAM user added online through broker 1 logs in with kafkajs on brokers 2 and 3; deleted
 *   through broker 3 it can log in nowhere;
 * - an ACL created on broker 2 lets a user produce to a partition broker 3 leads; deleted, the
 *   same produce is refused;
 * - concurrent AlterUserScramCredentials on brokers 1 and 2, touching the same user, all land;
 * - an RF 3 topic replicates over the authenticated inter-broker connections (ISR of 3, kafkajs
 *   acks=all succeeds);
 * - a restarted broker keeps the users and ACLs; one restarted with a wrong inter-broker
 *   password logs the refused login and stays out of the ISR.
 * Needs `npm run build` (the brokers run bin/ringlog.js) and /usr/bin/etcd.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type EtcdProcess, freeLoopbackPort, startEtcd } from '../../src/cluster/etcd-process.js'
import { ApiKey } from '../../src/kafka-client/kafka-wire-client.js'
import { withWireClient } from '../../src/kafka-client/negotiated-client.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { SCRAM_MECHANISM_CODES, saltedPassword } from '../../src/security/scram-keys.js'
import { runRinglog } from '../cli/ringlog-process.js'
import { type BrokerProcess, startBrokerProcess, stopBrokerProcess } from '../cluster/fixtures/broker-processes.js'
import { until } from '../cluster/fixtures/replica-logs.js'

const built = existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))
const hasEtcd = existsSync('/usr/bin/etcd')
const CLUSTER = 'sec'
const ADMIN = { username: 'admin', password: 'admin-pw' }
const BROKER_LOGIN = 'broker:broker-pw'
const TOPIC = 'secured'

describe.skipIf(!built || !hasEtcd)('security in cluster mode (users and ACLs in etcd, inter-broker SASL)', () => {
  let etcd: EtcdProcess
  let root = ''
  const brokers = new Map<number, BrokerProcess>()
  const ports = new Map<number, number>()

  const brokerArgs = (port: number, interBrokerLogin: string): string[] => [
    '--listener', `SASL_PLAINTEXT://127.0.0.1:${port}`, '--sasl-mechanisms', 'SCRAM-SHA-512,SCRAM-SHA-256',
    '--authorizer', 'on', '--super-users', 'User:admin,User:broker', '--inter-broker-sasl', interBrokerLogin,
    '--lease-ttl-seconds', '2', '--replica-lag-time-max-ms', '3000',
  ]

  async function start(nodeId: number, interBrokerLogin = BROKER_LOGIN): Promise<void> {
    const port = ports.get(nodeId) ?? await freeLoopbackPort()
    ports.set(nodeId, port)
    brokers.set(nodeId, await startBrokerProcess({ nodeId, port, dataDir: join(root, `b${nodeId}`), etcd: etcd.endpoint, cluster: CLUSTER, extra: brokerArgs(port, interBrokerLogin) }))
  }

  const address = (nodeId: number): string => `127.0.0.1:${ports.get(nodeId)}`

  function kafka(nodeId: number, login: { username: string; password: string }): Kafka {
    return new Kafka({
      clientId: 'cluster-security', brokers: [address(nodeId)], logLevel: logLevel.NOTHING,
      sasl: { mechanism: 'scram-sha-512', ...login }, connectionTimeout: 3_000, authenticationTimeout: 3_000,
      retry: { retries: 0 },
    })
  }

  /** Logs in on `nodeId` with kafkajs (SCRAM-SHA-512) and asks DescribeCluster: true when accepted. */
  async function logsIn(nodeId: number, login: { username: string; password: string }): Promise<boolean> {
    const admin = kafka(nodeId, login).admin()
    try {
      await admin.connect()
      await admin.describeCluster()
      return true
    } catch {
      return false
    } finally {
      await admin.disconnect().catch(() => undefined)
    }
  }

  const adminOf = (nodeId: number): ReturnType<Kafka['admin']> => new Kafka({
    clientId: 'cluster-security-admin', brokers: [address(nodeId)], logLevel: logLevel.NOTHING,
    sasl: { mechanism: 'scram-sha-512', ...ADMIN }, retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1_000 },
  }).admin()

  const cli = (args: string[], nodeId: number) => runRinglog([...args, '-b', address(nodeId), '--sasl', `${ADMIN.username}:${ADMIN.password}`])

  beforeAll(async () => {
    etcd = await startEtcd()
    root = mkdtempSync(join(tmpdir(), 'ringlog-cluster-security-'))
    // Offline, before any broker runs: the super user and the brokers' own login.
    for (const [user, password] of [[ADMIN.username, ADMIN.password], ['broker', 'broker-pw']]) {
      const added = await runRinglog(['users', 'add', user, '--password', password, '--etcd', etcd.endpoint, '--cluster-name', CLUSTER])
      expect(added.code, added.stderr).toBe(0)
    }
    await Promise.all([1, 2, 3].map((id) => start(id)))
  }, 180_000)

  afterAll(async () => {
    for (const b of brokers.values()) await stopBrokerProcess(b, 'SIGKILL').catch(() => undefined)
    await etcd?.destroy()
    if (root) rmSync(root, { recursive: true, force: true })
  })

  it('lists the users put into etcd offline, on every broker and with --etcd', async () => {
    const offline = await runRinglog(['users', 'list', '--etcd', etcd.endpoint, '--cluster-name', CLUSTER])
    expect(offline.stdout).toBe('admin\tSCRAM-SHA-512(iterations=4096)\nbroker\tSCRAM-SHA-512(iterations=4096)\n')
    for (const id of [1, 2, 3]) expect((await cli(['users', 'list'], id)).stdout).toBe(offline.stdout)
  })

  it('a user added through broker 1 logs in on brokers 2 and 3; deleted through broker 3 it logs in nowhere', async () => {
    const carol = { username: 'carol', password: 'carol-pw' }
    const added = await cli(['users', 'add', 'carol', '--password', carol.password], 1)
    expect(added.code, added.stderr).toBe(0)
    const since = Date.now()
    for (const id of [2, 3]) await until(async () => ((await logsIn(id, carol)) ? true : undefined), `carol logs in on broker ${id}`, 5_000)
    console.log(`user added on broker 1 could log in on brokers 2 and 3 after ${Date.now() - since} ms (loaded shared machine)`)
    expect(await logsIn(1, carol)).toBe(true)
    expect(await logsIn(2, { ...carol, password: 'wrong' })).toBe(false)

    const deleted = await cli(['users', 'delete', 'carol'], 3)
    expect(deleted.code, deleted.stderr).toBe(0)
    for (const id of [1, 2, 3]) await until(async () => ((await logsIn(id, carol)) ? undefined : true), `carol is refused on broker ${id}`, 5_000)
    const again = await cli(['users', 'delete', 'carol'], 2)
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/^ringlog: .*carol/)
  })

  it('concurrent AlterUserScramCredentials on brokers 1 and 2 all land, also for the same user', async () => {
    const salt = Buffer.alloc(16, 7)
    const upsert = (name: string, mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512') =>
      ({ name, mechanism: SCRAM_MECHANISM_CODES[mechanism], iterations: 4096, salt, saltedPassword: saltedPassword(mechanism, `${name}-pw`, salt, 4096) })
    const alter = (nodeId: number, upsertions: ReturnType<typeof upsert>[]) => withWireClient(address(nodeId), async (client) => {
      const r = await client.request(ApiKey.AlterUserScramCredentials, 0, { deletions: [], upsertions })
      return r.results.map((x) => x.errorCode)
    }, { sasl: { mechanism: 'SCRAM-SHA-512', ...ADMIN }, requestTimeoutMs: 15_000 })
    for (let round = 0; round < 5; round++) {
      const shared = `both-${round}`
      const [one, two] = await Promise.all([
        alter(1, [upsert(shared, 'SCRAM-SHA-256'), upsert(`one-${round}`, 'SCRAM-SHA-512')]),
        alter(2, [upsert(shared, 'SCRAM-SHA-512'), upsert(`two-${round}`, 'SCRAM-SHA-512')]),
      ])
      expect([...one, ...two]).toEqual([ErrorCode.NONE, ErrorCode.NONE, ErrorCode.NONE, ErrorCode.NONE])
    }
    const listed = await runRinglog(['users', 'list', '--etcd', etcd.endpoint, '--cluster-name', CLUSTER])
    for (let round = 0; round < 5; round++) {
      expect(listed.stdout).toContain(`one-${round}\tSCRAM-SHA-512`)
      expect(listed.stdout).toContain(`two-${round}\tSCRAM-SHA-512`)
      expect(listed.stdout).toMatch(new RegExp(`both-${round}\\t(SCRAM-SHA-256.*SCRAM-SHA-512|SCRAM-SHA-512.*SCRAM-SHA-256)`))
    }
    await until(async () => ((await cli(['users', 'list'], 3)).stdout === listed.stdout ? true : undefined), 'broker 3 lists the same users', 5_000)
  })

  it('replicates an RF 3 topic over SASL between brokers; an ACL made on broker 2 is enforced by broker 3, then revoked', async () => {
    const admin = adminOf(1)
    await admin.connect()
    try {
      await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 3, replicationFactor: 3 }], waitForLeaders: true })
      // Followers fetch with CLUSTER_ACTION as User:broker: every replica joins the ISR.
      const partitions = await until(async () => {
        const meta = await admin.fetchTopicMetadata({ topics: [TOPIC] })
        const list = meta.topics[0].partitions
        return list.length === 3 && list.every((p) => p.isr.length === 3) ? list : undefined
      }, 'every partition has an ISR of 3', 20_000)
      const onBroker3 = partitions.find((p) => p.leader === 3)?.partitionId ?? 0
      const leader = partitions.find((p) => p.partitionId === onBroker3)?.leader

      const dave = { username: 'dave', password: 'dave-pw' }
      expect((await cli(['users', 'add', 'dave', '--password', dave.password], 2)).code).toBe(0)
      const producer = kafka(3, dave).producer({ allowAutoTopicCreation: false })
      await until(async () => ((await logsIn(3, dave)) ? true : undefined), 'dave logs in on broker 3', 5_000)
      await producer.connect()
      const send = () => producer.send({ topic: TOPIC, acks: -1, messages: [{ partition: onBroker3, value: 'v' }] })
      await expect(send()).rejects.toThrow(/authoriz/i)

      const granted = await cli(['acls', 'add', '--allow', 'User:dave', '--operation', 'Write', '--topic', TOPIC], 2)
      expect(granted.code, granted.stderr).toBe(0)
      const sent = await until(async () => (await send())[0], `dave's acks=all produce to partition ${onBroker3} (leader ${leader})`, 5_000)
      expect(sent.errorCode).toBe(0)
      expect((await cli(['acls', 'list', '--topic', TOPIC], 3)).stdout).toContain('User:dave\tWrite')

      const revoked = await cli(['acls', 'remove', '--topic', TOPIC, '--principal', 'User:dave'], 1)
      expect(revoked.code, revoked.stderr).toBe(0)
      await until(async () => {
        try {
          await send()
          return undefined
        } catch (error) {
          return /authoriz/i.test(String(error)) ? true : undefined
        }
      }, 'the produce is refused again', 5_000)
      await producer.disconnect()
      // Kept for the restart test.
      expect((await cli(['acls', 'add', '--allow', 'User:dave', '--operation', 'Read', '--topic', TOPIC], 2)).code).toBe(0)
    } finally {
      await admin.disconnect()
    }
  })

  it('a restarted broker keeps users and ACLs; one with a wrong inter-broker password logs it and stays out of the ISR', async () => {
    await stopBrokerProcess(brokers.get(2)!)
    await start(2)
    expect(await logsIn(2, ADMIN)).toBe(true)
    expect((await cli(['acls', 'list', '--topic', TOPIC], 2)).stdout).toContain('User:dave\tRead')
    expect(await logsIn(2, { username: 'dave', password: 'dave-pw' })).toBe(true)

    await stopBrokerProcess(brokers.get(3)!)
    await start(3, 'broker:not-the-password')
    const b3 = brokers.get(3)!
    const line = await until(async () => /inter-broker connection to 127\.0\.0\.1:\d+ over SASL_PLAINTEXT as broker \(SCRAM-SHA-512\) failed: [^"\n]*/.exec(b3.output())?.[0], 'broker 3 logs its refused inter-broker login', 15_000)
    console.log(`broker 3 logged: ${line}`)
    const admin = adminOf(1)
    await admin.connect()
    try {
      // Broker 3 leads nothing it cannot replicate into; where it follows, it never rejoins the ISR.
      await new Promise((resolve) => setTimeout(resolve, 2_000))
      const meta = await admin.fetchTopicMetadata({ topics: [TOPIC] })
      for (const p of meta.topics[0].partitions) if (p.leader !== 3) expect(p.isr).not.toContain(3)
    } finally {
      await admin.disconnect()
    }
  })
})
