import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Consumer, Ringlog } from '../../src/index.js'
import { FAST_CONSUMER, openLog, removeDir, tempDataDir, waitFor } from './helpers.js'

describe('consumer control: seek, pause/resume, commits and restarts', () => {
  let dir: string
  let log: Ringlog

  beforeEach(async () => {
    dir = tempDataDir()
    log = await openLog(dir)
    await log.admin().createTopics({ topics: [{ topic: 't', numPartitions: 2 }] })
  })

  afterEach(async () => {
    await log.close()
    removeDir(dir)
  })

  async function fill(partition: number, count: number, from = 0): Promise<void> {
    const producer = log.producer()
    await producer.send({ topic: 't', messages: Array.from({ length: count }, (_, i) => ({ value: `p${partition}-${from + i}`, partition })) })
  }

  /**
   * Appends one marker record to `partition` and waits until `seen` holds its offset. Delivery is
   * in order within a partition, so once the marker is in, every earlier record that was going to
   * be delivered has been: this replaces sleeping and then asserting that nothing more arrived.
   */
  async function marker(partition: number, seen: () => readonly { partition: number; offset: number }[]): Promise<void> {
    const [meta] = await log.producer().send({ topic: 't', messages: [{ value: `marker-${partition}`, partition }] })
    const offset = Number(meta.baseOffset)
    await waitFor(() => seen().some((s) => s.partition === partition && s.offset === offset), `the marker at ${partition}/${offset}`)
  }

  function collect(consumer: Consumer, into: { partition: number; offset: number }[]): Promise<void> {
    return consumer.run({ eachMessage: async ({ partition, message }) => { into.push({ partition, offset: Number(message.offset) }) } })
  }

  it('seek moves a running consumer back (and forward) in a partition', async () => {
    await fill(0, 50)
    const consumer = log.consumer({ groupId: 'seek', ...FAST_CONSUMER })
    await consumer.subscribe({ topic: 't', fromBeginning: true })
    const seen: { partition: number; offset: number }[] = []
    await collect(consumer, seen)
    await waitFor(() => seen.length === 50, 'first pass')
    consumer.seek({ topic: 't', partition: 0, offset: '10' })
    await waitFor(() => seen.length === 90, 'replay from offset 10')
    expect(seen.slice(50).map((s) => s.offset)).toEqual(Array.from({ length: 40 }, (_, i) => 10 + i))
    consumer.seek({ topic: 't', partition: 0, offset: 48 })
    await waitFor(() => seen.length === 92, 'replay from offset 48')
    expect(seen.slice(90).map((s) => s.offset)).toEqual([48, 49])
    await consumer.disconnect()
  })

  it('a seek given before the partition is assigned applies once it is', async () => {
    await fill(1, 30)
    const consumer = log.consumer({ groupId: 'early-seek', ...FAST_CONSUMER })
    await consumer.subscribe({ topic: 't', fromBeginning: true })
    consumer.seek({ topic: 't', partition: 1, offset: 25 })
    const seen: { partition: number; offset: number }[] = []
    await collect(consumer, seen)
    await waitFor(() => seen.length === 5, 'records from 25')
    expect(seen.map((s) => s.offset)).toEqual([25, 26, 27, 28, 29])
    await consumer.disconnect()
  })

  it('pause stops delivery of a partition until resume; the other keeps flowing', async () => {
    const consumer = log.consumer({ groupId: 'pause', ...FAST_CONSUMER })
    await consumer.subscribe({ topic: 't', fromBeginning: true })
    consumer.pause([{ topic: 't', partitions: [0] }])
    expect(consumer.paused()).toEqual([{ topic: 't', partitions: [0] }])
    const seen: { partition: number; offset: number }[] = []
    await collect(consumer, seen)
    await fill(0, 10)
    await fill(1, 10)
    await waitFor(() => seen.length === 10, 'partition 1 records')
    // Two markers on partition 1: between their deliveries the round-robin loop offers partition 0
    // its turn, so had the pause not held, partition 0's records would have come first.
    await marker(1, () => seen)
    await marker(1, () => seen)
    expect(seen.every((s) => s.partition === 1)).toBe(true)
    consumer.resume([{ topic: 't', partitions: [0] }])
    expect(consumer.paused()).toEqual([])
    await waitFor(() => seen.length === 22, 'partition 0 records after resume')
    expect(seen.slice(12).map((s) => `${s.partition}/${s.offset}`)).toEqual(Array.from({ length: 10 }, (_, i) => `0/${i}`))

    // Pausing a whole topic, from inside the handler (kafkajs's payload.pause()).
    let resumeFromHandler: (() => void) | null = null
    await consumer.stop()
    const second = log.consumer({ groupId: 'pause-2', ...FAST_CONSUMER })
    await second.subscribe({ topic: 't', fromBeginning: true })
    const got: number[] = []
    const partition0: { partition: number; offset: number }[] = []
    await second.run({ eachMessage: async ({ partition, message, pause }) => {
      if (partition !== 1) {
        partition0.push({ partition, offset: Number(message.offset) })
        return
      }
      got.push(Number(message.offset))
      if (got.length === 3) resumeFromHandler = pause()
    } })
    await waitFor(() => got.length === 3 && resumeFromHandler !== null, 'handler paused its partition')
    // Between two markers on partition 0 the loop offers partition 1 its turn (see above).
    await marker(0, () => partition0)
    await marker(0, () => partition0)
    expect(got).toEqual([0, 1, 2])
    resumeFromHandler!()
    await waitFor(() => got.length === 12, 'rest of partition 1 (10 records, 2 markers) after resume')
    expect(got).toEqual(Array.from({ length: 12 }, (_, i) => i))
    await second.disconnect()
  })

  it('manual commits survive a restart: a new consumer of the group resumes there', async () => {
    await fill(0, 40)
    await fill(1, 40)
    const consumer = log.consumer({ groupId: 'manual', ...FAST_CONSUMER, autoCommit: false })
    await consumer.subscribe({ topic: 't', fromBeginning: true })
    const seen: { partition: number; offset: number }[] = []
    await collect(consumer, seen)
    await waitFor(() => seen.length === 80, 'all 80')
    await consumer.commitOffsets([{ topic: 't', partition: 0, offset: '15' }, { topic: 't', partition: 1, offset: 33 }])
    const fetched = await log.admin().fetchOffsets({ groupId: 'manual', topics: ['t'] })
    expect(fetched).toEqual([{ topic: 't', partitions: [{ partition: 0, offset: '15', metadata: null }, { partition: 1, offset: '33', metadata: null }] }])
    await consumer.disconnect()

    // Close and reopen the whole log: the offsets store is durable.
    await log.close()
    log = await openLog(dir)
    const again = log.consumer({ groupId: 'manual', ...FAST_CONSUMER, autoCommit: false })
    await again.subscribe({ topic: 't', fromBeginning: true })
    const resumed: { partition: number; offset: number }[] = []
    await collect(again, resumed)
    await waitFor(() => resumed.length === 25 + 7, 'records after the committed offsets')
    await marker(0, () => resumed)
    await marker(1, () => resumed)
    expect(resumed.filter((s) => s.partition === 0).map((s) => s.offset)).toEqual(Array.from({ length: 26 }, (_, i) => 15 + i))
    expect(resumed.filter((s) => s.partition === 1).map((s) => s.offset)).toEqual(Array.from({ length: 8 }, (_, i) => 33 + i))
    await again.disconnect()
  })

  it('auto commit stores processed offsets periodically and on disconnect; a restart resumes after them', async () => {
    await fill(0, 30)
    const consumer = log.consumer({ groupId: 'auto', ...FAST_CONSUMER, autoCommitInterval: 50 })
    const commits: string[] = []
    consumer.on('consumer.commit_offsets', (e) => commits.push(...e.topics.flatMap((t) => t.partitions.map((p) => `${t.topic}-${p.partition}@${p.offset}`))))
    await consumer.subscribe({ topic: 't', fromBeginning: true })
    const seen: { partition: number; offset: number }[] = []
    await collect(consumer, seen)
    await waitFor(() => seen.length === 30, 'first 30')
    await waitFor(() => commits.includes('t-0@30'), 'an automatic commit of offset 30')
    await fill(0, 5, 30)
    await waitFor(() => seen.length === 35, '5 more')
    await consumer.disconnect()
    const fetched = await log.admin().fetchOffsets({ groupId: 'auto', topics: ['t'] })
    expect(fetched[0].partitions.find((p) => p.partition === 0)?.offset).toBe('35')

    // Restart: records 35.. only.
    await log.close()
    log = await openLog(dir)
    await fill(0, 3, 35)
    const again = log.consumer({ groupId: 'auto', ...FAST_CONSUMER })
    await again.subscribe({ topic: 't', fromBeginning: true })
    const resumed: { partition: number; offset: number }[] = []
    await collect(again, resumed)
    await waitFor(() => resumed.length === 3, 'records after restart')
    await marker(0, () => resumed)
    expect(resumed.map((s) => s.offset)).toEqual([35, 36, 37, 38])
    await again.disconnect()
  })

  it('without a committed offset, fromBeginning false starts at the end', async () => {
    await fill(0, 10)
    const consumer = log.consumer({ groupId: 'latest', ...FAST_CONSUMER })
    await consumer.subscribe({ topic: 't' })
    const joined = new Promise<void>((resolve) => consumer.on('consumer.group_join', () => resolve()))
    const seen: { partition: number; offset: number }[] = []
    await collect(consumer, seen)
    await joined
    await fill(0, 2, 10)
    await waitFor(() => seen.length === 2, 'only new records')
    expect(seen.map((s) => s.offset)).toEqual([10, 11])
    await consumer.disconnect()
  })

  it('eachBatch without auto-resolve: only resolved offsets count, the rest comes again', async () => {
    await fill(0, 20)
    const consumer = log.consumer({ groupId: 'resolve', ...FAST_CONSUMER })
    await consumer.subscribe({ topic: 't', fromBeginning: true })
    const deliveries: string[][] = []
    await consumer.run({
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset }) => {
        deliveries.push(batch.messages.map((m) => m.offset))
        // Resolve only the first half of the first delivery, all of later ones.
        const upTo = deliveries.length === 1 ? 9 : batch.messages.length - 1
        for (let i = 0; i <= upTo && i < batch.messages.length; i++) resolveOffset(batch.messages[i].offset)
      },
    })
    await waitFor(() => deliveries.length >= 2, 'a second delivery')
    expect(deliveries[0][0]).toBe('0')
    expect(deliveries[1][0]).toBe('10')
    await consumer.disconnect()
  })

  it('a handler that throws gets the same message again', async () => {
    await fill(1, 3)
    const consumer = log.consumer({ groupId: 'retry', ...FAST_CONSUMER, retryBackoffMs: 10 })
    const crashes: string[] = []
    consumer.on('consumer.crash', (e) => crashes.push(e.error.message))
    await consumer.subscribe({ topic: 't', fromBeginning: true })
    const attempts: number[] = []
    let failed = false
    await consumer.run({ eachMessage: async ({ message }) => {
      attempts.push(Number(message.offset))
      if (message.offset === '1' && !failed) {
        failed = true
        throw new Error('handler failed once')
      }
    } })
    await waitFor(() => attempts.length === 4, 'retry of offset 1')
    expect(attempts).toEqual([0, 1, 1, 2])
    expect(crashes).toEqual(['handler failed once'])
    await consumer.disconnect()
  })
})
