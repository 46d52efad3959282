/**
 * Log compaction end to end: a `ringlog serve` process, kafkajs over a real socket, real
 * segment files. A topic with cleanup.policy=compact (set at CreateTopics, shown by
 * DescribeConfigs) refuses keyless records with INVALID_RECORD, and after many updates per
 * key keeps exactly the last value of each, read back from offset 0 with offsets strictly
 * increasing and gaps where records went; tombstones go after delete.retention.ms (0 here).
 * `__consumer_offsets` shrinks after many commits by one group, and a broker killed with
 * SIGKILL and restarted serves the last committed offsets.
 * Segments roll by time (--segment-ms) so the test needs no 1 MiB segments.
 */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { tempDir, waitFor } from '../compat/groups-harness.js'
import { quietKafka, readFromStart } from './compaction-kafkajs.js'
import { startServe, type ServeProcess } from './serve-broker.js'

const SEGMENT_MS = 250
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * The furthest offset a finished cleaner pass of `partition` reached, from the broker's log lines
 * (the cleaner checkpoint file moves at the start of a pass's swaps, so it cannot tell).
 */
function cleanedUpTo(broker: ServeProcess, partition: string): number {
  let furthest = -1
  for (const match of broker.stderr().matchAll(new RegExp(`${partition}: log cleaner pass: .*clean up to offset (\\d+)`, 'g'))) furthest = Math.max(furthest, Number(match[1]))
  return furthest
}

/** Base offset of the newest segment (the active one) in a partition dir. */
function activeBase(dir: string): number {
  return Math.max(...readdirSync(dir).filter((n) => /^\d{20}\.log$/.test(n)).map((n) => Number(n.slice(0, 20))))
}

function logBytes(dir: string): number {
  return readdirSync(dir).filter((n) => /^\d{20}\.log$/.test(n)).reduce((sum, n) => sum + statSync(join(dir, n)).size, 0)
}

describe('log compaction through ringlog serve and kafkajs', () => {
  const dir = tempDir('compaction')
  const brokers: ServeProcess[] = []
  afterAll(async () => {
    for (const broker of brokers) await broker.kill()
    dir.remove()
  })

  it('keeps the last value per key at its offset, drops tombstones, refuses keyless records', async () => {
    const broker = await startServe(dir.path, ['--segment-ms', String(SEGMENT_MS)])
    brokers.push(broker)
    const kafka = quietKafka(broker.bootstrap)
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: 'latest', numPartitions: 1, configEntries: [
      { name: 'cleanup.policy', value: 'compact' }, { name: 'delete.retention.ms', value: '0' }, { name: 'min.cleanable.dirty.ratio', value: '0.01' },
    ] }] })
    const described = await admin.describeConfigs({ resources: [{ type: 2, name: 'latest', configNames: ['cleanup.policy'] }], includeSynonyms: false })
    expect(described.resources[0].configEntries.map((c) => [c.configName, c.configValue])).toEqual([['cleanup.policy', 'compact']])
    // A bad policy is refused at CreateTopics (INVALID_CONFIG).
    await expect(admin.createTopics({ topics: [{ topic: 'bad', configEntries: [{ name: 'cleanup.policy', value: 'shred' }] }] })).rejects.toThrow()

    const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } })
    await producer.connect()
    await expect(producer.send({ topic: 'latest', acks: -1, messages: [{ key: 'k', value: 'with key' }, { value: 'no key' }] }))
      .rejects.toMatchObject({ type: 'INVALID_RECORD' })

    // A topic made compacted later (AlterConfigs, kafkajs' alterConfigs) refuses keyless records from then on.
    await admin.createTopics({ topics: [{ topic: 'altered', numPartitions: 1 }] })
    await producer.send({ topic: 'altered', acks: -1, messages: [{ value: 'no key, fine under delete' }] })
    await admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: 'altered', configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] })
    await expect(producer.send({ topic: 'altered', acks: -1, messages: [{ value: 'no key' }] })).rejects.toMatchObject({ type: 'INVALID_RECORD' })

    const KEYS = 40
    const ROUNDS = 24
    const expected = new Map<string, string | null>()
    for (let round = 0; round < ROUNDS; round++) {
      const messages = Array.from({ length: KEYS }, (_, k) => ({ key: `key-${k}`, value: `value-${k}-${round}` }))
      await producer.send({ topic: 'latest', acks: -1, messages })
      for (const m of messages) expected.set(m.key, m.value)
      if (round % 6 === 5) await sleep(SEGMENT_MS + 50) // the next append rolls the segment
    }
    const tombstones = Array.from({ length: 5 }, (_, k) => ({ key: `key-${k}`, value: null }))
    await producer.send({ topic: 'latest', acks: -1, messages: tombstones })
    for (const t of tombstones) expected.delete(t.key)
    await sleep(SEGMENT_MS + 50)
    // Rolls everything above into closed segments, which the cleaner may then compact.
    await producer.send({ topic: 'latest', acks: -1, messages: [{ key: 'marker', value: 'last' }] })
    expected.set('marker', 'last')
    const partitionDir = join(dir.path, 'latest-0')
    await waitFor('the cleaner to reach the active segment', () => cleanedUpTo(broker, 'latest-0') >= activeBase(partitionDir) && activeBase(partitionDir) > 0, 30_000, 50)

    const records = await readFromStart(kafka, 'latest', 'reader-1')
    const produced = KEYS * ROUNDS + tombstones.length + 1
    for (let i = 1; i < records.length; i++) expect(records[i].offset).toBeGreaterThan(records[i - 1].offset)
    expect(records.at(-1)?.offset).toBe(produced - 1)
    expect(records.some((r, i) => i > 0 && r.offset > records[i - 1].offset + 1)).toBe(true)
    // Exactly one record per live key, with its last value; no tombstone left.
    expect(records.length).toBe(expected.size)
    expect(new Map(records.map((r) => [r.key, r.value]))).toEqual(expected)
    expect(broker.stderr()).toMatch(/latest-0: log cleaner pass: \d+ segments, \d+ bytes cleaned, \d+ records/)
    await producer.disconnect()
    await admin.disconnect()
  })

  it('__consumer_offsets shrinks after many commits by one group; after kill -9 the last commit is served', async () => {
    const broker = brokers[0]
    const kafka = quietKafka(broker.bootstrap)
    const COMMITS = 150
    // One group member committing again and again (OffsetCommit over the wire each time).
    const consumer = kafka.consumer({ groupId: 'committer', maxWaitTimeInMs: 100 })
    await consumer.connect()
    await consumer.subscribe({ topic: 'latest', fromBeginning: true })
    let assigned = false
    consumer.on(consumer.events.GROUP_JOIN, () => { assigned = true })
    await consumer.run({ autoCommit: false, eachMessage: async () => undefined })
    await waitFor('the committer to join its group', () => assigned, 20_000)
    for (let i = 0; i < COMMITS; i++) {
      await consumer.commitOffsets([{ topic: 'latest', partition: 0, offset: String(i + 1) }])
      if (i % 50 === 49) await sleep(SEGMENT_MS + 50)
    }
    await sleep(SEGMENT_MS + 50)
    await consumer.commitOffsets([{ topic: 'latest', partition: 0, offset: String(COMMITS + 7) }])
    await consumer.disconnect()
    const offsetsDir = join(dir.path, '__consumer_offsets-0')
    await waitFor('the cleaner to compact __consumer_offsets', () => cleanedUpTo(broker, '__consumer_offsets-0') >= activeBase(offsetsDir) && activeBase(offsetsDir) > 0, 30_000, 50)
      .catch((error: Error) => { throw new Error(`${error.message}; segments ${readdirSync(offsetsDir).join(' ')}; broker stderr:\n${broker.stderr().slice(-3000)}`) })
    // Every commit was at least one 61-byte batch header; what is left is a handful of records.
    const left = logBytes(offsetsDir)
    expect(left * 5, `${left} bytes left: ${readdirSync(offsetsDir).join(' ')}`).toBeLessThan(COMMITS * 61)
    expect(broker.stderr()).toMatch(/__consumer_offsets-0: log cleaner pass: .* [1-9]\d* records/)

    await broker.kill()
    const restarted = await startServe(dir.path, ['--segment-ms', String(SEGMENT_MS)])
    brokers.push(restarted)
    const again = quietKafka(restarted.bootstrap).admin()
    await again.connect()
    const fetched = await again.fetchOffsets({ groupId: 'committer', topics: ['latest'] })
    expect(fetched[0].partitions).toEqual([expect.objectContaining({ partition: 0, offset: String(COMMITS + 7) })])
    // The compacted topic reads the same after the restart.
    const records = await readFromStart(quietKafka(restarted.bootstrap), 'latest', 'reader-2')
    expect(records.find((r) => r.key === 'marker')?.value).toBe('last')
    expect(new Set(records.map((r) => r.key)).size).toBe(records.length)
    await again.disconnect()
  })
})
