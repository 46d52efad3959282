/**
 * read_committed Fetch leaves aborted transactions' data batches out (aborted-batch-skip.ts):
 * a log of committed and aborted kafkajs transactions (the aborted ones several batches long)
 * is read over real sockets:
 * - raw Fetch v11: a whole-log read_committed response holds no aborted data batch and an
 *   empty aborted list (without the change it holds them all and lists the transactions);
 *   read at every partitionMaxBytes from one batch up (responses cut inside an aborted
 *   transaction, transactions spanning fetches, ranges wholly aborted), every fetch advances
 *   and Kafka's client rule yields exactly the committed records; a range of one aborted batch
 *   is sent with its transaction listed;
 * - kafkajs and librdkafka (confluent-kafka and kcat) read_committed consumers, with default and
 *   with tiny fetch sizes, see exactly the committed records, in order. (kafka-python 2.0 has no
 *   isolation_level: it reads read_uncommitted only, which this does not touch.)
 */
import { execFile, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import kafkajs from 'kafkajs'
import { RawClient } from '../broker/raw-client.js'
import { startTestBroker, type TestBroker } from '../broker/test-broker.js'
import { decodeRecordBatch, readBatchHeader, splitBatches } from '../../src/protocol/record-batch.js'
import { isControlBatch, isTransactionalBatch } from '../../src/protocol/control-records.js'

const { Kafka, logLevel } = kafkajs
const TOPIC = 'left-out'
const PYTHON = '/usr/bin/python3'
const hasConfluent = spawnSync(PYTHON, ['-c', 'import confluent_kafka']).status === 0
const hasKcat = spawnSync('kcat', ['-V']).status === 0
const READ_COMMITTED_CONSUMER = fileURLToPath(new URL('../compat/read-committed-consumer.py', import.meta.url))

interface AbortedTxn { producerId: number; firstOffset: number }
interface FetchPartition { errorCode: number; highWatermark: number; abortedTransactions: AbortedTxn[] | null; records: Buffer | null }
interface FetchResult { responses: { partitions: FetchPartition[] }[] }

let broker: TestBroker
let raw: RawClient
const committed: string[] = []
const aborted: string[] = []

const pad = (v: string): string => v.padEnd(100, '.')

beforeAll(async () => {
  broker = await startTestBroker({ transactionStateLogNumPartitions: 2 })
  raw = await RawClient.connect(broker.port)
  const kafka = new Kafka({ clientId: 'left-out', brokers: [`127.0.0.1:${broker.port}`], logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }] })
  await admin.disconnect()
  const producer = kafka.producer({ transactionalId: 'left-out-tx', idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  // Each send is one batch; aborted transactions of several batches, one at the log's middle and one before the last commit.
  const txn = async (name: string, batches: number, commit: boolean): Promise<void> => {
    const tx = await producer.transaction()
    for (let b = 0; b < batches; b++) {
      const values = Array.from({ length: 20 }, (_, i) => pad(`${name}-${b}-${i}`))
      await tx.send({ topic: TOPIC, messages: values.map((value) => ({ value })) })
      ;(commit ? committed : aborted).push(...values)
    }
    if (commit) await tx.commit()
    else await tx.abort()
  }
  await txn('c1', 1, true)
  await txn('a1', 3, false)
  await txn('c2', 2, true)
  await txn('a2', 2, false)
  await txn('a3', 1, false)
  await txn('end', 1, true)
  await producer.disconnect()
}, 60_000)

afterAll(async () => {
  raw?.close()
  await broker?.destroy()
})

async function fetchCommitted(offset: number, partitionMaxBytes: number): Promise<FetchPartition> {
  const res = await raw.request<FetchResult>(1, 11, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 1, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: TOPIC, partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes, currentLeaderEpoch: -1, logStartOffset: -1 }] }],
    forgottenTopicsData: [], rackId: '',
  })
  const p = res.responses[0]!.partitions[0]!
  expect(p.errorCode).toBe(0)
  return p
}

interface Batch { baseOffset: number; lastOffset: number; producerId: number; control: boolean; transactional: boolean; values: string[] }

function batchesOf(records: Buffer | null): Batch[] {
  if (!records || records.length === 0) return []
  return splitBatches(records).batches.map((span) => {
    const h = readBatchHeader(records, span.offset)
    const control = isControlBatch(records, span.offset)
    return {
      baseOffset: h.baseOffset, lastOffset: h.baseOffset + h.lastOffsetDelta, producerId: h.producerId, control, transactional: isTransactionalBatch(records, span.offset),
      values: control ? [] : decodeRecordBatch(records, span.offset).records.map((r) => r.value?.toString() ?? ''),
    }
  })
}

