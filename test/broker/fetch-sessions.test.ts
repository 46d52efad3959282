/**
 * Fetch sessions (KIP-227) over a real socket, the way Kafka's Java consumer drives them
 * (FetchSessionHandler): a full fetch with epoch 0 opens a session, incremental fetches name
 * only changed positions and get only changed partitions, forgotten partitions leave, a wrong
 * epoch or an unknown session is a top-level error. Plus the cache's eviction rule on a fake
 * clock, and golden bytes for the error answer.
 */
import { Buffer } from 'node:buffer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FetchSessionCache, type AnsweredPartition } from '../../src/broker/fetch-sessions.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { ZERO_UUID } from '../../src/protocol/primitives.js'
import { decodeRecordSet } from './fetch-all.js'
import { RawClient } from './raw-client.js'
import { startTestBroker, type TestBroker } from './test-broker.js'

interface Partition { partitionIndex: number; errorCode: number; highWatermark: number; records: Buffer | null }
interface FetchResult { errorCode: number; sessionId: number; responses: { topic: string; partitions: Partition[] }[] }

const TOPIC = 'sessions'
const VERSION = 12
let broker: TestBroker
let client: RawClient

beforeAll(async () => {
  broker = await startTestBroker({ maxIncrementalFetchSessionCacheSlots: 2 })
  await broker.server.context.createTopic(TOPIC, 3)
  client = await RawClient.connect(broker.port)
})

afterAll(async () => {
  client?.close()
  await broker?.destroy()
})

async function append(partition: number, ...values: string[]): Promise<void> {
  await broker.server.context.engine.appendRecords(TOPIC, partition, values.map((v) => ({ key: null, value: Buffer.from(v), headers: [], timestamp: Date.now() })), { acks: -1, compression: 0 })
}

interface FetchArgs {
  sessionId: number
  sessionEpoch: number
  partitions?: { partition: number; fetchOffset: number }[]
  forget?: number[]
  maxWaitMs?: number
  minBytes?: number
}

function fetch(args: FetchArgs, via: RawClient = client): Promise<FetchResult> {
  const partitions = args.partitions ?? []
  return via.request<FetchResult>(1, VERSION, {
    replicaId: -1, maxWaitMs: args.maxWaitMs ?? 0, minBytes: args.minBytes ?? 0, maxBytes: 1 << 20, isolationLevel: 0,
    sessionId: args.sessionId, sessionEpoch: args.sessionEpoch,
    topics: partitions.length === 0 ? [] : [{ topic: TOPIC, topicId: ZERO_UUID, partitions: partitions.map((p) => ({ partition: p.partition, fetchOffset: p.fetchOffset, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, lastFetchedEpoch: -1, logStartOffset: -1 })) }],
    forgottenTopicsData: args.forget ? [{ topic: TOPIC, topicId: ZERO_UUID, partitions: args.forget }] : [],
    rackId: '',
  })
}

function answered(r: FetchResult): [number, number, string[]][] {
  return r.responses.flatMap((t) => t.partitions.map((p): [number, number, string[]] =>
    [p.partitionIndex, p.highWatermark, decodeRecordSet(1, p.records).map((rec) => rec.value?.toString() ?? '')]))
}

