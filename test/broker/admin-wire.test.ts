/**
 * The admin APIs on the wire with hand-built requests (generated codecs), for the versions and
 * answers the real clients in test/compat do not reach: DescribeConfigs v0 (isDefault) and v4
 * (flexible, types), IncrementalAlterConfigs operations, DescribeCluster v0/v1, DeleteRecords
 * to the high watermark, OffsetFetch v8 (several groups per request).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { RawClient } from './raw-client.js'
import { startTestBroker, type TestBroker } from './test-broker.js'

const DescribeConfigs = 32
const IncrementalAlterConfigs = 44
const DescribeCluster = 60
const DeleteRecords = 21
const OffsetCommit = 8
const OffsetFetch = 9
const TOPIC = 2
const BROKER = 4

interface ConfigRow { name: string; value: string | null; readOnly: boolean; isDefault: boolean; configSource: number; configType: number }
interface DescribeResult { errorCode: number; configs: ConfigRow[] }

let broker: TestBroker
let client: RawClient

beforeAll(async () => {
  broker = await startTestBroker({ numPartitions: 1, segmentBytes: 4096 })
  await broker.server.context.createTopic('wire-admin', 1, { 'cleanup.policy': 'delete' })
  client = await RawClient.connect(broker.port)
})

afterAll(async () => {
  client?.close()
  await broker?.destroy()
})

async function describeTopic(version: number, keys: string[] | null = null): Promise<DescribeResult> {
  const r = await client.request<{ results: DescribeResult[] }>(DescribeConfigs, version, {
    resources: [{ resourceType: TOPIC, resourceName: 'wire-admin', configurationKeys: keys }], includeSynonyms: false,
  })
  return r.results[0]
}

describe('admin APIs on the wire', () => {
  it('DescribeConfigs v0 answers isDefault; v4 answers sources and types', async () => {
    const v0 = await describeTopic(0, ['cleanup.policy', 'retention.ms'])
    expect(v0.configs.map((c) => [c.name, c.value, c.isDefault])).toEqual([['cleanup.policy', 'delete', false], ['retention.ms', '604800000', true]])
    const v4 = await describeTopic(4, ['cleanup.policy', 'segment.bytes'])
    expect(v4.configs.map((c) => [c.name, c.configSource, c.configType])).toEqual([['cleanup.policy', 1, 7], ['segment.bytes', 4, 3]])
    const other = await client.request<{ results: DescribeResult[] }>(DescribeConfigs, 4, {
      resources: [{ resourceType: BROKER, resourceName: '7', configurationKeys: null }, { resourceType: 8, resourceName: '0', configurationKeys: null }],
    })
    expect(other.results.map((r) => r.errorCode)).toEqual([ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST])
  })

  it('IncrementalAlterConfigs sets, deletes, appends to and subtracts from configs', async () => {
    const alter = (configs: { name: string; configOperation: number; value: string | null }[], validateOnly = false) => client.request<{ responses: { errorCode: number; errorMessage: string | null }[] }>(
      IncrementalAlterConfigs, 1, { resources: [{ resourceType: TOPIC, resourceName: 'wire-admin', configs }], validateOnly })
    expect((await alter([{ name: 'retention.ms', configOperation: 0, value: '5000' }, { name: 'cleanup.policy', configOperation: 2, value: 'compact' }])).responses[0].errorCode).toBe(0)
    expect(broker.server.context.topics.get('wire-admin')?.configs).toEqual({ 'cleanup.policy': 'delete,compact', 'retention.ms': '5000' })
    expect((await alter([{ name: 'cleanup.policy', configOperation: 3, value: 'delete' }, { name: 'retention.ms', configOperation: 1, value: null }])).responses[0].errorCode).toBe(0)
    expect(broker.server.context.topics.get('wire-admin')?.configs).toEqual({ 'cleanup.policy': 'compact' })
    // Refused as a whole, nothing changes: APPEND to a non-list, a bad value, an unknown operation, a name twice.
    expect((await alter([{ name: 'retention.ms', configOperation: 2, value: '1' }])).responses[0].errorCode).toBe(ErrorCode.INVALID_CONFIG)
    expect((await alter([{ name: 'segment.bytes', configOperation: 0, value: '-5' }])).responses[0].errorCode).toBe(ErrorCode.INVALID_CONFIG)
    expect((await alter([{ name: 'segment.bytes', configOperation: 9, value: '1' }])).responses[0].errorCode).toBe(ErrorCode.INVALID_REQUEST)
    expect((await alter([{ name: 'segment.ms', configOperation: 0, value: '1' }, { name: 'segment.ms', configOperation: 1, value: null }])).responses[0].errorCode).toBe(ErrorCode.INVALID_REQUEST)
    expect((await alter([{ name: 'segment.ms', configOperation: 0, value: '1000' }], true)).responses[0].errorCode).toBe(0)
    expect(broker.server.context.topics.get('wire-admin')?.configs).toEqual({ 'cleanup.policy': 'compact' })
  })

  it('DescribeCluster v0 and v1 list this broker; v1 refuses the controllers endpoint', async () => {
    for (const version of [0, 1]) {
      const r = await client.request<Record<string, unknown>>(DescribeCluster, version, { includeClusterAuthorizedOperations: false, endpointType: 1 })
      expect(r).toMatchObject({ errorCode: 0, clusterId: broker.config.clusterId, controllerId: 0, brokers: [{ brokerId: 0, host: '127.0.0.1', port: broker.port, rack: null }] })
    }
    const controllers = await client.request<{ errorCode: number }>(DescribeCluster, 1, { includeClusterAuthorizedOperations: false, endpointType: 2 })
    expect(controllers.errorCode).toBe(114)
  })

  it('DeleteRecords with offset -1 empties the partition up to the high watermark', async () => {
    await broker.server.context.createTopic('wire-trim', 1)
    for (let i = 0; i < 5; i++) await broker.server.context.engine.appendRecords('wire-trim', 0, [{ key: null, value: Buffer.alloc(2000, i), headers: [], timestamp: Date.now() }], { acks: -1, compression: 0 })
    const before = broker.server.context.engine.offsets('wire-trim', 0)!
    expect(before.highWatermark).toBe(5)
    const r = await client.request<{ topics: { partitions: { partitionIndex: number; lowWatermark: number; errorCode: number }[] }[] }>(DeleteRecords, 2, {
      topics: [{ name: 'wire-trim', partitions: [{ partitionIndex: 0, offset: -1 }, { partitionIndex: 3, offset: 1 }] }], timeoutMs: 1000,
    })
    expect(r.topics[0].partitions).toEqual([
      { partitionIndex: 0, lowWatermark: 5, errorCode: 0 },
      { partitionIndex: 3, lowWatermark: -1, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
    ])
    expect(broker.server.context.engine.offsets('wire-trim', 0)).toMatchObject({ logStartOffset: 5, logEndOffset: 5 })
    // The start offset survives a restart (log-start-offset checkpoint).
    broker = await broker.restart()
    client.close()
    client = await RawClient.connect(broker.port)
    expect(broker.server.context.engine.offsets('wire-trim', 0)).toMatchObject({ logStartOffset: 5, logEndOffset: 5 })
  })

  it('OffsetFetch v8 answers several groups in one request, each with its own error', async () => {
    for (const groupId of ['g-one', 'g-two']) {
      const commit = await client.request<{ topics: { partitions: { errorCode: number }[] }[] }>(OffsetCommit, 8, {
        groupId, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null,
        topics: [{ name: 'wire-admin', partitions: [{ partitionIndex: 0, committedOffset: groupId === 'g-one' ? 11 : 22, committedLeaderEpoch: -1, committedMetadata: groupId }] }],
      })
      expect(commit.topics[0].partitions[0].errorCode).toBe(0)
    }
    for (const version of [8, 9]) {
      const r = await client.request<{ groups: { groupId: string; errorCode: number; topics: { name: string; partitions: { partitionIndex: number; committedOffset: number; metadata: string }[] }[] }[] }>(OffsetFetch, version, {
        groups: [
          { groupId: 'g-one', memberId: null, memberEpoch: -1, topics: [{ name: 'wire-admin', partitionIndexes: [0] }] },
          { groupId: 'g-two', memberId: null, memberEpoch: -1, topics: null },
          { groupId: '', memberId: null, memberEpoch: -1, topics: [{ name: 'wire-admin', partitionIndexes: [0] }] },
        ],
        requireStable: false,
      })
      expect(r.groups.map((g) => [g.groupId, g.errorCode, g.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.committedOffset, p.metadata])])])).toEqual([
        ['g-one', 0, [['wire-admin', [[0, 11, 'g-one']]]]],
        ['g-two', 0, [['wire-admin', [[0, 22, 'g-two']]]]],
        ['', ErrorCode.INVALID_GROUP_ID, [['wire-admin', [[0, -1, '']]]]],
      ])
    }
  })
})

describe('older versions and the internal topic', () => {
  it('ListOffsets v0 answers the old offsets array', async () => {
    await broker.server.context.createTopic('old-offsets', 1)
    for (let i = 0; i < 3; i++) await broker.server.context.engine.appendRecords('old-offsets', 0, [{ key: null, value: Buffer.from(`r${i}`), headers: [], timestamp: 5000 + i }], { acks: -1, compression: 0 })
    // One request per lookup: a partition named twice in one request is refused (INVALID_REQUEST), as Kafka does.
    const lookup = async (partitionIndex: number, timestamp: number, maxNumOffsets: number): Promise<[number, number[]]> => {
      const r = await client.request<{ topics: { partitions: { partitionIndex: number; errorCode: number; oldStyleOffsets: number[] }[] }[] }>(2, 0, {
        replicaId: -1,
        topics: [{ name: 'old-offsets', partitions: [{ partitionIndex, timestamp, maxNumOffsets }] }],
      })
      const p = r.topics[0].partitions[0]
      return [p.errorCode, p.oldStyleOffsets]
    }
    expect([
      await lookup(0, -1, 1), await lookup(0, -2, 1), await lookup(0, 5001, 1), await lookup(0, 9000, 1), await lookup(0, -1, 0), await lookup(4, -1, 1),
    ]).toEqual([
      [0, [3]], [0, [0]], [0, [1]], [0, []], [0, []], [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, []],
    ])
  })

  it('OffsetCommit v0 (simple) and v1 (with a generation) store offsets OffsetFetch v1 returns', async () => {
    const v0 = await client.request<{ topics: { partitions: { errorCode: number }[] }[] }>(OffsetCommit, 0, {
      groupId: 'old-group', topics: [{ name: 'wire-admin', partitions: [{ partitionIndex: 0, committedOffset: 7, committedMetadata: 'v0' }] }],
    })
    expect(v0.topics[0].partitions[0].errorCode).toBe(0)
    const v1 = await client.request<{ topics: { partitions: { errorCode: number }[] }[] }>(OffsetCommit, 1, {
      groupId: 'old-group', generationIdOrMemberEpoch: -1, memberId: '',
      topics: [{ name: 'wire-admin', partitions: [{ partitionIndex: 0, committedOffset: 9, commitTimestamp: 1, committedMetadata: 'v1' }] }],
    })
    expect(v1.topics[0].partitions[0].errorCode).toBe(0)
    // A generation this group never had: the member checks apply to v1 as to later versions.
    const stale = await client.request<{ topics: { partitions: { errorCode: number }[] }[] }>(OffsetCommit, 1, {
      groupId: 'old-group', generationIdOrMemberEpoch: 3, memberId: 'nobody',
      topics: [{ name: 'wire-admin', partitions: [{ partitionIndex: 0, committedOffset: 11, commitTimestamp: -1, committedMetadata: '' }] }],
    })
    expect(stale.topics[0].partitions[0].errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    const fetched = await client.request<{ topics: { partitions: { committedOffset: number; metadata: string }[] }[] }>(OffsetFetch, 1, {
      groupId: 'old-group', topics: [{ name: 'wire-admin', partitionIndexes: [0] }],
    })
    expect(fetched.topics[0].partitions[0]).toMatchObject({ committedOffset: 9, metadata: 'v1' })
  })

  it('Metadata lists __consumer_offsets as internal once it exists, other topics not', async () => {
    // Earlier commits in this file created it already (offsets live there); create it otherwise.
    if (!broker.server.context.topics.get('__consumer_offsets')) await broker.server.context.createTopic('__consumer_offsets', 1, {}, { internal: true })
    const r = await client.request<{ topics: { name: string; isInternal: boolean }[] }>(3, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
    const internal = new Map(r.topics.map((t) => [t.name, t.isInternal]))
    expect(internal.get('__consumer_offsets')).toBe(true)
    expect(internal.get('wire-admin')).toBe(false)
  })
})
