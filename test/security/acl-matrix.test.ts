/**
 * The ACL matrix over the wire: for each API, alice (SCRAM over SASL_PLAINTEXT) without the
 * permission gets the Kafka authorization error, and after the super user grants exactly the
 * permission the request table names (CreateAcls) she gets past authorization; the grant is
 * then removed (DeleteAcls) so each row starts from nothing. ListGroups lists only the groups
 * she may describe; the super user gets everything.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAcls, deleteAcls } from '../../src/cli/acls.js'
import { ApiKey, KafkaWireClient } from '../../src/kafka-client/kafka-wire-client.js'
import { saslAuthenticate } from '../../src/kafka-client/sasl-login.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { AclOperation, AclPermission, CLUSTER_RESOURCE_NAME, PatternType, ResourceType, type AclBinding } from '../../src/security/acl.js'
import { CredentialStore } from '../../src/security/credential-store.js'
import { newCredential } from '../../src/security/scram-keys.js'
import { startTestBroker, type TestBroker } from '../broker/test-broker.js'

let dir: string
let broker: TestBroker
let admin: KafkaWireClient
let alice: KafkaWireClient

async function login(user: string, password: string): Promise<KafkaWireClient> {
  const client = await KafkaWireClient.connect('127.0.0.1', broker.server.listenerAddress('SASL_PLAINTEXT')!.port, { clientId: `matrix-${user}` })
  await client.negotiate()
  await saslAuthenticate(client, { mechanism: 'SCRAM-SHA-256', username: user, password })
  return client
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ringlog-acl-matrix-'))
  const store = CredentialStore.open(join(dir, 'data'))
  store.set('admin', 'SCRAM-SHA-256', newCredential('SCRAM-SHA-256', 'admin-pw'))
  store.set('alice', 'SCRAM-SHA-256', newCredential('SCRAM-SHA-256', 'alice-pw'))
  broker = await startTestBroker({ listeners: ['SASL_PLAINTEXT://127.0.0.1:0'], saslMechanisms: ['SCRAM-SHA-256'], authorizer: 'on', superUsers: ['User:admin'], maxWorkers: 1 }, undefined, join(dir, 'data'))
  admin = await login('admin', 'admin-pw')
  alice = await login('alice', 'alice-pw')
  const created = await admin.request(ApiKey.CreateTopics, 5, { topics: [{ name: 'orders', numPartitions: 1, replicationFactor: 1 }, { name: 'doomed', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 5000 })
  expect(created.topics.map((t) => t.errorCode)).toEqual([0, 0])
  // A group that exists (committed offsets, no members) for ListGroups and DescribeGroups.
  const committed = await admin.request(ApiKey.OffsetCommit, 2, { groupId: 'g', generationIdOrMemberEpoch: -1, memberId: '', retentionTimeMs: -1, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 0, committedMetadata: null }] }] })
  expect(committed.topics[0].partitions[0].errorCode).toBe(0)
}, 60_000)

afterAll(async () => {
  await alice?.close()
  await admin?.close()
  await broker?.stop()
  rmSync(dir, { recursive: true, force: true })
})

function acl(resourceType: number, resourceName: string, operation: number): AclBinding {
  return { resourceType, resourceName, patternType: PatternType.LITERAL, principal: 'User:alice', host: '*', operation, permission: AclPermission.ALLOW }
}

const { TOPIC, GROUP, CLUSTER } = ResourceType
const { READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, IDEMPOTENT_WRITE } = AclOperation

interface Row {
  api: string
  grant: AclBinding[]
  /** The error code that decides the row. */
  call: () => Promise<number>
  denied: number
  /** What a permitted call answers (the request's own outcome, past authorization). */
  allowed: number
}

