/**
 * ACLs end to end with kafkajs over SASL_PLAINTEXT (SCRAM-SHA-256) against `--authorizer on
 * --super-users User:admin`: alice is refused (TOPIC_ / GROUP_ / CLUSTER_AUTHORIZATION_FAILED)
 * and sees no topic in Metadata; the super user adds ACLs with kafkajs admin (CreateAcls); alice
 * then produces and consumes in her group, still sees only her topics; a DENY wins over the
 * ALLOW until DeleteAcls removes it. The ACLs survive a restart in meta/acls.json. A broker
 * without the authorizer answers the ACL APIs with SECURITY_DISABLED.
 */
import { existsSync } from 'node:fs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import kafkajs from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AclStore } from '../../src/security/acl-store.js'
import { CredentialStore } from '../../src/security/credential-store.js'
import { newCredential } from '../../src/security/scram-keys.js'
import { startTestBroker, type TestBroker } from '../broker/test-broker.js'

const { Kafka, logLevel, AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes } = kafkajs
const PASSWORDS = { admin: 'admin-pw', alice: 'alice-pw' } as const

let dir: string
let broker: TestBroker
let port: number

async function start(): Promise<void> {
  broker = await startTestBroker({
    listeners: ['SASL_PLAINTEXT://127.0.0.1:0'], saslMechanisms: ['SCRAM-SHA-256'],
    authorizer: 'on', superUsers: ['User:admin'], maxWorkers: 1,
  }, undefined, join(dir, 'data'))
  port = broker.server.listenerAddress('SASL_PLAINTEXT')!.port
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ringlog-acls-'))
  const store = CredentialStore.open(join(dir, 'data'))
  for (const [user, password] of Object.entries(PASSWORDS)) store.set(user, 'SCRAM-SHA-256', newCredential('SCRAM-SHA-256', password))
  await start()
}, 60_000)

afterAll(async () => {
  await broker?.stop()
  rmSync(dir, { recursive: true, force: true })
})

function client(user: keyof typeof PASSWORDS) {
  return new Kafka({
    clientId: `acl-${user}`, brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING,
    sasl: { mechanism: 'scram-sha-256', username: user, password: PASSWORDS[user] },
    retry: { retries: 0 },
  })
}

async function withAdmin<T>(user: keyof typeof PASSWORDS, use: (admin: kafkajs.Admin) => Promise<T>): Promise<T> {
  const admin = client(user).admin()
  await admin.connect()
  try {
    return await use(admin)
  } finally {
    await admin.disconnect()
  }
}

async function produce(user: keyof typeof PASSWORDS, topic: string, values: string[]): Promise<void> {
  const producer = client(user).producer({ allowAutoTopicCreation: false })
  await producer.connect()
  try {
    await producer.send({ topic, messages: values.map((value) => ({ value })), acks: -1 })
  } finally {
    await producer.disconnect()
  }
}

async function consumeAll(user: keyof typeof PASSWORDS, groupId: string, topic: string, count: number): Promise<string[]> {
  const consumer = client(user).consumer({ groupId, retry: { retries: 0 }, maxWaitTimeInMs: 200 }) // disconnect would wait out a 5 s fetch
  await consumer.connect()
  const seen: string[] = []
  try {
    await consumer.subscribe({ topic, fromBeginning: true })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`consumed ${seen.length} of ${count}`)), 30_000)
      consumer.on(consumer.events.CRASH, ({ payload }) => { clearTimeout(timer); reject(payload.error) })
      void consumer.run({
        eachMessage: async ({ message }) => {
          seen.push(message.value!.toString())
          if (seen.length === count) { clearTimeout(timer); resolve() }
        },
      })
    })
  } finally {
    await consumer.disconnect()
  }
  return seen
}

/** The Kafka error type of a kafkajs failure (producers wrap it in a KafkaJSNonRetriableError, createTopics in an aggregate). */
async function failureType(action: Promise<unknown>): Promise<string> {
  try {
    await action
  } catch (error) {
    const e = error as { type?: string; cause?: { type?: string }; errors?: { type?: string }[] }
    return e.type ?? e.cause?.type ?? e.errors?.[0]?.type ?? String(error)
  }
  return 'no error'
}

const allow = (resourceType: number, resourceName: string, operation: number, resourcePatternType: number = ResourcePatternTypes.LITERAL) =>
  ({ resourceType, resourceName, resourcePatternType, principal: 'User:alice', host: '*', operation, permissionType: AclPermissionTypes.ALLOW })