/** Reads the whole partition read_committed at `partitionMaxBytes`, applying Kafka's client rule; fails if a fetch does not advance. */
async function readAll(partitionMaxBytes: number): Promise<{ values: string[]; fetches: number; abortedValuesReceived: number }> {
  const values: string[] = []
  let offset = 0
  let fetches = 0
  let abortedValuesReceived = 0
  for (; fetches < 1000; fetches++) {
    const p = await fetchCommitted(offset, partitionMaxBytes)
    const batches = batchesOf(p.records)
    if (batches.length === 0) {
      expect(offset).toBe(p.highWatermark)
      break
    }
    const pending = [...(p.abortedTransactions ?? [])].sort((a, b) => a.firstOffset - b.firstOffset)
    const aborting = new Set<number>()
    for (const b of batches) {
      while (pending.length > 0 && pending[0]!.firstOffset <= b.lastOffset) aborting.add(pending.shift()!.producerId)
      if (b.control) aborting.delete(b.producerId)
      else if (aborting.has(b.producerId) && b.transactional) abortedValuesReceived += b.values.length
      else values.push(...b.values.filter((_, i) => b.baseOffset + i >= offset))
    }
    const next = batches[batches.length - 1]!.lastOffset + 1
    expect(next).toBeGreaterThan(offset)
    offset = next
  }
  return { values, fetches, abortedValuesReceived }
}

describe('read_committed Fetch leaves aborted data out', () => {
  it('a whole-log response holds no aborted data batch and lists no aborted transaction', async () => {
    const p = await fetchCommitted(0, 1 << 20)
    const batches = batchesOf(p.records)
    expect(batches.flatMap((b) => b.values)).toEqual(committed)
    expect(p.abortedTransactions ?? []).toEqual([])
    // Every marker is still sent: three commits and three aborts, and the offsets reach the log end.
    expect(batches.filter((b) => b.control)).toHaveLength(6)
    expect(batches[batches.length - 1]!.lastOffset + 1).toBe(p.highWatermark)
  })

  it('at every fetch size, every fetch advances and the client rule yields exactly the committed records', async () => {
    // 1: one batch per fetch (KIP-74), so some ranges are a single aborted batch; the others cut inside transactions.
    for (const size of [1, 100, 2_500, 3_000, 5_000, 7_000, 9_000, 12_000, 1 << 20]) {
      const { values, fetches } = await readAll(size)
      expect({ size, values }).toEqual({ size, values: committed })
      expect(fetches).toBeLessThan(1000)
    }
  })

  it('a range that is one aborted batch is sent, with its transaction listed, so the consumer moves past it', async () => {
    const whole = batchesOf((await fetchCommitted(0, 1 << 20)).records)
    // a1's second batch: right after c1's batch and marker, then a1's first batch (20 records).
    const at = whole[1]!.lastOffset + 1 + 20
    const p = await fetchCommitted(at, 1)
    const batches = batchesOf(p.records)
    expect(batches).toHaveLength(1)
    expect(batches[0]!.baseOffset).toBe(at)
    expect(aborted).toContain(batches[0]!.values[0])
    expect(p.abortedTransactions).toEqual([{ producerId: batches[0]!.producerId, firstOffset: whole[1]!.lastOffset + 1 }])
  })

  it('kafkajs read_committed consumers (default and 1 KiB per partition) see exactly the committed records', async () => {
    const kafka = new Kafka({ clientId: 'left-out-c', brokers: [`127.0.0.1:${broker.port}`], logLevel: logLevel.NOTHING })
    for (const maxBytesPerPartition of [1 << 20, 1024]) {
      const consumer = kafka.consumer({ groupId: `left-out-${maxBytesPerPartition}`, readUncommitted: false, maxWaitTimeInMs: 100, maxBytesPerPartition })
      const seen: string[] = []
      await consumer.connect()
      try {
        await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
        await new Promise<void>((resolve) => {
          void consumer.run({
            eachMessage: async ({ message }) => {
              seen.push(message.value?.toString() ?? '')
              if (seen.length >= committed.length) resolve()
            },
          })
        })
      } finally {
        await consumer.disconnect()
      }
      expect(seen).toEqual(committed)
    }
  }, 60_000)

  it.skipIf(!hasConfluent)('confluent-kafka (librdkafka) read_committed consumers, default and tiny fetch sizes', async () => {
    for (const fetchBytes of [1 << 20, 1]) {
      const { stdout } = await promisify(execFile)(PYTHON, [READ_COMMITTED_CONSUMER, `127.0.0.1:${broker.port}`, TOPIC, String(fetchBytes), String(committed.length)], { timeout: 60_000 })
      expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual(committed)
    }
  }, 90_000)

  it.skipIf(!hasKcat)('kcat read_committed reads exactly the committed records', async () => {
    for (const fetchBytes of [1 << 20, 1]) {
      const { stdout } = await promisify(execFile)('kcat', ['-C', '-b', `127.0.0.1:${broker.port}`, '-t', TOPIC, '-p', '0', '-o', 'beginning', '-e', '-q',
        '-X', 'isolation.level=read_committed', '-X', `fetch.message.max.bytes=${fetchBytes}`, '-f', '%s\\n'], { timeout: 60_000 })
      expect(stdout.split('\n').filter((l) => l.length > 0)).toEqual(committed)
    }
  }, 90_000)
})