const ROWS: Row[] = [
  {
    api: 'Fetch', grant: [acl(TOPIC, 'orders', READ)], denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED, allowed: ErrorCode.NONE,
    call: async () => (await alice.request(ApiKey.Fetch, 11, { replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, topics: [{ topic: 'orders', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 16, currentLeaderEpoch: -1, logStartOffset: -1 }] }] })).responses[0].partitions[0].errorCode,
  },
  {
    api: 'ListOffsets', grant: [acl(TOPIC, 'orders', DESCRIBE)], denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED, allowed: ErrorCode.NONE,
    call: async () => (await alice.request(ApiKey.ListOffsets, 5, { replicaId: -1, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, timestamp: -1, currentLeaderEpoch: -1 }] }] })).topics[0].partitions[0].errorCode,
  },
  {
    api: 'Metadata', grant: [acl(TOPIC, 'orders', DESCRIBE)], denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED, allowed: ErrorCode.NONE,
    call: async () => (await alice.request(ApiKey.Metadata, 9, { topics: [{ name: 'orders' }], allowAutoTopicCreation: false })).topics[0].errorCode,
  },
  {
    api: 'OffsetFetch (group)', grant: [acl(GROUP, 'g', DESCRIBE)], denied: ErrorCode.GROUP_AUTHORIZATION_FAILED, allowed: ErrorCode.NONE,
    call: async () => (await alice.request(ApiKey.OffsetFetch, 7, { groupId: 'g', topics: null })).errorCode,
  },
  {
    api: 'OffsetFetch (topic)', grant: [acl(GROUP, 'g', DESCRIBE), acl(TOPIC, 'orders', DESCRIBE)], denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED, allowed: ErrorCode.NONE,
    call: async () => {
      // Group granted for the whole row: the topic decides.
      await createAcls(admin, [acl(GROUP, 'g', DESCRIBE)])
      return (await alice.request(ApiKey.OffsetFetch, 7, { groupId: 'g', topics: [{ name: 'orders', partitionIndexes: [0] }] })).topics[0].partitions[0].errorCode
    },
  },
  {
    api: 'FindCoordinator', grant: [acl(GROUP, 'g', DESCRIBE)], denied: ErrorCode.GROUP_AUTHORIZATION_FAILED, allowed: ErrorCode.NONE,
    call: async () => (await alice.request(ApiKey.FindCoordinator, 3, { key: 'g', keyType: 0 })).errorCode,
  },
  {
    api: 'JoinGroup', grant: [acl(GROUP, 'g2', READ)], denied: ErrorCode.GROUP_AUTHORIZATION_FAILED, allowed: ErrorCode.MEMBER_ID_REQUIRED,
    call: async () => (await alice.request(ApiKey.JoinGroup, 5, { groupId: 'g2', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] })).errorCode,
  },
  {
    api: 'Heartbeat', grant: [acl(GROUP, 'g', READ)], denied: ErrorCode.GROUP_AUTHORIZATION_FAILED, allowed: ErrorCode.UNKNOWN_MEMBER_ID,
    call: async () => (await alice.request(ApiKey.Heartbeat, 3, { groupId: 'g', generationId: 1, memberId: 'nobody' })).errorCode,
  },
  {
    api: 'DescribeGroups', grant: [acl(GROUP, 'g', DESCRIBE)], denied: ErrorCode.GROUP_AUTHORIZATION_FAILED, allowed: ErrorCode.NONE,
    call: async () => (await alice.request(ApiKey.DescribeGroups, 5, { groups: ['g'] })).groups[0].errorCode,
  },
  {
    api: 'CreateTopics', grant: [acl(CLUSTER, CLUSTER_RESOURCE_NAME, CREATE)], denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED, allowed: ErrorCode.NONE,
    call: async () => (await alice.request(ApiKey.CreateTopics, 5, { topics: [{ name: 'alice-new', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 5000, validateOnly: true })).topics[0].errorCode,
  },
  {
    api: 'DeleteTopics', grant: [acl(TOPIC, 'doomed', DELETE)], denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED, allowed: ErrorCode.NONE,
    call: async () => (await alice.request(ApiKey.DeleteTopics, 4, { topicNames: ['doomed'], timeoutMs: 5000 })).responses[0].errorCode,
  },
  {
    api: 'InitProducerId (WRITE on a topic)', grant: [acl(TOPIC, 'orders', WRITE)], denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, allowed: ErrorCode.NONE,
    call: async () => (await alice.request(ApiKey.InitProducerId, 2, { transactionalId: null, transactionTimeoutMs: 60_000 })).errorCode,
  },
  {
    api: 'InitProducerId (IDEMPOTENT_WRITE)', grant: [acl(CLUSTER, CLUSTER_RESOURCE_NAME, IDEMPOTENT_WRITE)], denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, allowed: ErrorCode.NONE,
    call: async () => (await alice.request(ApiKey.InitProducerId, 2, { transactionalId: null, transactionTimeoutMs: 60_000 })).errorCode,
  },
  {
    api: 'OffsetCommit', grant: [acl(GROUP, 'g4', READ), acl(TOPIC, 'orders', READ)], denied: ErrorCode.GROUP_AUTHORIZATION_FAILED, allowed: ErrorCode.NONE,
    call: async () => (await alice.request(ApiKey.OffsetCommit, 2, { groupId: 'g4', generationIdOrMemberEpoch: -1, memberId: '', retentionTimeMs: -1, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 0, committedMetadata: null }] }] })).topics[0].partitions[0].errorCode,
  },
  {
    api: 'DeleteGroups', grant: [acl(GROUP, 'never-made', DELETE)], denied: ErrorCode.GROUP_AUTHORIZATION_FAILED, allowed: ErrorCode.GROUP_ID_NOT_FOUND,
    call: async () => (await alice.request(ApiKey.DeleteGroups, 2, { groupsNames: ['never-made'] })).results[0].errorCode,
  },
  {
    api: 'DeleteRecords', grant: [acl(TOPIC, 'orders', DELETE)], denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED, allowed: ErrorCode.NONE,
    call: async () => (await alice.request(ApiKey.DeleteRecords, 2, { topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, offset: 0 }] }], timeoutMs: 5000 })).topics[0].partitions[0].errorCode,
  },
  {
    api: 'CreatePartitions', grant: [acl(TOPIC, 'orders', ALTER)], denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED, allowed: ErrorCode.NONE,
    call: async () => (await alice.request(ApiKey.CreatePartitions, 3, { topics: [{ name: 'orders', count: 2, assignments: null }], timeoutMs: 5000, validateOnly: true })).results[0].errorCode,
  },
  {
    api: 'DescribeConfigs (topic)', grant: [acl(TOPIC, 'orders', DESCRIBE_CONFIGS)], denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED, allowed: ErrorCode.NONE,
    call: async () => (await alice.request(ApiKey.DescribeConfigs, 4, { resources: [{ resourceType: 2, resourceName: 'orders', configurationKeys: null }] })).results[0].errorCode,
  },
  {
    api: 'DescribeConfigs (broker)', grant: [acl(CLUSTER, CLUSTER_RESOURCE_NAME, DESCRIBE_CONFIGS)], denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, allowed: ErrorCode.NONE,
    call: async () => (await alice.request(ApiKey.DescribeConfigs, 4, { resources: [{ resourceType: 4, resourceName: String(broker.config.nodeId), configurationKeys: null }] })).results[0].errorCode,
  },
  {
    api: 'DescribeAcls', grant: [acl(CLUSTER, CLUSTER_RESOURCE_NAME, DESCRIBE)], denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, allowed: ErrorCode.NONE,
    call: async () => (await alice.request(ApiKey.DescribeAcls, 1, { resourceTypeFilter: 1, patternTypeFilter: 1, operation: 1, permissionType: 1 })).errorCode,
  },
  {
    api: 'DescribeUserScramCredentials', grant: [acl(CLUSTER, CLUSTER_RESOURCE_NAME, DESCRIBE)], denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, allowed: ErrorCode.NONE,
    call: async () => (await alice.request(ApiKey.DescribeUserScramCredentials, 0, { users: null })).errorCode,
  },
  {
    // A follower's fetch (replica_id >= 0) needs CLUSTER_ACTION on the cluster, as in Kafka: READ on the topic is not enough.
    api: 'Fetch as a replica', grant: [acl(TOPIC, 'orders', READ), acl(CLUSTER, CLUSTER_RESOURCE_NAME, AclOperation.CLUSTER_ACTION)], denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED, allowed: ErrorCode.NONE,
    call: async () => (await alice.request(ApiKey.Fetch, 11, { replicaId: 5, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, topics: [{ topic: 'orders', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 16, currentLeaderEpoch: -1, logStartOffset: -1 }] }] })).responses[0].partitions[0].errorCode,
  },
]

