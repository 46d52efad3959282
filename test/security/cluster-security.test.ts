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
 *   acks=all succeeds), and a kafkajs transaction over partitions led by different brokers commits
 *   (the coordinator's WriteTxnMarkers reach the other leaders);
 * - a restarted broker keeps the users and ACLs; one restarted with a wrong inter-broker
 *   password logs the refused login and stays out of the ISR.
 * Needs `npm run build` (the brokers run bin/ringlog.js) and /usr/bin/etcd.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { AclOperationTypes, AclPermissionTypes, AclResourceTypes, Kafka, logLevel, ResourcePatternTypes } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type EtcdProcess, freeLoopbackPort, startEtcd } from '../../src/cluster/etcd-process.js'
import { SecurityMetadata } from '../../src/cluster/security-metadata.js'
import { ApiKey, type KafkaWireClient } from '../../src/kafka-client/kafka-wire-client.js'
import { withWireClient } from '../../src/kafka-client/negotiated-client.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { newCredential, SCRAM_MECHANISM_CODES, saltedPassword } from '../../src/security/scram-keys.js'
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
    '--lease-ttl-seconds', '2', '--replica-lag-time-max-ms', '3000', '--transaction-state-log-num-partitions', '1',
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

  /** A wire-client connection to `nodeId` logged in as the admin (in-process: a CLI process costs seconds on a loaded machine). */
  const asAdmin = <T>(nodeId: number, use: (client: KafkaWireClient) => Promise<T>): Promise<T> =>
    withWireClient(address(nodeId), use, { sasl: { mechanism: 'SCRAM-SHA-512', ...ADMIN }, requestTimeoutMs: 15_000 })

  const upsert = (name: string, mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512', password = `${name}-pw`) => {
    const salt = Buffer.alloc(16, 7)
    return { name, mechanism: SCRAM_MECHANISM_CODES[mechanism], iterations: 4096, salt, saltedPassword: saltedPassword(mechanism, password, salt, 4096) }
  }

  /** AlterUserScramCredentials sent to `nodeId`: the error code of each user. */
  const alterUsers = (nodeId: number, upsertions: ReturnType<typeof upsert>[], deletions: { name: string; mechanism: number }[] = []) =>
    asAdmin(nodeId, async (client) => (await client.request(ApiKey.AlterUserScramCredentials, 0, { deletions, upsertions })).results.map((x) => x.errorCode))

  /** DescribeUserScramCredentials of every user, sent to `nodeId`: `user:mechanism,...` sorted. */
  const describedUsers = (nodeId: number) => asAdmin(nodeId, async (client) => {
    const r = await client.request(ApiKey.DescribeUserScramCredentials, 0, { users: null })
    return r.results.map((u) => `${u.user}:${u.credentialInfos.map((c) => c.mechanism).sort().join(',')}`).sort()
  })

  beforeAll(async () => {
    etcd = await startEtcd()
    root = mkdtempSync(join(tmpdir(), 'ringlog-cluster-security-'))
    // Offline, before any broker runs: the super user with the CLI's --etcd form, the brokers' own login straight into etcd.
    const added = await runRinglog(['users', 'add', ADMIN.username, '--password', ADMIN.password, '--etcd', etcd.endpoint, '--cluster-name', CLUSTER])
    expect(added.code, added.stderr).toBe(0)
    const metadata = SecurityMetadata.connect(etcd.endpoint, CLUSTER)
    try {
      await metadata.alterCredentials([{ user: 'broker', deletions: [], upsertions: [{ mechanism: 'SCRAM-SHA-512', credential: newCredential('SCRAM-SHA-512', 'broker-pw', 4096) }] }])
    } finally {
      metadata.close()
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
    for (const id of [1, 2, 3]) expect(await describedUsers(id)).toEqual(['admin:2', 'broker:2'])
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
    expect(await alterUsers(2, [], [{ name: 'carol', mechanism: SCRAM_MECHANISM_CODES['SCRAM-SHA-512'] }])).toEqual([ErrorCode.RESOURCE_NOT_FOUND])
  })

  it('concurrent AlterUserScramCredentials on brokers 1 and 2 all land, also for the same user', async () => {
    for (let round = 0; round < 5; round++) {
      const shared = `both-${round}`
      const [one, two] = await Promise.all([
        alterUsers(1, [upsert(shared, 'SCRAM-SHA-256'), upsert(`one-${round}`, 'SCRAM-SHA-512')]),
        alterUsers(2, [upsert(shared, 'SCRAM-SHA-512'), upsert(`two-${round}`, 'SCRAM-SHA-512')]),
      ])
      expect([...one, ...two]).toEqual([ErrorCode.NONE, ErrorCode.NONE, ErrorCode.NONE, ErrorCode.NONE])
    }
    const listed = await runRinglog(['users', 'list', '--etcd', etcd.endpoint, '--cluster-name', CLUSTER])
    for (let round = 0; round < 5; round++) {
      expect(listed.stdout).toContain(`one-${round}\tSCRAM-SHA-512`)
      expect(listed.stdout).toContain(`two-${round}\tSCRAM-SHA-512`)
      expect(listed.stdout).toMatch(new RegExp(`both-${round}\\t(SCRAM-SHA-256.*SCRAM-SHA-512|SCRAM-SHA-512.*SCRAM-SHA-256)`))
    }
    const expected = (await describedUsers(1))
    expect(expected).toEqual(expect.arrayContaining(['both-0:1,2', 'both-4:1,2', 'one-4:2', 'two-4:2']))
    await until(async () => (JSON.stringify(await describedUsers(3)) === JSON.stringify(expected) ? true : undefined), 'broker 3 describes the same users', 5_000)
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
      const daveOn = {
        resourceType: AclResourceTypes.TOPIC, resourceName: TOPIC, resourcePatternType: ResourcePatternTypes.LITERAL,
        principal: 'User:dave', host: '*', permissionType: AclPermissionTypes.ALLOW,
      }
      expect(await alterUsers(2, [upsert('dave', 'SCRAM-SHA-512', dave.password)])).toEqual([ErrorCode.NONE])
      const producer = kafka(3, dave).producer({ allowAutoTopicCreation: false })
      await until(async () => ((await logsIn(3, dave)) ? true : undefined), 'dave logs in on broker 3', 5_000)
      await producer.connect()
      const send = () => producer.send({ topic: TOPIC, acks: -1, messages: [{ partition: onBroker3, value: 'v' }] })
      await expect(send()).rejects.toThrow(/authoriz/i)

      const onBroker2 = adminOf(2)
      await onBroker2.connect()
      await onBroker2.createAcls({ acl: [{ ...daveOn, operation: AclOperationTypes.WRITE }] })
      await onBroker2.disconnect()
      const sent = await until(async () => (await send())[0], `dave's acks=all produce to partition ${onBroker3} (leader ${leader})`, 5_000)
      expect(sent.errorCode).toBe(0)
      const inEtcd = await runRinglog(['acls', 'list', '--topic', TOPIC, '--etcd', etcd.endpoint, '--cluster-name', CLUSTER])
      expect(inEtcd.stdout).toBe(`Topic:Literal:${TOPIC}\tAllow\tUser:dave\tWrite\thost=*\n`)

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
      await admin.createAcls({ acl: [{ ...daveOn, operation: AclOperationTypes.READ }] })
    } finally {
      await admin.disconnect()
    }
  })

  it('a transaction over partitions led by different brokers commits: WriteTxnMarkers travel over inter-broker SASL', async () => {
    const kafkaAll = new Kafka({
      clientId: 'cluster-security-txn', brokers: [1, 2, 3].map(address), logLevel: logLevel.NOTHING,
      sasl: { mechanism: 'scram-sha-512', ...ADMIN }, retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1_000 },
    })
    const admin = kafkaAll.admin()
    await admin.connect()
    const leaders = (await admin.fetchTopicMetadata({ topics: [TOPIC] })).topics[0].partitions.map((p) => ({ partition: p.partitionId, leader: p.leader }))
    await admin.disconnect()
    expect(new Set(leaders.map((l) => l.leader)).size).toBeGreaterThan(1)
    const producer = kafkaAll.producer({ transactionalId: 'sec-tx', idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    try {
      const tx = await producer.transaction()
      await tx.send({ topic: TOPIC, messages: leaders.map(({ partition }) => ({ partition, value: `tx-${partition}` })) })
      await tx.commit()
    } finally {
      await producer.disconnect()
    }
    // Each leader's last stable offset reaches its high watermark only once the commit marker was written there.
    const endOffset = (nodeId: number, partition: number, isolationLevel: number) => asAdmin(nodeId, async (client) => {
      const r = await client.request(ApiKey.ListOffsets, 5, { replicaId: -1, isolationLevel, topics: [{ name: TOPIC, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp: -1, maxNumOffsets: 1 }] }] })
      return r.topics[0].partitions[0].offset
    })
    for (const { partition, leader } of leaders) {
      await until(async () => {
        const [committed, all] = [await endOffset(leader, partition, 1), await endOffset(leader, partition, 0)]
        return committed === all && all > 0 ? true : undefined
      }, `partition ${partition}'s last stable offset reaches its high watermark on broker ${leader}`, 15_000)
    }
  })

  it('a restarted broker keeps users and ACLs; one with a wrong inter-broker password logs it and stays out of the ISR', async () => {
    await Promise.all([stopBrokerProcess(brokers.get(2)!), stopBrokerProcess(brokers.get(3)!)])
    await Promise.all([start(2), start(3, 'broker:not-the-password')])
    expect(await logsIn(2, { username: 'dave', password: 'dave-pw' })).toBe(true)
    const onBroker2 = adminOf(2)
    await onBroker2.connect()
    try {
      const described = await onBroker2.describeAcls({
        resourceType: AclResourceTypes.TOPIC, resourceName: TOPIC, resourcePatternType: ResourcePatternTypes.LITERAL,
        operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY,
      })
      expect(described.resources.flatMap((r) => r.acls.map((a) => `${a.principal} ${a.operation}`))).toEqual([`User:dave ${AclOperationTypes.READ}`])
    } finally {
      await onBroker2.disconnect()
    }
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
