import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  ErrorCode, InvalidPartitionsError, InvalidRecordError, InvalidRequestError, InvalidTopicError, LogClosedError, open,
  RecordTooLargeError, RinglogError, UnknownTopicOrPartitionError, type Ringlog,
} from '../../src/index.js'
import { FAST_CONSUMER, openLog, removeDir, tempDataDir, waitFor } from './helpers.js'

describe('typed errors', () => {
  let dir: string
  let log: Ringlog

  beforeEach(async () => {
    dir = tempDataDir()
    log = await openLog(dir, { maxMessageBytes: 4096 })
    await log.admin().createTopics({ topics: [{ topic: 'ok', numPartitions: 3 }] })
  })

  afterEach(async () => {
    await log.close()
    removeDir(dir)
  })

  it('unknown topic: UnknownTopicOrPartitionError, and the topic is not auto-created', async () => {
    const producer = log.producer()
    const failure = producer.send({ topic: 'nope', messages: [{ value: 'x' }] })
    await expect(failure).rejects.toBeInstanceOf(UnknownTopicOrPartitionError)
    await expect(failure).rejects.toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION })
    expect(await log.admin().listTopics()).toEqual(['ok'])
    await expect(producer.send({ topic: 'ok', messages: [{ value: 'x', partition: 3 }] })).rejects.toBeInstanceOf(UnknownTopicOrPartitionError)
    await expect(log.consumer({ groupId: 'g', ...FAST_CONSUMER }).subscribe({ topic: 'nope' })).rejects.toBeInstanceOf(UnknownTopicOrPartitionError)
  })

  it('a record over max.message.bytes: RecordTooLargeError, and nothing of that send is written', async () => {
    const producer = log.producer()
    const failure = producer.send({ topic: 'ok', messages: [{ value: 'small', partition: 0 }, { value: Buffer.alloc(5000), partition: 1 }] })
    await expect(failure).rejects.toBeInstanceOf(RecordTooLargeError)
    await expect(failure).rejects.toMatchObject({ code: ErrorCode.MESSAGE_TOO_LARGE })
    const offsets = await log.admin().fetchTopicOffsets('ok')
    expect(offsets.map((o) => o.high)).toEqual(['0', '0', '0'])
    // Multi-byte strings are measured in UTF-8.
    await expect(producer.send({ topic: 'ok', messages: [{ value: 'é'.repeat(2100) }] })).rejects.toBeInstanceOf(RecordTooLargeError)
  })

  it('bad options and bad messages: InvalidRequestError / InvalidRecordError / UnsupportedCompressionError', async () => {
    expect(() => log.producer({ acks: 2 as unknown as -1 })).toThrow(InvalidRequestError)
    expect(() => log.producer({ compression: 'brotli' as unknown as 'lz4' })).toThrow(InvalidRequestError)
    expect(() => log.producer({ compression: 6 })).toThrow(InvalidRequestError)
    expect(() => log.producer({ lingerMs: -1 })).toThrow(InvalidRequestError)
    expect(() => log.consumer({ groupId: '' })).toThrow(InvalidRequestError)
    expect(() => log.consumer({ groupId: 'g', sessionTimeout: 10 })).toThrow(InvalidRequestError)
    expect(() => log.consumer({ groupId: 'g', partitionAssigners: ['sticky' as 'range'] })).toThrow(InvalidRequestError)
    const producer = log.producer()
    await expect(producer.send({ topic: 'ok', messages: [{ value: 42 as unknown as string }] })).rejects.toBeInstanceOf(InvalidRecordError)
    await expect(producer.send({ topic: 'ok', messages: [{ value: 'x', timestamp: 'yesterday' }] })).rejects.toBeInstanceOf(InvalidRecordError)
    const consumer = log.consumer({ groupId: 'g', ...FAST_CONSUMER })
    await expect(consumer.run({ eachMessage: async () => undefined })).rejects.toBeInstanceOf(InvalidRequestError)
    await consumer.subscribe({ topic: 'ok' })
    await expect(consumer.run({} as never)).rejects.toBeInstanceOf(InvalidRequestError)
    expect(() => consumer.seek({ topic: 'ok', partition: 0, offset: 'abc' })).toThrow(InvalidRequestError)
    await expect(open({ dataDir: dir, nonsense: 1 } as never)).rejects.toBeInstanceOf(InvalidRequestError)
    await expect(open({} as never)).rejects.toBeInstanceOf(InvalidRequestError)
  })

  it('after close: LogClosedError everywhere, and everything acknowledged before is still there', async () => {
    const producer = log.producer({ acks: -1 })
    const meta = await producer.send({ topic: 'ok', messages: Array.from({ length: 30 }, (_, i) => ({ value: `v${i}`, partition: i % 3 })) })
    expect(meta).toHaveLength(3)
    // acks 0 sends in flight at close are completed by close, not dropped.
    const fireAndForget = log.producer({ acks: 0 })
    await fireAndForget.send({ topic: 'ok', messages: [{ value: 'late', partition: 0 }] })
    await log.close()
    await expect(producer.send({ topic: 'ok', messages: [{ value: 'x' }] })).rejects.toBeInstanceOf(LogClosedError)
    await expect(log.producer().send({ topic: 'ok', messages: [{ value: 'x' }] })).rejects.toBeInstanceOf(LogClosedError)
    await expect(log.admin().listTopics()).rejects.toBeInstanceOf(LogClosedError)
    await expect(log.consumer({ groupId: 'g', ...FAST_CONSUMER }).subscribe({ topic: 'ok' })).rejects.toBeInstanceOf(LogClosedError)

    log = await openLog(dir, { maxMessageBytes: 4096 })
    const offsets = await log.admin().fetchTopicOffsets('ok')
    expect(offsets.map((o) => o.high)).toEqual(['11', '10', '10'])
  })

  it('a disconnected producer refuses sends', async () => {
    const producer = log.producer()
    await producer.disconnect()
    await expect(producer.send({ topic: 'ok', messages: [{ value: 'x' }] })).rejects.toBeInstanceOf(LogClosedError)
  })
})