describe('ACLs with kafkajs over SASL', () => {
  it('denies alice everything and hides every topic until the super user grants ACLs', async () => {
    await withAdmin('admin', (admin) => admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 2 }, { topic: 'secret' }] }))
    expect(await failureType(produce('alice', 'orders', ['x']))).toBe('TOPIC_AUTHORIZATION_FAILED')
    // Metadata leaves out what alice may not describe, and a named topic is refused whether it exists or not.
    expect(await withAdmin('alice', (admin) => admin.listTopics())).toEqual([])
    expect(await failureType(withAdmin('alice', (admin) => admin.fetchTopicMetadata({ topics: ['secret'] })))).toBe('TOPIC_AUTHORIZATION_FAILED')
    expect(await failureType(withAdmin('alice', (admin) => admin.fetchTopicMetadata({ topics: ['no-such-topic'] })))).toBe('TOPIC_AUTHORIZATION_FAILED')
    expect(await failureType(withAdmin('alice', (admin) => admin.createTopics({ topics: [{ topic: 'alice-new' }] })))).toBe('TOPIC_AUTHORIZATION_FAILED')
    expect(await failureType(withAdmin('alice', (admin) => admin.createAcls({ acl: [allow(AclResourceTypes.TOPIC, 'orders', AclOperationTypes.ALL)] })))).toBe('CLUSTER_AUTHORIZATION_FAILED')
    // The super user sees everything.
    expect((await withAdmin('admin', (admin) => admin.listTopics())).sort()).toEqual(['orders', 'secret'])
  }, 60_000)

  it('after CreateAcls alice produces and consumes her topic and group, and sees only her topic', async () => {
    await withAdmin('admin', (admin) => admin.createAcls({
      acl: [
        allow(AclResourceTypes.TOPIC, 'orders', AclOperationTypes.WRITE),
        allow(AclResourceTypes.TOPIC, 'ord', AclOperationTypes.READ, ResourcePatternTypes.PREFIXED),
        allow(AclResourceTypes.GROUP, 'g-', AclOperationTypes.READ, ResourcePatternTypes.PREFIXED),
      ],
    }))
    const values = Array.from({ length: 20 }, (_, i) => `order-${i}`)
    await produce('alice', 'orders', values)
    expect((await consumeAll('alice', 'g-alice', 'orders', values.length)).sort()).toEqual([...values].sort())
    expect(await withAdmin('alice', (admin) => admin.listTopics())).toEqual(['orders'])
    expect(await failureType(produce('alice', 'secret', ['x']))).toBe('TOPIC_AUTHORIZATION_FAILED')
    const described = await withAdmin('admin', (admin) => admin.describeAcls({
      resourceType: AclResourceTypes.ANY, resourcePatternType: ResourcePatternTypes.ANY, principal: 'User:alice',
      operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY,
    }))
    expect(described.resources.map((r) => `${r.resourceType}:${r.resourcePatternType}:${r.resourceName}`).sort()).toEqual(['2:3:orders', '2:4:ord', '3:4:g-'])
  }, 60_000)

  it('a DENY wins over the ALLOW until DeleteAcls removes it; the ACLs survive a restart', async () => {
    const deny = { ...allow(AclResourceTypes.TOPIC, 'orders', AclOperationTypes.WRITE), permissionType: AclPermissionTypes.DENY }
    await withAdmin('admin', (admin) => admin.createAcls({ acl: [deny] }))
    expect(await failureType(produce('alice', 'orders', ['denied']))).toBe('TOPIC_AUTHORIZATION_FAILED')
    const deleted = await withAdmin('admin', (admin) => admin.deleteAcls({ filters: [{ ...deny, resourcePatternType: ResourcePatternTypes.LITERAL }] }))
    expect(deleted.filterResponses[0].matchingAcls).toHaveLength(1)
    await produce('alice', 'orders', ['allowed again'])

    expect(existsSync(AclStore.pathIn(broker.dataDir))).toBe(true)
    await broker.stop()
    await start()
    await produce('alice', 'orders', ['after restart'])
    expect(await withAdmin('alice', (admin) => admin.listTopics())).toEqual(['orders'])
  }, 60_000)

  it('a broker without the authorizer answers the ACL APIs with SECURITY_DISABLED', async () => {
    const plain = await startTestBroker({ maxWorkers: 1 })
    try {
      const admin = new Kafka({ clientId: 'no-authorizer', brokers: [`127.0.0.1:${plain.port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin()
      await admin.connect()
      try {
        expect(await failureType(admin.describeAcls({
          resourceType: AclResourceTypes.ANY, resourcePatternType: ResourcePatternTypes.ANY, operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY,
        }))).toBe('SECURITY_DISABLED')
        expect(await failureType(admin.createAcls({ acl: [allow(AclResourceTypes.TOPIC, 't', AclOperationTypes.READ)] }))).toBe('SECURITY_DISABLED')
      } finally {
        await admin.disconnect()
      }
    } finally {
      await plain.destroy()
    }
  }, 60_000)
})