describe('fetch sessions on the wire', () => {
  it('a full fetch opens a session; incremental fetches answer only what changed, forget partitions, and long-poll', async () => {
    const ends = [0, 1, 2].map((p) => broker.server.context.engine.offsets(TOPIC, p)!.highWatermark)
    const all = [0, 1, 2].map((p) => ({ partition: p, fetchOffset: ends[p] }))
    const full = await fetch({ sessionId: 0, sessionEpoch: 0, partitions: all })
    expect(full.errorCode).toBe(0)
    expect(full.sessionId).toBeGreaterThan(0)
    expect(answered(full).map(([p]) => p)).toEqual([0, 1, 2])
    const id = full.sessionId

    // Nothing changed: an incremental fetch naming nothing gets nothing.
    expect(answered(await fetch({ sessionId: id, sessionEpoch: 1 }))).toEqual([])

    // New records in partition 1 only: only partition 1 comes back, from the cached position.
    await append(1, 'a', 'b')
    const inc = await fetch({ sessionId: id, sessionEpoch: 2 })
    expect(inc.sessionId).toBe(id)
    expect(answered(inc)).toEqual([[1, ends[1] + 2, ['a', 'b']]])

    // The client moves partition 1's position; nothing else changed.
    expect(answered(await fetch({ sessionId: id, sessionEpoch: 3, partitions: [{ partition: 1, fetchOffset: ends[1] + 2 }] }))).toEqual([])

    // Partition 2 forgotten: its new records are not read.
    await append(2, 'x')
    expect(answered(await fetch({ sessionId: id, sessionEpoch: 4, forget: [2] }))).toEqual([])
    expect(broker.server.fetchSessions.get(id)?.size).toBe(2)

    // A long poll on the session wakes for an append to a session partition and answers it alone.
    const poll = fetch({ sessionId: id, sessionEpoch: 5, maxWaitMs: 10_000, minBytes: 1 })
    await append(0, 'late')
    const woke = await poll
    expect(answered(woke)).toEqual([[0, ends[0] + 1, ['late']]])
  })

  it('a wrong epoch is INVALID_FETCH_SESSION_EPOCH, an unknown id FETCH_SESSION_ID_NOT_FOUND, epoch -1 closes the session', async () => {
    const full = await fetch({ sessionId: 0, sessionEpoch: 0, partitions: [{ partition: 0, fetchOffset: 0 }] })
    const id = full.sessionId
    expect(id).toBeGreaterThan(0)
    const wrong = await fetch({ sessionId: id, sessionEpoch: 7 })
    expect([wrong.errorCode, wrong.sessionId, wrong.responses]).toEqual([ErrorCode.INVALID_FETCH_SESSION_EPOCH, 0, []])
    // The session survives a wrong epoch: the right one still works.
    expect((await fetch({ sessionId: id, sessionEpoch: 1 })).errorCode).toBe(0)
    // Final epoch: the session closes and the fetch is answered sessionless.
    const closing = await fetch({ sessionId: id, sessionEpoch: -1, partitions: [{ partition: 0, fetchOffset: 0 }] })
    expect([closing.errorCode, closing.sessionId, answered(closing).length]).toEqual([0, 0, 1])
    const gone = await fetch({ sessionId: id, sessionEpoch: 2 })
    expect(gone.errorCode).toBe(ErrorCode.FETCH_SESSION_ID_NOT_FOUND)
  })

  it('a session outlives its connection (a client may reconnect)', async () => {
    const first = await RawClient.connect(broker.port)
    const full = await fetch({ sessionId: 0, sessionEpoch: 0, partitions: [{ partition: 0, fetchOffset: 0 }] }, first)
    first.close()
    const again = await fetch({ sessionId: full.sessionId, sessionEpoch: 1 })
    expect([again.errorCode, again.sessionId]).toEqual([0, full.sessionId])
  })

  it('a full cache (2 slots here) opens no session for a consumer no larger than the ones it holds', async () => {
    const sizes: number[] = []
    for (let i = 0; i < 3; i++) {
      const r = await fetch({ sessionId: 0, sessionEpoch: 0, partitions: [{ partition: 0, fetchOffset: 0 }] })
      sizes.push(r.sessionId)
    }
    expect(broker.server.fetchSessions.size).toBe(2)
    expect(sizes[2]).toBe(0)
  })

  it('golden bytes: an incremental Fetch v7 frame for an unknown session gets the exact error answer', async () => {
    // Fetch v7 request, correlation id 0x2a, client id "g", written out field by field.
    const request = Buffer.from([
      0x00, 0x01, 0x00, 0x07, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x01, 0x67, // api key 1, v7, correlation 42, client "g"
      0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // replica -1, max wait 0, min bytes 1
      0x00, 0x10, 0x00, 0x00, 0x00, // max bytes 1 MiB, isolation 0
      0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x00, 0x03, // session 0x12345678, epoch 3
      0x00, 0x00, 0x00, 0x00, // no topics
      0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x74, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, // forget topic "t" partition 2
    ])
    const frame = Buffer.concat([Buffer.from([0, 0, 0, request.length]), request])
    const response = await client.send(frame)
    expect(response.toString('hex')).toBe([
      '0000002a', // correlation id
      '00000000', // throttle
      '0046', // FETCH_SESSION_ID_NOT_FOUND (70)
      '00000000', // session id 0
      '00000000', // no topics
    ].join(''))
  })
})

describe('FetchSessionCache eviction (Kafka rule, fake clock)', () => {
  const target = (partition: number): AnsweredPartition => ({
    target: { topic: { topic: 't', topicId: ZERO_UUID }, partition: { partition, fetchOffset: 0, partitionMaxBytes: 1, currentLeaderEpoch: -1, lastFetchedEpoch: -1, logStartOffset: -1 } },
    errorCode: 0, highWatermark: 0, logStartOffset: 0, range: null,
  })
  const parts = (n: number): AnsweredPartition[] => Array.from({ length: n }, (_, i) => target(i))

  it('takes a stale slot first, else a smaller consumer session older than the eviction time; followers outrank consumers', () => {
    let now = 0
    const cache = new FetchSessionCache({ slots: 2, evictionMs: 1000, now: () => now })
    const a = cache.create(parts(5), false, false)
    const b = cache.create(parts(3), false, false)
    expect(a).toBeGreaterThan(0)
    expect(b).toBeGreaterThan(0)
    // Full, both young: a larger consumer session may not evict yet.
    now = 500
    expect(cache.create(parts(10), false, false)).toBe(0)
    // A follower may evict the smallest consumer session at once.
    const follower = cache.create(parts(1), true, false)
    expect(follower).toBeGreaterThan(0)
    expect(cache.get(b)).toBeUndefined()
    expect(cache.evictions).toBe(1)
    // Past the eviction time, with `a` used recently: the follower session, unused longest, is stale and goes first.
    now = 1200
    cache.open({ sessionId: a, sessionEpoch: 1, topics: [], forgottenTopicsData: [] }, false)
    now = 1600
    const c = cache.create(parts(2), false, false)
    expect(c).toBeGreaterThan(0)
    expect(cache.get(follower)).toBeUndefined()
    expect(cache.get(a)).toBeDefined()
    // `a` (5 partitions, created at 0, used at 1200) is not stale; c is young: a 4-partition session cannot evict a 5.
    now = 1700
    expect(cache.create(parts(4), false, false)).toBe(0)
    // A 6-partition one evicts the smallest old-enough consumer session: `a` (c is too young).
    expect(cache.create(parts(6), false, false)).toBeGreaterThan(0)
    expect(cache.get(a)).toBeUndefined()
  })

  it('epochs advance per incremental fetch and wrap from 2^31-1 to 1', () => {
    const cache = new FetchSessionCache({ slots: 1 })
    const id = cache.create(parts(1), false, false)
    const session = cache.get(id)!
    expect(cache.open({ sessionId: id, sessionEpoch: 1, topics: [], forgottenTopicsData: [] }, false).kind).toBe('incremental')
    expect(session.epoch).toBe(2)
    session.epoch = 0x7fffffff
    cache.open({ sessionId: id, sessionEpoch: 0x7fffffff, topics: [], forgottenTopicsData: [] }, false)
    expect(session.epoch).toBe(1)
  })
})
