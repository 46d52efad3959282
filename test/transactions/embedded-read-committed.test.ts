/**
 * The embedded consumer's isolation (`readUncommitted`): transactions of the embedded producer
 * committed and aborted between non-transactional sends, two transactional producers interleaved
 * in one partition, and a transaction left open. A read_committed consumer (the default, as
 * kafkajs) sees exactly the committed and the non-transactional records in offset order and stops
 * at the last stable offset while a transaction is open; a read_uncommitted one sees every
 * record but the markers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Consumer, Ringlog } from '../../src/index.js'
import { InvalidRequestError } from '../../src/index.js'
import { FAST_CONSUMER, openLog, removeDir, sleep, tempDataDir, waitFor } from '../client/helpers.js'

const TXN = { transactionStateLogNumPartitions: 1, offsetsTopicNumPartitions: 1 } as const

let dir: string
let log: Ringlog

beforeAll(async () => {
  dir = tempDataDir('ringlog-read-committed-')
  log = await openLog(dir, TXN)
  await log.admin().createTopics({ topics: [{ topic: 'mixed', numPartitions: 1 }, { topic: 'open', numPartitions: 2 }] })
})

afterAll(async () => {
  await log?.close()
  removeDir(dir)
})

interface Seen { partition: number; value: string }

async function consume(groupId: string, topic: string, readUncommitted: boolean | undefined, seen: Seen[]): Promise<Consumer> {
  const consumer = log.consumer({ groupId, ...FAST_CONSUMER, ...(readUncommitted === undefined ? {} : { readUncommitted }) })
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({ eachMessage: async ({ partition, message }) => { seen.push({ partition, value: message.value?.toString() ?? '' }) } })
  return consumer
}

const values = (seen: readonly Seen[]): string[] => seen.map((s) => s.value)
const range = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`)

describe('embedded consumer isolation', () => {
  it('rejects a readUncommitted that is not a boolean', () => {
    expect(() => log.consumer({ groupId: 'bad', readUncommitted: 'yes' as unknown as boolean })).toThrow(InvalidRequestError)
  })

  it('read_committed skips aborted transactions and markers, in order; read_uncommitted sees every record', async () => {
    // Small batches: each transaction spans several batches (and reads), so the filter works across them.
    const plain = log.producer({ batchBytes: 512 })
    const txp = log.producer({ transactionalId: 'mixed-a', batchBytes: 512 })
    const other = log.producer({ transactionalId: 'mixed-b', batchBytes: 512 })
    const send = (p: typeof plain, messages: string[]) => p.send({ topic: 'mixed', messages: messages.map((value) => ({ value, partition: 0 })) })

    await send(plain, ['p0'])
    const t1 = await txp.transaction()
    await t1.send({ topic: 'mixed', messages: range('c1-', 60).map((value) => ({ value, partition: 0 })) })
    await t1.commit()
    await send(plain, ['p1'])
    const t2 = await txp.transaction()
    await t2.send({ topic: 'mixed', messages: range('a2-', 60).map((value) => ({ value, partition: 0 })) })
    await t2.abort()
    await send(plain, ['p2'])
    // Two producers' transactions interleaved: A aborts, B commits; a plain send lands between them.
    const a = await txp.transaction()
    const b = await other.transaction()
    await a.send({ topic: 'mixed', messages: [{ value: 'A1', partition: 0 }] })
    await b.send({ topic: 'mixed', messages: [{ value: 'B1', partition: 0 }] })
    await send(plain, ['p3'])
    await a.send({ topic: 'mixed', messages: [{ value: 'A2', partition: 0 }] })
    await b.send({ topic: 'mixed', messages: [{ value: 'B2', partition: 0 }] })
    await a.abort()
    await b.commit()
    await send(plain, ['end'])

    const committedSeen: Seen[] = []
    const defaultSeen: Seen[] = []
    const uncommittedSeen: Seen[] = []
    const consumers = [
      await consume('rc', 'mixed', false, committedSeen),
      await consume('rc-default', 'mixed', undefined, defaultSeen),
      await consume('ru', 'mixed', true, uncommittedSeen),
    ]
    try {
      for (const [seen, what] of [[committedSeen, 'read_committed'], [defaultSeen, 'default'], [uncommittedSeen, 'read_uncommitted']] as const) {
        await waitFor(() => seen.some((s) => s.value === 'end'), `${what} reaching the end`)
      }
    } finally {
      for (const c of consumers) await c.disconnect()
    }
    expect(values(committedSeen)).toEqual(['p0', ...range('c1-', 60), 'p1', 'p2', 'B1', 'p3', 'B2', 'end'])
    expect(values(defaultSeen)).toEqual(values(committedSeen))
    expect(values(uncommittedSeen)).toEqual(['p0', ...range('c1-', 60), 'p1', ...range('a2-', 60), 'p2', 'A1', 'B1', 'p3', 'A2', 'B2', 'end'])
  })

  it('an open transaction holds a read_committed consumer at the last stable offset until it commits', async () => {
    const plain = log.producer()
    const txp = log.producer({ transactionalId: 'holder' })
    const committedSeen: Seen[] = []
    const uncommittedSeen: Seen[] = []
    const committed = await consume('open-rc', 'open', false, committedSeen)
    const uncommitted = await consume('open-ru', 'open', true, uncommittedSeen)
    try {
      await plain.send({ topic: 'open', messages: [{ value: 'before', partition: 0 }] })
      await waitFor(() => values(committedSeen).includes('before'), 'read_committed reading the first record')

      const tx = await txp.transaction()
      await tx.send({ topic: 'open', messages: [{ value: 'in-txn', partition: 0 }] })
      await plain.send({ topic: 'open', messages: [{ value: 'after-open', partition: 0 }] })
      // read_uncommitted reads on past the open transaction: the records are below the high watermark.
      await waitFor(() => values(uncommittedSeen).includes('after-open'), 'read_uncommitted reading past the open transaction')
      // A record in the other partition, written later, reaches read_committed: it is polling, and still
      // holds partition 0 at the open transaction's first offset.
      await plain.send({ topic: 'open', messages: [{ value: 'other-partition', partition: 1 }] })
      await waitFor(() => values(committedSeen).includes('other-partition'), 'read_committed reading the other partition')
      await sleep(500)
      expect(committedSeen.filter((s) => s.partition === 0).map((s) => s.value)).toEqual(['before'])

      await tx.commit()
      await waitFor(() => values(committedSeen).includes('after-open'), 'read_committed reading on after the commit')
      expect(committedSeen.filter((s) => s.partition === 0).map((s) => s.value)).toEqual(['before', 'in-txn', 'after-open'])
      expect(uncommittedSeen.filter((s) => s.partition === 0).map((s) => s.value)).toEqual(['before', 'in-txn', 'after-open'])
    } finally {
      await committed.disconnect()
      await uncommitted.disconnect()
    }
  })
})
