import { describe, expect, it } from 'vitest'
import { partitionForKey, type KafkaMessage, type Ringlog } from '../../src/index.js'
import { FAST_CONSUMER, logPerTest, waitFor } from './helpers.js'

interface Expected {
  key: string
  value: string
  headers: Record<string, string>
  timestamp: number
  partition: number
  offset: number
}

interface Seen {
  topic: string
  partition: number
  message: KafkaMessage
}

async function consumeAll(log: Ringlog, topic: string, groupId: string, count: number, mode: 'eachMessage' | 'eachBatch' = 'eachMessage'): Promise<Seen[]> {
  const consumer = log.consumer({ groupId, ...FAST_CONSUMER })
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  const seen: Seen[] = []
  if (mode === 'eachMessage') {
    await consumer.run({ eachMessage: async ({ topic: t, partition, message }) => { seen.push({ topic: t, partition, message }) } })
  } else {
    await consumer.run({ eachBatch: async ({ batch }) => { for (const message of batch.messages) seen.push({ topic: batch.topic, partition: batch.partition, message }) } })
  }
  await waitFor(() => seen.length >= count, `${count} records consumed from ${topic}`)
  await consumer.disconnect()
  return seen
}

function checkAgainst(seen: Seen[], expected: Expected[]): void {
  expect(seen.length).toBe(expected.length)
  const byPosition = new Map(expected.map((e) => [`${e.partition}/${e.offset}`, e]))
  const lastOffset = new Map<number, number>()
  for (const { partition, message } of seen) {
    const want = byPosition.get(`${partition}/${message.offset}`)
    expect(want, `record at ${partition}/${message.offset}`).toBeDefined()
    expect(message.key?.toString()).toBe(want!.key)
    expect(message.value?.toString()).toBe(want!.value)
    expect(message.timestamp).toBe(String(want!.timestamp))
    expect(Object.fromEntries(Object.entries(message.headers).map(([k, v]) => [k, v?.toString()]))).toEqual(want!.headers)
    // Per-partition order: offsets strictly increase, with no gaps.
    const previous = lastOffset.get(partition) ?? -1
    expect(Number(message.offset)).toBe(previous + 1)
    lastOffset.set(partition, Number(message.offset))
    byPosition.delete(`${partition}/${message.offset}`)
  }
  expect(byPosition.size).toBe(0)
}

