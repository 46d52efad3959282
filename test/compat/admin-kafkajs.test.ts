/**
 * The admin APIs clients call on their own, through kafkajs's admin client against a real
 * broker on a socket: DescribeConfigs (topic and broker), AlterConfigs, CreatePartitions,
 * DeleteGroups and DeleteRecords (fetchTopicOffsets and a consumer see the new start).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import kafkajs from 'kafkajs'
import { startTestBroker, type TestBroker } from '../broker/test-broker.js'

const { Kafka, ConfigResourceTypes, logLevel } = kafkajs

let broker: TestBroker
let admin: ReturnType<InstanceType<typeof Kafka>['admin']>

function kafkaClient(): InstanceType<typeof Kafka> {
  return new Kafka({ clientId: 'admin-compat', brokers: [`127.0.0.1:${broker.port}`], logLevel: logLevel.NOTHING, retry: { retries: 4, initialRetryTime: 100 } })
}

function configOf(entries: { configName: string; configValue: string; configSource?: number; readOnly: boolean }[], name: string) {
  const entry = entries.find((e) => e.configName === name)
  if (!entry) throw new Error(`config ${name} not described`)
  return entry
}

beforeAll(async () => {
  broker = await startTestBroker({ numPartitions: 1, retentionMs: 3_600_000, groupInitialRebalanceDelayMs: 0 })
  admin = kafkaClient().admin()
  await admin.connect()
})

afterAll(async () => {
  await admin?.disconnect()
  await broker?.destroy()
})

describe('kafkajs admin', () => {
  it('describes topic configs with Kafka names, values and sources, then alters them', async () => {
    await admin.createTopics({ topics: [{ topic: 'cfg', numPartitions: 2, configEntries: [{ name: 'segment.bytes', value: '1048576' }] }] })
    const described = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 'cfg' }], includeSynonyms: true })
    const entries = described.resources[0].configEntries
    expect(described.resources[0].errorCode).toBe(0)
    // The topic's override, the broker's own setting, and Kafka's default, each with its source.
    expect(configOf(entries, 'segment.bytes')).toMatchObject({ configValue: '1048576', configSource: 1, readOnly: false })
    expect(configOf(entries, 'retention.ms')).toMatchObject({ configValue: '3600000', configSource: 4 })
    expect(configOf(entries, 'cleanup.policy')).toMatchObject({ configValue: 'delete', configSource: 5 })

    await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'cfg', configEntries: [{ name: 'retention.ms', value: '120000' }] }] })
    const after = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 'cfg', configNames: ['retention.ms', 'segment.bytes'] }], includeSynonyms: false })
    const afterEntries = after.resources[0].configEntries
    expect(afterEntries.map((e) => e.configName).sort()).toEqual(['retention.ms', 'segment.bytes'])
    expect(configOf(afterEntries, 'retention.ms')).toMatchObject({ configValue: '120000', configSource: 1 })
    // AlterConfigs replaces the whole set: segment.bytes, not named, is back to its default.
    expect(configOf(afterEntries, 'segment.bytes')).toMatchObject({ configValue: '1073741824', configSource: 5 })
    expect(broker.server.context.topics.get('cfg')?.configs).toEqual({ 'retention.ms': '120000' })
  })

  it('refuses bad configs with INVALID_CONFIG and unknown topics with UNKNOWN_TOPIC_OR_PARTITION', async () => {
    await expect(admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'cfg', configEntries: [{ name: 'retention.ms', value: 'soon' }] }] }))
      .rejects.toMatchObject({ type: 'INVALID_CONFIG' })
    await expect(admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'cfg', configEntries: [{ name: 'no.such.config', value: '1' }] }] }))
      .rejects.toMatchObject({ type: 'INVALID_CONFIG' })
    await expect(admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 'missing' }], includeSynonyms: false }))
      .rejects.toMatchObject({ type: 'UNKNOWN_TOPIC_OR_PARTITION' })
    expect(broker.server.context.topics.get('cfg')?.configs).toEqual({ 'retention.ms': '120000' })
  })

  it('describes the broker resource (static, read-only)', async () => {
    const described = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.BROKER, name: String(broker.config.nodeId) }], includeSynonyms: false })
    const entries = described.resources[0].configEntries
    expect(configOf(entries, 'log.retention.ms')).toMatchObject({ configValue: '3600000', readOnly: true, configSource: 4 })
    expect(configOf(entries, 'num.partitions')).toMatchObject({ configValue: '1', readOnly: true })
    await expect(admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.BROKER, name: String(broker.config.nodeId), configEntries: [{ name: 'num.partitions', value: '3' }] }] }))
      .rejects.toMatchObject({ type: 'INVALID_REQUEST' })
  })

  it('adds partitions that take writes and reads, and refuses a count that does not grow', async () => {
    await admin.createTopics({ topics: [{ topic: 'grow', numPartitions: 1 }] })
    await admin.createPartitions({ topicPartitions: [{ topic: 'grow', count: 3 }] })
    const offsets = await admin.fetchTopicOffsets('grow')
    expect(offsets.map((o) => o.partition).sort()).toEqual([0, 1, 2])
    const producer = kafkaClient().producer()
    await producer.connect()
    await producer.send({ topic: 'grow', messages: [{ partition: 2, value: 'on a new partition' }] })
    await producer.disconnect()
    const after = await admin.fetchTopicOffsets('grow')
    expect(after.find((o) => o.partition === 2)?.high).toBe('1')
    await expect(admin.createPartitions({ topicPartitions: [{ topic: 'grow', count: 2 }] })).rejects.toMatchObject({ type: 'INVALID_PARTITIONS' })
    await expect(admin.createPartitions({ topicPartitions: [{ topic: 'nope', count: 2 }] })).rejects.toMatchObject({ type: 'UNKNOWN_TOPIC_OR_PARTITION' })
  })

  it('deletes records before an offset: the low watermark moves, a consumer starts there', async () => {
    await admin.createTopics({ topics: [{ topic: 'trim', numPartitions: 1 }] })
    const producer = kafkaClient().producer()
    await producer.connect()
    await producer.send({ topic: 'trim', messages: Array.from({ length: 10 }, (_, i) => ({ value: `v${i}` })) })
    await producer.disconnect()
    // kafkajs finds the partition's leader in its cached metadata: refresh it for the new topic.
    await admin.fetchTopicMetadata({ topics: ['trim'] })
    await admin.deleteTopicRecords({ topic: 'trim', partitions: [{ partition: 0, offset: '4' }] })
    const offsets = await admin.fetchTopicOffsets('trim')
    expect(offsets[0]).toMatchObject({ partition: 0, low: '4', high: '10' })
    expect(broker.server.context.engine.offsets('trim', 0)?.logStartOffset).toBe(4)

    const consumer = kafkaClient().consumer({ groupId: 'trim-reader', maxWaitTimeInMs: 200 })
    await consumer.connect()
    await consumer.subscribe({ topic: 'trim', fromBeginning: true })
    const seen: string[] = []
    await new Promise<void>((resolve, reject) => {
      consumer.run({ eachMessage: async ({ message }) => {
        seen.push(message.value?.toString() ?? '')
        if (seen.length >= 6) resolve()
      } }).catch(reject)
    })
    await consumer.disconnect()
    expect(seen).toEqual(['v4', 'v5', 'v6', 'v7', 'v8', 'v9'])
    // Past the high watermark: OFFSET_OUT_OF_RANGE, nothing moves.
    await expect(admin.deleteTopicRecords({ topic: 'trim', partitions: [{ partition: 0, offset: '11' }] })).rejects.toThrow()
    expect(broker.server.context.engine.offsets('trim', 0)?.logStartOffset).toBe(4)
  })

  it('deletes an empty group and its offsets; a group with members is NON_EMPTY_GROUP', async () => {
    await admin.createTopics({ topics: [{ topic: 'grp', numPartitions: 1 }] })
    await admin.setOffsets({ groupId: 'idle', topic: 'grp', partitions: [{ partition: 0, offset: '0' }] })
    expect((await admin.listGroups()).groups.map((g) => g.groupId)).toContain('idle')

    const consumer = kafkaClient().consumer({ groupId: 'busy', maxWaitTimeInMs: 200 })
    await consumer.connect()
    await consumer.subscribe({ topic: 'grp' })
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()))
    await consumer.run({ eachMessage: async () => undefined })
    await joined
    await expect(admin.deleteGroups(['busy'])).rejects.toMatchObject({ groups: [expect.objectContaining({ groupId: 'busy', errorCode: 68 })] })
    await consumer.disconnect()

    const deleted = await admin.deleteGroups(['idle'])
    expect(deleted).toEqual([expect.objectContaining({ groupId: 'idle', errorCode: 0 })])
    expect((await admin.listGroups()).groups.map((g) => g.groupId)).not.toContain('idle')
    const offsets = await admin.fetchOffsets({ groupId: 'idle', topics: ['grp'] })
    expect(offsets[0].partitions[0].offset).toBe('-1')
    await expect(admin.deleteGroups(['idle'])).rejects.toMatchObject({ groups: [expect.objectContaining({ errorCode: 69 })] })
  })
})
