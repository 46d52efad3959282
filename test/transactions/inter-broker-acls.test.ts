/**
 * The inter-broker transaction requests under `--authorizer on`: AddPartitionsToTxn v4+ (the
 * batched KIP-890 form) and WriteTxnMarkers need CLUSTER_ACTION on the cluster, as in Kafka.
 * Without it the former answers a top-level CLUSTER_AUTHORIZATION_FAILED with no results and the
 * latter CLUSTER_AUTHORIZATION_FAILED for every partition (nothing is written); once the super
 * user grants CLUSTER_ACTION both are served.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import kafkajs from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { CredentialStore } from '../../src/security/credential-store.js'
import { newCredential } from '../../src/security/scram-keys.js'
import { RawClient } from '../broker/raw-client.js'
import { startTestBroker, type TestBroker } from '../broker/test-broker.js'

const { Kafka, logLevel, AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes } = kafkajs
const TOPIC = 'acl-markers'

let dir: string
let broker: TestBroker
let admin: ReturnType<InstanceType<typeof Kafka>['admin']>
let raw: RawClient

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ringlog-acls-inter-broker-'))
  const store = CredentialStore.open(join(dir, 'data'))
  store.set('admin', 'SCRAM-SHA-256', newCredential('SCRAM-SHA-256', 'admin-pw'))
  broker = await startTestBroker({
    listeners: ['SASL_PLAINTEXT://127.0.0.1:0', 'PLAINTEXT://127.0.0.1:0'], saslMechanisms: ['SCRAM-SHA-256'],
    authorizer: 'on', superUsers: ['User:admin'], maxWorkers: 1, transactionStateLogNumPartitions: 1,
  }, undefined, join(dir, 'data'))
  const kafka = new Kafka({
    clientId: 'acl-admin', brokers: [`127.0.0.1:${broker.server.listenerAddress('SASL_PLAINTEXT')!.port}`], logLevel: logLevel.NOTHING,
    sasl: { mechanism: 'scram-sha-256', username: 'admin', password: 'admin-pw' }, retry: { retries: 0 },
  })
  admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic: TOPIC }] })
  // The PLAINTEXT listener's principal is User:ANONYMOUS, with no ACLs yet.
  raw = await RawClient.connect(broker.server.listenerAddress('PLAINTEXT')!.port)
}, 60_000)

afterAll(async () => {
  raw?.close()
  await admin?.disconnect()
  await broker?.stop()
  rmSync(dir, { recursive: true, force: true })
})

interface BatchedAddResult { errorCode: number; resultsByTransaction: { transactionalId: string; topicResults: { resultsByPartition: { partitionErrorCode: number }[] }[] }[] }
interface MarkersResult { markers: { topics: { partitions: { errorCode: number }[] }[] }[] }

const verify = { transactions: [{ transactionalId: 'someone', producerId: 5, producerEpoch: 0, verifyOnly: true, topics: [{ name: TOPIC, partitions: [0] }] }] }
const marker = { markers: [{ producerId: 77, producerEpoch: 0, transactionResult: true, coordinatorEpoch: 0, topics: [{ name: TOPIC, partitionIndexes: [0] }] }] }
const markerCodes = (r: MarkersResult): number[] => r.markers.flatMap((m) => m.topics.flatMap((t) => t.partitions.map((p) => p.errorCode)))

describe('inter-broker transaction requests need CLUSTER_ACTION', () => {
  it('are refused without it and served with it', async () => {
    const refused = await raw.request<BatchedAddResult>(24, 5, verify)
    expect([refused.errorCode, refused.resultsByTransaction]).toEqual([ErrorCode.CLUSTER_AUTHORIZATION_FAILED, []])
    expect(markerCodes(await raw.request<MarkersResult>(27, 1, marker))).toEqual([ErrorCode.CLUSTER_AUTHORIZATION_FAILED])
    const [before] = await admin.fetchTopicOffsets(TOPIC)
    expect(before?.high).toBe('0')

    await admin.createAcls({ acl: [{
      resourceType: AclResourceTypes.CLUSTER, resourceName: 'kafka-cluster', resourcePatternType: ResourcePatternTypes.LITERAL,
      principal: 'User:ANONYMOUS', host: '*', operation: AclOperationTypes.CLUSTER_ACTION, permissionType: AclPermissionTypes.ALLOW,
    }] })

    const served = await raw.request<BatchedAddResult>(24, 5, verify)
    expect(served.errorCode).toBe(ErrorCode.NONE)
    expect(served.resultsByTransaction.map((t) => [t.transactionalId, t.topicResults[0]!.resultsByPartition[0]!.partitionErrorCode])).toEqual([['someone', ErrorCode.INVALID_PRODUCER_ID_MAPPING]])
    expect(markerCodes(await raw.request<MarkersResult>(27, 1, marker))).toEqual([ErrorCode.NONE])
    const [after] = await admin.fetchTopicOffsets(TOPIC)
    expect(after?.high).toBe('1')
  })
})