describe('embedded produce and consume', () => {
  const fixture = logPerTest('events', 6)

  for (const compression of ['none', 'gzip', 'lz4'] as const) {
    it(`round-trips every offset, key, value, header and timestamp over 6 partitions (${compression})`, async () => {
      const producer = fixture.log.producer({ compression })
      const expected: Expected[] = []
      const nextOffset = new Map<number, number>()
      const baseTime = 1_700_000_000_000
      for (let round = 0; round < 10; round++) {
        const messages = Array.from({ length: 60 }, (_, i) => {
          const n = round * 60 + i
          return { key: `key-${n % 37}`, value: `value-${n}-${'x'.repeat(n % 50)}`, headers: { n: String(n), kind: n % 2 === 0 ? 'even' : 'odd' }, timestamp: String(baseTime + n) }
        })
        const meta = await producer.send({ topic: 'events', messages })
        // One entry per partition touched, each with the offset its first record got.
        const perPartition = new Map<number, typeof messages>()
        for (const m of messages) {
          const p = partitionForKey(Buffer.from(m.key), 6)
          if (!perPartition.has(p)) perPartition.set(p, [])
          perPartition.get(p)!.push(m)
        }
        expect(meta.map((m) => m.partition).sort()).toEqual([...perPartition.keys()].sort())
        for (const entry of meta) {
          expect(entry.topicName).toBe('events')
          expect(entry.errorCode).toBe(0)
          const base = nextOffset.get(entry.partition) ?? 0
          expect(entry.baseOffset).toBe(String(base))
          const list = perPartition.get(entry.partition)!
          list.forEach((m, i) => expected.push({ key: m.key, value: m.value, headers: m.headers, timestamp: Number(m.timestamp), partition: entry.partition, offset: base + i }))
          nextOffset.set(entry.partition, base + list.length)
        }
      }
      const seen = await consumeAll(fixture.log, 'events', `g-${compression}`, expected.length)
      checkAgainst(seen, expected)
      // Key -> partition is Kafka's murmur2, the same choice kafkajs and the Java client make.
      for (const { partition, message } of seen) expect(partition).toBe(partitionForKey(message.key!, 6))
      const offsets = await fixture.log.admin().fetchTopicOffsets('events')
      for (const o of offsets) expect(o.high).toBe(String(nextOffset.get(o.partition) ?? 0))
    })
  }

  it('delivers the same records through eachBatch, with batch fields that agree', async () => {
    const producer = fixture.log.producer({ compression: 'lz4' })
    const expected: Expected[] = []
    for (let p = 0; p < 6; p++) {
      const messages = Array.from({ length: 250 }, (_, i) => ({ key: `p${p}-${i}`, value: `v${p}-${i}`, headers: {}, timestamp: 1_000 + i, partition: p }))
      const [meta] = await producer.send({ topic: 'events', messages })
      expect(meta.partition).toBe(p)
      messages.forEach((m, i) => expected.push({ key: m.key, value: m.value, headers: {}, timestamp: m.timestamp, partition: p, offset: i }))
    }
    const consumer = fixture.log.consumer({ groupId: 'batches', ...FAST_CONSUMER })
    await consumer.subscribe({ topic: 'events', fromBeginning: true })
    const seen: Seen[] = []
    await consumer.run({
      eachBatch: async ({ batch }) => {
        expect(batch.isEmpty()).toBe(false)
        expect(batch.firstOffset()).toBe(batch.messages[0].offset)
        expect(batch.lastOffset()).toBe(batch.messages[batch.messages.length - 1].offset)
        expect(Number(batch.highWatermark)).toBeGreaterThan(Number(batch.lastOffset()))
        for (const message of batch.messages) seen.push({ topic: batch.topic, partition: batch.partition, message })
      },
    })
    await waitFor(() => seen.length >= expected.length, 'all records through eachBatch')
    await consumer.disconnect()
    checkAgainst(seen, expected)
  })

  it('spreads keyless records over partitions (sticky) and keeps explicit partitions', async () => {
    const producer = fixture.log.producer({ batchBytes: 1024 })
    const value = Buffer.alloc(100, 1)
    const meta = await producer.send({ topic: 'events', messages: Array.from({ length: 300 }, () => ({ value })) })
    // 300 records of ~124 bytes with a 1 KiB sticky budget: more than one partition.
    expect(meta.length).toBeGreaterThan(1)
    const [explicit] = await producer.send({ topic: 'events', messages: [{ value: 'x', partition: 4 }, { key: 'ignored-for-partitioning', value: 'y', partition: 4 }] })
    expect(explicit.partition).toBe(4)
  })

  for (const acks of [0, 1, -1] as const) {
    it(`acks ${acks}: records are readable, and the metadata says what was acknowledged`, async () => {
      const producer = fixture.log.producer({ acks })
      const metas = []
      for (let i = 0; i < 20; i++) metas.push(...await producer.send({ topic: 'events', messages: [{ key: `k${i}`, value: `v${i}` }] }))
      for (const m of metas) {
        expect(m.errorCode).toBe(0)
        if (acks === 0) expect(m.baseOffset).toBe('-1')
        else expect(Number(m.baseOffset)).toBeGreaterThanOrEqual(0)
      }
      await producer.flush()
      const seen = await consumeAll(fixture.log, 'events', `acks${acks}`, 20)
      expect(seen.map((s) => s.message.value!.toString()).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `v${i}`).sort())
    })
  }

  it('lingerMs merges small sends into one append and still reports each send its own offset', async () => {
    const producer = fixture.log.producer({ lingerMs: 20 })
    const sends = Array.from({ length: 50 }, (_, i) => producer.send({ topic: 'events', messages: [{ value: `m${i}`, partition: 2 }] }))
    const metas = (await Promise.all(sends)).map(([m]) => Number(m.baseOffset))
    expect(metas).toEqual(Array.from({ length: 50 }, (_, i) => i))
    const seen = await consumeAll(fixture.log, 'events', 'linger', 50)
    for (const { message } of seen) expect(message.value!.toString()).toBe(`m${message.offset}`)
  })

  it('a producer that outruns its in-flight budget waits instead of buffering without bound', async () => {
    const limit = 64 * 1024
    const producer = fixture.log.producer({ acks: -1, maxInFlightBytes: limit })
    const value = Buffer.alloc(1000, 2)
    let peak = 0
    const sends = Array.from({ length: 200 }, (_, i) => {
      const sent = producer.send({ topic: 'events', messages: Array.from({ length: 10 }, () => ({ value, partition: i % 6 })) })
      peak = Math.max(peak, producer.inFlightBytes)
      return sent
    })
    // The loop above queued 2 MB of sends synchronously; at most the budget was ever in flight.
    await Promise.all(sends)
    expect(peak).toBeLessThanOrEqual(limit)
    expect(producer.inFlightBytes).toBe(0)
    const offsets = await fixture.log.admin().fetchTopicOffsets('events')
    expect(offsets.reduce((sum, o) => sum + Number(o.high), 0)).toBe(2000)
  })
})
