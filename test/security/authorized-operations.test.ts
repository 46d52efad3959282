/**
 * Authorized-operations fields over a real socket: Metadata v8+ topics (and the cluster, v8-10),
 * DescribeGroups v3+ and DescribeCluster answer Kafka's bit set (bit N = AclOperation code N)
 * of what the SASL principal may do, 0 for the cluster without DESCRIBE on it, and INT32_MIN
 * when not asked or for a topic refused with TOPIC_AUTHORIZATION_FAILED. The group field is
 * also read through @platformatic/kafka's admin (describeGroups includeAuthorizedOperations);
 * kafkajs exposes none of them, so the rest is read with ringlog's wire client. With the
 * authorizer off every supported operation is reported.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Admin } from '@platformatic/kafka'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAcls } from '../../src/cli/acls.js'
import { ApiKey, KafkaWireClient } from '../../src/kafka-client/kafka-wire-client.js'
import { saslAuthenticate } from '../../src/kafka-client/sasl-login.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { AclOperation, AclPermission, CLUSTER_RESOURCE_NAME, PatternType, ResourceType, type AclBinding } from '../../src/security/acl.js'
import { CredentialStore } from '../../src/security/credential-store.js'
import { newCredential } from '../../src/security/scram-keys.js'
import { startTestBroker, type TestBroker } from '../broker/test-broker.js'

const OMITTED = -2147483648
const { READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE } = AclOperation
const bits = (...operations: number[]): number => operations.reduce((set, op) => set | (1 << op), 0)
/** Kafka's supported operations per resource type (AclEntry.supportedOperations). */
const ALL_TOPIC = bits(READ, WRITE, CREATE, DESCRIBE, DELETE, ALTER, DESCRIBE_CONFIGS, ALTER_CONFIGS)
const ALL_GROUP = bits(READ, DESCRIBE, DELETE)
const ALL_CLUSTER = bits(CREATE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE, ALTER, DESCRIBE)

let dir: string
let broker: TestBroker
let admin: KafkaWireClient
let alice: KafkaWireClient

function saslPort(): number {
  return broker.server.listenerAddress('SASL_PLAINTEXT')!.port
}

async function login(user: string, password: string): Promise<KafkaWireClient> {
  const client = await KafkaWireClient.connect('127.0.0.1', saslPort(), { clientId: `authz-ops-${user}` })
  await client.negotiate()
  await saslAuthenticate(client, { mechanism: 'SCRAM-SHA-256', username: user, password })
  return client
}

function allow(resourceType: number, resourceName: string, operation: number, permission: number = AclPermission.ALLOW): AclBinding {
  return { resourceType, resourceName, patternType: PatternType.LITERAL, principal: 'User:alice', host: '*', operation, permission }
}

async function topicOperations(client: KafkaWireClient, version: number, include: boolean): Promise<{ errorCode: number; ops: number }> {
  const response = await client.request(ApiKey.Metadata, version, { topics: [{ name: 'orders' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: include })
  return { errorCode: response.topics[0].errorCode, ops: response.topics[0].topicAuthorizedOperations }
}

async function clusterOperationsByMetadata(client: KafkaWireClient, include: boolean): Promise<number> {
  // v10 is the last version with the cluster field.
  return (await client.request(ApiKey.Metadata, 10, { topics: [], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: include })).clusterAuthorizedOperations
}

async function clusterOperationsByDescribeCluster(client: KafkaWireClient, include: boolean): Promise<number> {
  return (await client.request(ApiKey.DescribeCluster, 0, { includeClusterAuthorizedOperations: include })).clusterAuthorizedOperations
}

async function groupOperations(client: KafkaWireClient, include: boolean): Promise<{ errorCode: number; ops: number }> {
  const response = await client.request(ApiKey.DescribeGroups, 5, { groups: ['billing'], includeAuthorizedOperations: include })
  return { errorCode: response.groups[0].errorCode, ops: response.groups[0].authorizedOperations }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ringlog-authz-ops-'))
  const store = CredentialStore.open(join(dir, 'data'))
  store.set('admin', 'SCRAM-SHA-256', newCredential('SCRAM-SHA-256', 'admin-pw'))
  store.set('alice', 'SCRAM-SHA-256', newCredential('SCRAM-SHA-256', 'alice-pw'))
  broker = await startTestBroker({ listeners: ['SASL_PLAINTEXT://127.0.0.1:0'], saslMechanisms: ['SCRAM-SHA-256'], authorizer: 'on', superUsers: ['User:admin'], maxWorkers: 1 }, undefined, join(dir, 'data'))
  admin = await login('admin', 'admin-pw')
  alice = await login('alice', 'alice-pw')
  const created = await admin.request(ApiKey.CreateTopics, 5, { topics: [{ name: 'orders', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 5000 })
  expect(created.topics[0].errorCode).toBe(0)
  const committed = await admin.request(ApiKey.OffsetCommit, 2, { groupId: 'billing', generationIdOrMemberEpoch: -1, memberId: '', retentionTimeMs: -1, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 0, committedMetadata: null }] }] })
  expect(committed.topics[0].partitions[0].errorCode).toBe(0)
}, 60_000)

