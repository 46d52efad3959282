/**
 * ACLs on the transaction APIs with kafkajs over SASL (SCRAM-SHA-256) against `--authorizer on`:
 * alice may write her topic but not her transactional id: FindCoordinator refuses it, and with
 * DESCRIBE only InitProducerId answers TRANSACTIONAL_ID_AUTHORIZATION_FAILED; once the super
 * user allows WRITE on the transactional id she commits a transaction.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import kafkajs from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CredentialStore } from '../../src/security/credential-store.js'
import { newCredential } from '../../src/security/scram-keys.js'
import { RawClient } from '../broker/raw-client.js'
import { startTestBroker, type TestBroker } from '../broker/test-broker.js'

const { Kafka, logLevel, AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes } = kafkajs
const PASSWORDS = { admin: 'admin-pw', alice: 'alice-pw' } as const

let dir: string
let broker: TestBroker
let port: number

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ringlog-acls-txn-'))
  const store = CredentialStore.open(join(dir, 'data'))
  for (const [user, password] of Object.entries(PASSWORDS)) store.set(user, 'SCRAM-SHA-256', newCredential('SCRAM-SHA-256', password))
  broker = await startTestBroker({
    listeners: ['SASL_PLAINTEXT://127.0.0.1:0', 'PLAINTEXT://127.0.0.1:0'], saslMechanisms: ['SCRAM-SHA-256'],
    authorizer: 'on', superUsers: ['User:admin', 'User:ANONYMOUS'], maxWorkers: 1, transactionStateLogNumPartitions: 1,
  }, undefined, join(dir, 'data'))
  port = broker.server.listenerAddress('SASL_PLAINTEXT')!.port
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

const allow = (resourceType: number, resourceName: string, operation: number) =>
  ({ resourceType, resourceName, resourcePatternType: ResourcePatternTypes.LITERAL, principal: 'User:alice', host: '*', operation, permissionType: AclPermissionTypes.ALLOW })

async function failureType(action: Promise<unknown>): Promise<string> {
  try {
    await action
  } catch (error) {
    const e = error as { type?: string; cause?: { type?: string }; errors?: { type?: string }[] }
    return e.type ?? e.cause?.type ?? e.errors?.[0]?.type ?? String(error)
  }
  return 'no error'
}

async function commitOne(value: string): Promise<void> {
  const producer = client('alice').producer({ transactionalId: 'alice-tx', idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, retry: { retries: 2, initialRetryTime: 50 } })
  await producer.connect()
  try {
    const tx = await producer.transaction()
    await tx.send({ topic: 'alice-out', messages: [{ value }] })
    await tx.commit()
  } finally {
    await producer.disconnect()
  }
}

describe('ACLs on transactions', () => {
  it('needs WRITE on the transactional id', async () => {
    const admin = client('admin').admin()
    await admin.connect()
    try {
      await admin.createTopics({ topics: [{ topic: 'alice-out' }] })
      await admin.createAcls({ acl: [allow(AclResourceTypes.TOPIC, 'alice-out', AclOperationTypes.WRITE)] })
      // FindCoordinator refuses the id (kafkajs reports only that it found no coordinator).
      expect(await failureType(commitOne('refused'))).toMatch(/coordinator/i)
      // DESCRIBE lets FindCoordinator through; InitProducerId still needs WRITE.
      await admin.createAcls({ acl: [allow(AclResourceTypes.TRANSACTIONAL_ID, 'alice-tx', AclOperationTypes.DESCRIBE)] })
      expect(await failureType(commitOne('refused'))).toBe('TRANSACTIONAL_ID_AUTHORIZATION_FAILED')
      await admin.createAcls({ acl: [allow(AclResourceTypes.TRANSACTIONAL_ID, 'alice-tx', AclOperationTypes.WRITE)] })
    } finally {
      await admin.disconnect()
    }
    await commitOne('allowed')
    const raw = await RawClient.connect(broker.server.listenerAddress('PLAINTEXT')!.port)
    try {
      const { latestOffset } = await import('../transactions/read-isolated.js')
      // 'allowed' and its COMMIT marker.
      expect(await latestOffset(raw, 'alice-out', 0, true)).toBe(2)
    } finally {
      raw.close()
    }
  })
})