describe('admin', () => {
  let dir: string
  let log: Ringlog

  beforeEach(async () => {
    dir = tempDataDir()
    log = await openLog(dir)
  })

  afterEach(async () => {
    await log.close()
    removeDir(dir)
  })

  it('creates, lists, describes and deletes topics', async () => {
    const admin = log.admin()
    expect(await admin.createTopics({ topics: [{ topic: 'a', numPartitions: 2 }, { topic: 'b' }] })).toBe(true)
    expect(await admin.createTopics({ topics: [{ topic: 'a', numPartitions: 5 }] })).toBe(false)
    expect((await admin.listTopics()).sort()).toEqual(['a', 'b'])
    const metadata = await admin.fetchTopicMetadata({ topics: ['a'] })
    expect(metadata.topics[0].partitions.map((p) => p.partitionId)).toEqual([0, 1])
    await expect(admin.createTopics({ topics: [{ topic: 'bad name!' }] })).rejects.toBeInstanceOf(InvalidTopicError)
    await expect(admin.createTopics({ topics: [{ topic: 'c', numPartitions: 0 }] })).rejects.toBeInstanceOf(InvalidPartitionsError)
    await expect(admin.createTopics({ topics: [{ topic: 'c', replicationFactor: 3 }] })).rejects.toMatchObject({ code: ErrorCode.INVALID_REPLICATION_FACTOR })
    await expect(admin.createTopics({ topics: [{ topic: 'c', configEntries: [{ name: 'no.such.config', value: '1' }] }] })).rejects.toBeInstanceOf(RinglogError)
    await log.producer().send({ topic: 'a', messages: [{ value: 'x', partition: 1 }] })
    await admin.deleteTopics({ topics: ['a'] })
    expect(await admin.listTopics()).toEqual(['b'])
    await expect(admin.deleteTopics({ topics: ['a'] })).rejects.toBeInstanceOf(UnknownTopicOrPartitionError)
    // A re-created topic starts empty.
    await admin.createTopics({ topics: [{ topic: 'a', numPartitions: 2 }] })
    expect((await admin.fetchTopicOffsets('a')).map((o) => o.high)).toEqual(['0', '0'])
  })

  it('reports offsets by position and by timestamp', async () => {
    const admin = log.admin()
    await admin.createTopics({ topics: [{ topic: 'ts', numPartitions: 1 }] })
    await log.producer().send({ topic: 'ts', messages: Array.from({ length: 10 }, (_, i) => ({ value: `v${i}`, timestamp: 1000 + i * 100 })) })
    expect(await admin.fetchTopicOffsets('ts')).toEqual([{ partition: 0, offset: '10', high: '10', low: '0' }])
    expect(await admin.fetchTopicOffsetsByTimestamp('ts', 1450)).toEqual([{ partition: 0, offset: '5' }])
    expect(await admin.fetchTopicOffsetsByTimestamp('ts', 1000)).toEqual([{ partition: 0, offset: '0' }])
    expect(await admin.fetchTopicOffsetsByTimestamp('ts', 99_999)).toEqual([{ partition: 0, offset: '10' }])
  })

  it('lists and describes groups, and fetches and sets their offsets', async () => {
    const admin = log.admin()
    await admin.createTopics({ topics: [{ topic: 'g', numPartitions: 2 }] })
    await log.producer().send({ topic: 'g', messages: [{ value: 'a', partition: 0 }, { value: 'b', partition: 1 }] })
    const consumer = log.consumer({ groupId: 'grp', ...FAST_CONSUMER, autoCommitInterval: 20 })
    await consumer.subscribe({ topic: 'g', fromBeginning: true })
    let handled = 0
    await consumer.run({ eachMessage: async () => { handled++ } })
    await waitFor(() => handled === 2, 'two records')
    await waitFor(() => consumer.assignment().length === 2, 'assignment')
    expect((await admin.listGroups()).groups).toEqual([{ groupId: 'grp', protocolType: 'consumer' }])
    const described = await admin.describeGroups(['grp'])
    expect(described.groups[0]).toMatchObject({ groupId: 'grp', state: 'Stable', protocolType: 'consumer', protocol: 'roundrobin' })
    expect(described.groups[0].members).toHaveLength(1)
    await consumer.disconnect()
    expect(await admin.fetchOffsets({ groupId: 'grp', topics: ['g'] })).toEqual([
      { topic: 'g', partitions: [{ partition: 0, offset: '1', metadata: null }, { partition: 1, offset: '1', metadata: null }] },
    ])
    await admin.setOffsets({ groupId: 'grp', topic: 'g', partitions: [{ partition: 0, offset: '0' }] })
    expect((await admin.fetchOffsets({ groupId: 'grp' }))[0].partitions[0].offset).toBe('0')
  })
})