afterAll(async () => {
  await alice?.close()
  await admin?.close()
  await broker?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('authorized operations with the authorizer on', () => {
  it('the super user is allowed every supported operation', async () => {
    expect(await topicOperations(admin, 12, true)).toEqual({ errorCode: ErrorCode.NONE, ops: ALL_TOPIC })
    expect(await clusterOperationsByMetadata(admin, true)).toBe(ALL_CLUSTER)
    expect(await clusterOperationsByDescribeCluster(admin, true)).toBe(ALL_CLUSTER)
    expect(await groupOperations(admin, true)).toEqual({ errorCode: ErrorCode.NONE, ops: ALL_GROUP })
  })

  it('alice gets exactly what her ACLs allow, implied DESCRIBE included; nothing when not asked', async () => {
    // No ACL: the topic is refused and carries no bit set; no DESCRIBE on the cluster: 0.
    expect(await topicOperations(alice, 12, true)).toEqual({ errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, ops: OMITTED })
    expect(await clusterOperationsByMetadata(alice, true)).toBe(0)
    expect(await clusterOperationsByDescribeCluster(alice, true)).toBe(0)
    expect((await groupOperations(alice, true)).errorCode).toBe(ErrorCode.GROUP_AUTHORIZATION_FAILED)

    await createAcls(admin, [
      allow(ResourceType.TOPIC, 'orders', READ),
      allow(ResourceType.TOPIC, 'orders', ALTER_CONFIGS),
      allow(ResourceType.TOPIC, 'orders', WRITE),
      allow(ResourceType.TOPIC, 'orders', WRITE, AclPermission.DENY),
      allow(ResourceType.CLUSTER, CLUSTER_RESOURCE_NAME, IDEMPOTENT_WRITE),
      allow(ResourceType.GROUP, 'billing', READ),
    ])
    // READ implies DESCRIBE, ALTER_CONFIGS implies DESCRIBE_CONFIGS; the DENY of WRITE wins over its ALLOW.
    for (const version of [8, 10, 12]) {
      expect(await topicOperations(alice, version, true)).toEqual({ errorCode: ErrorCode.NONE, ops: bits(READ, DESCRIBE, ALTER_CONFIGS, DESCRIBE_CONFIGS) })
      expect(await topicOperations(alice, version, false)).toEqual({ errorCode: ErrorCode.NONE, ops: OMITTED })
    }
    // IDEMPOTENT_WRITE does not imply DESCRIBE: the cluster stays 0 until DESCRIBE is allowed.
    expect(await clusterOperationsByDescribeCluster(alice, true)).toBe(0)
    await createAcls(admin, [allow(ResourceType.CLUSTER, CLUSTER_RESOURCE_NAME, ALTER)])
    expect(await clusterOperationsByMetadata(alice, true)).toBe(bits(IDEMPOTENT_WRITE, ALTER, DESCRIBE))
    expect(await clusterOperationsByDescribeCluster(alice, true)).toBe(bits(IDEMPOTENT_WRITE, ALTER, DESCRIBE))
    expect(await clusterOperationsByMetadata(alice, false)).toBe(OMITTED)
    expect(await clusterOperationsByDescribeCluster(alice, false)).toBe(OMITTED)
    expect(await groupOperations(alice, true)).toEqual({ errorCode: ErrorCode.NONE, ops: bits(READ, DESCRIBE) })
    expect(await groupOperations(alice, false)).toEqual({ errorCode: ErrorCode.NONE, ops: OMITTED })
  })

  it('@platformatic/kafka admin logged in as alice reads the group bit set', async () => {
    const client = new Admin({
      clientId: 'authz-ops-platformatic', bootstrapBrokers: [`127.0.0.1:${saslPort()}`], retries: 0,
      sasl: { mechanism: 'SCRAM-SHA-256', username: 'alice', password: 'alice-pw' },
    })
    try {
      const groups = await client.describeGroups({ groups: ['billing'], includeAuthorizedOperations: true })
      expect(groups.get('billing')?.authorizedOperations).toBe(bits(READ, DESCRIBE))
    } finally {
      await client.close()
    }
  })
})

describe('authorized operations with the authorizer off', () => {
  it('every supported operation is reported', async () => {
    const open = await startTestBroker({ maxWorkers: 1 })
    const client = await KafkaWireClient.connect('127.0.0.1', open.port, { clientId: 'authz-ops-off' })
    try {
      await client.negotiate()
      expect((await client.request(ApiKey.CreateTopics, 5, { topics: [{ name: 'orders', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 5000 })).topics[0].errorCode).toBe(0)
      expect(await topicOperations(client, 12, true)).toEqual({ errorCode: ErrorCode.NONE, ops: ALL_TOPIC })
      expect(await clusterOperationsByMetadata(client, true)).toBe(ALL_CLUSTER)
      expect(await clusterOperationsByDescribeCluster(client, true)).toBe(ALL_CLUSTER)
      // An unknown group is described as Dead without error, with the group operations.
      expect(await groupOperations(client, true)).toEqual({ errorCode: ErrorCode.NONE, ops: ALL_GROUP })
    } finally {
      await client.close()
      await open.destroy()
    }
  })
})