const EVERYTHING = { resourceType: ResourceType.ANY, resourceName: null, patternType: PatternType.ANY, principal: 'User:alice', host: null, operation: AclOperation.ANY, permission: AclPermission.ANY }

describe('ACL matrix: each API without and with the permission it needs', () => {
  for (const row of ROWS) {
    it(row.api, async () => {
      expect(await row.call()).toBe(row.denied)
      await createAcls(admin, row.grant)
      try {
        expect(await row.call()).toBe(row.allowed)
      } finally {
        await deleteAcls(admin, [EVERYTHING])
      }
    })
  }

  it('ListGroups lists only the groups alice may describe; DESCRIBE on the cluster lists all', async () => {
    const groupsOf = async (client: KafkaWireClient) => (await client.request(ApiKey.ListGroups, 4, { statesFilter: [] })).groups.map((g) => g.groupId).sort()
    const all = await groupsOf(admin)
    expect(all).toContain('g')
    expect(await groupsOf(alice)).toEqual([])
    await createAcls(admin, [acl(GROUP, 'g', DESCRIBE)])
    expect(await groupsOf(alice)).toEqual(['g'])
    await createAcls(admin, [acl(CLUSTER, CLUSTER_RESOURCE_NAME, DESCRIBE)])
    expect(await groupsOf(alice)).toEqual(all)
    await deleteAcls(admin, [EVERYTHING])
  })

  it('READ on the topic does not let alice fetch as a replica: that takes CLUSTER_ACTION on the cluster', async () => {
    const replicaFetch = ROWS.find((r) => r.api === 'Fetch as a replica')!
    await createAcls(admin, [acl(TOPIC, 'orders', READ)])
    try {
      expect(await replicaFetch.call()).toBe(ErrorCode.TOPIC_AUTHORIZATION_FAILED)
      expect(await ROWS[0].call()).toBe(ErrorCode.NONE)
    } finally {
      await deleteAcls(admin, [EVERYTHING])
    }
  })

  it('a DENY for User:* from alice\'s host wins over her ALLOW', async () => {
    await createAcls(admin, [acl(TOPIC, 'orders', DESCRIBE), { ...acl(TOPIC, 'orders', DESCRIBE), principal: 'User:*', host: '127.0.0.1', permission: AclPermission.DENY }])
    expect(await ROWS[2].call()).toBe(ErrorCode.TOPIC_AUTHORIZATION_FAILED)
    await deleteAcls(admin, [EVERYTHING, { ...EVERYTHING, principal: 'User:*' }])
    expect(await ROWS[2].call()).toBe(ErrorCode.TOPIC_AUTHORIZATION_FAILED)
  })
})
