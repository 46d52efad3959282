/**
 * The replica fetcher's catch-up pipeline (src/cluster/replica-fetcher.ts, docs/replication.md)
 * against a scripted leader on loopback that serves a real engine's log: while far behind, the
 * next Fetch goes out before the data in hand is appended, so the leader hears an offset the
 * follower's log does not hold yet. These tests check the rule that keeps that safe: such an
 * offset is always below the HW the leader reported, so the leader's own bookkeeping
 * (LeaderReplica: HW over the ISR, ISR expansion at the HW) never counts data the follower lacks;
 * and that a role change or an error mid-pipeline leaves the follower's log identical to the
 * leader's, batch by batch. The follower's appends are slowed (each posted 3 ms late, in order),
 * so fetches ahead of the local log really happen. Batch sizes come from a seeded generator.
 */
import { closeSync, readSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { LeaderReplica } from '../../src/cluster/leader-replica.js'
import { ReplicaFetcher } from '../../src/cluster/replica-fetcher.js'
import type { LogEngine } from '../../src/engine/log-engine.js'
import type { PartitionRouter } from '../../src/engine/main/router.js'
import { ApiKey } from '../../src/kafka-client/kafka-wire-client.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { FrameDecoder } from '../../src/protocol/frame.js'
import { decodeRequestHeader, encodeResponseHeader, responseHeaderVersion } from '../../src/protocol/headers.js'
import type { FetchRequest } from '../../src/protocol/messages/fetch.js'
import { API_CODECS } from '../../src/protocol/messages/index.js'
import { Reader, Writer } from '../../src/protocol/primitives.js'
import { encodeRecordBatch, readBatchHeader, splitBatches } from '../../src/protocol/record-batch.js'
import { Fixture } from '../engine/helpers.js'
import { seededRandom, testSeed } from '../seed.js'

const T = 'pipe'
const LEADER = 1
const FOLLOWER = 2
const OTHER = 3
const SEED = testSeed()
console.log(`replica-fetcher-pipeline.test seed=${SEED} (replay: RINGLOG_SEED=${SEED})`)

const fixture = new Fixture()
const servers: Server[] = []
const fetchers: ReplicaFetcher[] = []
afterEach(async () => {
  for (const f of fetchers.splice(0)) await f.close()
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve))
  await fixture.cleanup()
})

/** The leader engine with `count` batches of 1-8 KiB records (partition leader epoch 0). */
async function leaderLog(count: number, seed: number): Promise<PartitionRouter> {
  const next = seededRandom(seed).next
  const a = fixture.engine({ dataDir: fixture.dir(), maxWorkers: 1 })
  await a.openPartition(T, 0, { segmentBytes: 1 << 20 })
  await a.setLeaderEpoch(T, 0, 0)
  for (let i = 0; i < count; i++) {
    const records = Array.from({ length: 1 + Math.floor(next() * 4) }, (_, j) => ({ key: `k${i}-${j}`, value: 'v'.repeat(1024 + Math.floor(next() * 7 * 1024)), timestamp: 1_700_000_000_000 }))
    const result = await a.appendBatches(T, 0, encodeRecordBatch({ records }), 1)
    expect(result.errorCode).toBe(ErrorCode.NONE)
  }
  return a
}

async function followerEngine(): Promise<PartitionRouter> {
  const b = fixture.engine({ dataDir: fixture.dir(), maxWorkers: 1 })
  await b.openPartition(T, 0, { segmentBytes: 1 << 20 })
  await b.setHighWatermark(T, 0, 0)
  return b
}

/** Every batch up to the log end (not the HW): base offset, last offset and CRC. */
async function identities(engine: PartitionRouter): Promise<{ base: number; last: number; crc: number }[]> {
  const out: { base: number; last: number; crc: number }[] = []
  let offset = engine.offsets(T, 0)!.logStartOffset
  for (let round = 0; round < 100_000; round++) {
    const slice = await engine.read(T, 0, offset, 1 << 20, { upTo: 'logEnd', holdFile: true })
    if (!slice.segment) break
    const bytes = Buffer.alloc(slice.segment.length)
    try { readSync(slice.segment.heldFd!, bytes, 0, bytes.length, slice.segment.position) } finally { closeSync(slice.segment.heldFd!) }
    for (const b of splitBatches(bytes).batches) {
      const h = readBatchHeader(bytes, b.offset)
      out.push({ base: h.baseOffset, last: h.baseOffset + h.lastOffsetDelta, crc: h.crc })
    }
    offset = slice.segment.nextOffset!
  }
  return out
}

/**
 * The follower's engine with each follower append posted `delayMs` late (in order), so its log
 * lags the fetches; `onAppend(n)` runs as the n-th append is asked for, before it is posted.
 */
function slowAppends(engine: PartitionRouter, delayMs: number, onAppend?: (n: number) => void): LogEngine {
  let appends = 0
  return new Proxy(engine, {
    get(target, property) {
      if (property === 'appendAsFollower') {
        return (topic: string, partition: number, batches: Buffer, expected?: number) => {
          onAppend?.(++appends)
          return new Promise((resolve) => setTimeout(resolve, delayMs)).then(() => target.appendAsFollower(topic, partition, batches, expected))
        }
      }
      const value = Reflect.get(target, property)
      return typeof value === 'function' ? value.bind(target) : value
    },
  }) as unknown as LogEngine
}

interface SeenFetch { offset: number; followerLogEnd: number; highWatermark: number; highWatermarkAfter: number; isrBefore: number[] }

interface ScriptedLeader {
  port: number
  fetches: SeenFetch[]
  replica: LeaderReplica
  /** ISR changes the leader made, with the follower's log end at that moment. */
  joins: { followerLogEnd: number; highWatermark: number }[]
}

/**
 * A leader on loopback serving `a`'s log: ApiVersions, OffsetForLeaderEpoch, Fetch. Each fetch
 * goes through a real LeaderReplica (HW over the ISR, ISR expansion), which starts with the ISR
 * {leader, OTHER} (and the follower with `followerInIsr`) and the HW at `initialHw`; OTHER's log
 * end is `otherLogEnd`. `hook` may answer a fetch itself (an error) by returning a partition
 * error code.
 */
async function scriptedLeader(a: PartitionRouter, follower: PartitionRouter, options: { otherLogEnd: number; initialHw?: number; followerInIsr?: boolean; hook?: (n: number) => number | undefined }): Promise<ScriptedLeader> {
  const { otherLogEnd, hook } = options
  const isr = options.followerInIsr ? [LEADER, FOLLOWER, OTHER] : [LEADER, OTHER]
  const replica = new LeaderReplica(0, isr, [LEADER, FOLLOWER, OTHER], LEADER, options.initialHw ?? 0, Date.now())
  replica.recordFetch(OTHER, otherLogEnd, a.offsets(T, 0)!.logEndOffset, Date.now())
  replica.advanceHighWatermark(a.offsets(T, 0)!.logEndOffset)
  const seen: ScriptedLeader = { port: 0, fetches: [], replica, joins: [] }
  const answer = async (socket: Socket, frame: Buffer): Promise<void> => {
    const r = new Reader(frame)
    const header = decodeRequestHeader(r)
    const codec = API_CODECS.get(header.apiKey)!
    const body = codec.decodeRequest(r, header.apiVersion) as unknown
    let response: Record<string, unknown>
    if (header.apiKey === ApiKey.ApiVersions) {
      response = { errorCode: 0, throttleTimeMs: 0, apiKeys: [{ apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 3 }, { apiKey: ApiKey.Fetch, minVersion: 12, maxVersion: 12 }, { apiKey: ApiKey.OffsetForLeaderEpoch, minVersion: 3, maxVersion: 3 }], supportedFeatures: [], finalizedFeaturesEpoch: -1, finalizedFeatures: [], zkMigrationReady: false }
    } else if (header.apiKey === ApiKey.OffsetForLeaderEpoch) {
      const end = await a.endOffsetForEpoch(T, 0, 0)
      response = { throttleTimeMs: 0, topics: [{ topic: T, partitions: [{ errorCode: 0, partition: 0, leaderEpoch: end.leaderEpoch, endOffset: end.endOffset }] }] }
    } else {
      const request = body as FetchRequest
      const p = request.topics[0].partitions[0]
      const now = Date.now()
      const leaderEnd = a.offsets(T, 0)!.logEndOffset
      const fetch: SeenFetch = { offset: p.fetchOffset, followerLogEnd: follower.offsets(T, 0)!.logEndOffset, highWatermark: replica.hw, highWatermarkAfter: -1, isrBefore: [...replica.isr] }
      seen.fetches.push(fetch)
      const failed = hook?.(seen.fetches.length)
      replica.recordFetch(FOLLOWER, p.fetchOffset, leaderEnd, now)
      replica.advanceHighWatermark(leaderEnd)
      fetch.highWatermarkAfter = replica.hw
      const isr = replica.proposedIsr(now, 30_000)
      if (isr) {
        replica.isr = isr
        if (isr.includes(FOLLOWER)) seen.joins.push({ followerLogEnd: follower.offsets(T, 0)!.logEndOffset, highWatermark: replica.hw })
      }
      let records: Buffer | null = null
      if (failed === undefined && p.fetchOffset < leaderEnd) {
        const slice = await a.read(T, 0, p.fetchOffset, p.partitionMaxBytes, { upTo: 'logEnd', holdFile: true })
        if (slice.segment) {
          records = Buffer.alloc(slice.segment.length)
          try { readSync(slice.segment.heldFd!, records, 0, records.length, slice.segment.position) } finally { closeSync(slice.segment.heldFd!) }
        }
      }
      response = {
        throttleTimeMs: 0, errorCode: 0, sessionId: 0, nodeEndpoints: [],
        responses: [{ topic: T, topicId: '', partitions: [{
          partitionIndex: 0, errorCode: failed ?? 0, highWatermark: replica.hw, lastStableOffset: replica.hw, logStartOffset: 0,
          divergingEpoch: { epoch: -1, endOffset: -1 }, currentLeader: { leaderId: -1, leaderEpoch: -1 }, snapshotId: { endOffset: -1, epoch: -1 },
          abortedTransactions: null, preferredReadReplica: -1, records,
        }] }],
      }
      // An empty answer at the log end: the real leader parks it up to maxWaitMs.
      if (!records && failed === undefined) await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const w = new Writer()
    w.int32(0)
    encodeResponseHeader(w, responseHeaderVersion(header.apiKey, header.apiVersion), header.correlationId)
    codec.encodeResponse(w, header.apiVersion, response as never)
    w.setInt32(0, w.length - 4)
    socket.write(Buffer.from(w.finish()))
  }
  const server = createServer((socket) => {
    const decoder = new FrameDecoder()
    let queue = Promise.resolve()
    socket.on('error', () => undefined)
    // One request at a time per connection, in order, as a broker answers them.
    socket.on('data', (chunk) => {
      let frames: Buffer[]
      try { frames = decoder.push(chunk) } catch { socket.destroy(); return } // not Kafka's framing (a stray client): drop it, as a broker does
      for (const frame of frames) queue = queue.then(() => answer(socket, frame)).catch(() => { socket.destroy() })
    })
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  seen.port = address.port
  return seen
}

function startFetcher(port: number, engine: LogEngine, leaderEpoch = 0): ReplicaFetcher {
  const fetcher = new ReplicaFetcher({
    nodeId: FOLLOWER, leaderId: LEADER, engine, address: () => ({ host: '127.0.0.1', port }),
    partitionMaxBytes: 24 * 1024, responseMaxBytes: 1 << 20,
  })
  fetchers.push(fetcher)
  fetcher.addPartition(T, 0, leaderEpoch)
  return fetcher
}

/** Event-driven wait (bounded by count and time) until `done` holds, checked after each fetch the leader sees. */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000
  for (let i = 0; i < 60_000 && !done(); i++) {
    if (Date.now() > deadline) break
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  if (!done()) throw new Error(`timed out: ${what}`)
}

/** The pipeline's safety rule, checked on every fetch the leader saw. */
function expectNoClaimAtOrPastTheHw(fetches: readonly SeenFetch[]): void {
  const ahead = fetches.filter((f) => f.offset > f.followerLogEnd)
  // The slowed appends make fetches ahead of the local log happen (else this checks nothing).
  expect(ahead.length).toBeGreaterThan(3)
  for (const f of ahead) expect(f.offset, JSON.stringify(f)).toBeLessThan(f.highWatermark)
}

describe('replica fetcher pipeline (far behind the leader)', () => {
  it('fetches ahead of its log only below the HW: the leader never counts data it lacks, and it joins the ISR only once its log holds the HW', async () => {
    const a = await leaderLog(160, SEED)
    const leaderEnd = a.offsets(T, 0)!.logEndOffset
    const b = await followerEngine()
    // The HW sits below the leader's log end (OTHER lags): the last stretch past it goes one fetch at a time.
    const hw = Math.floor(leaderEnd * 0.8)
    const leader = await scriptedLeader(a, b, { otherLogEnd: hw })
    expect(leader.replica.hw).toBe(hw)
    startFetcher(leader.port, slowAppends(b, 3))
    await until(() => b.offsets(T, 0)!.logEndOffset === leaderEnd, 'the follower caught up')
    expectNoClaimAtOrPastTheHw(leader.fetches)
    // The HW never moved on a claim (OTHER holds it back), and the follower joined the ISR only with its log at the HW or past it.
    expect(leader.replica.hw).toBe(hw)
    expect(leader.joins.length).toBe(1)
    expect(leader.joins[0].followerLogEnd).toBeGreaterThanOrEqual(leader.joins[0].highWatermark)
    for (const f of leader.fetches.filter((x) => x.isrBefore.includes(FOLLOWER))) expect(f.followerLogEnd).toBeGreaterThanOrEqual(hw)
    expect(await identities(b)).toEqual(await identities(a))
  })

  it('still in the ISR while far behind (restarted within the lag time), its claims never move the HW past what its log holds', async () => {
    const a = await leaderLog(160, SEED + 1)
    const leaderEnd = a.offsets(T, 0)!.logEndOffset
    const b = await followerEngine()
    // The HW at 40% of the log; OTHER holds it all: from there the HW is the follower's claims.
    const leader = await scriptedLeader(a, b, { otherLogEnd: leaderEnd, initialHw: Math.floor(leaderEnd * 0.4), followerInIsr: true })
    startFetcher(leader.port, slowAppends(b, 3))
    await until(() => b.offsets(T, 0)!.logEndOffset === leaderEnd, 'the follower caught up')
    expectNoClaimAtOrPastTheHw(leader.fetches)
    for (const f of leader.fetches) expect(f.highWatermarkAfter, JSON.stringify(f)).toBeLessThanOrEqual(Math.max(f.highWatermark, f.followerLogEnd))
    expect(leader.fetches.some((f) => f.highWatermarkAfter > f.highWatermark)).toBe(true)
    expect(await identities(b)).toEqual(await identities(a))
  })

  it('a leader change mid-pipeline (removal, then a new leader under a new epoch) and a refused fetch leave identical logs, batch by batch', async () => {
    const a = await leaderLog(160, SEED + 2)
    const leaderEnd = a.offsets(T, 0)!.logEndOffset
    const b = await followerEngine()
    // The first leader refuses fetch 6 once (NOT_LEADER_OR_FOLLOWER): the pipeline drains, pauses, goes on.
    const first = await scriptedLeader(a, b, { otherLogEnd: leaderEnd, hook: (n) => (n === 6 ? ErrorCode.NOT_LEADER_OR_FOLLOWER : undefined) })
    // The role change as cluster-node makes it, while the 12th append is on its way to the log:
    // removal resolves once nothing fetched is still being appended.
    let removing: Promise<void> | undefined
    // (A tick later, as an etcd watch event would come: not from inside the fetcher's own call.)
    const fetcher: ReplicaFetcher = startFetcher(first.port, slowAppends(b, 3, (n) => { if (n === 12) setImmediate(() => { removing = fetcher.removePartition(T, 0) }) }))
    await until(() => removing !== undefined, 'the 12th append')
    await removing
    const atRemoval = b.offsets(T, 0)!.logEndOffset
    expect(atRemoval).toBeLessThan(leaderEnd)
    const prefix = await identities(b)
    expect(prefix).toEqual((await identities(a)).slice(0, prefix.length))
    expect(prefix.at(-1)!.last + 1).toBe(atRemoval)
    const seenAtRemoval = first.fetches.length
    await fetcher.close()
    expect(b.offsets(T, 0)!.logEndOffset).toBe(atRemoval)
    expect(first.fetches.length).toBeLessThanOrEqual(seenAtRemoval + 1)
    expectNoClaimAtOrPastTheHw(first.fetches)

    // The new leader (same log, epoch 1) takes over: truncation check first, then the rest.
    const second = await scriptedLeader(a, b, { otherLogEnd: leaderEnd })
    startFetcher(second.port, slowAppends(b, 3), 1)
    await until(() => b.offsets(T, 0)!.logEndOffset === leaderEnd, 'the follower caught up with the new leader')
    expect(second.fetches[0].offset).toBe(atRemoval)
    expect(await identities(b)).toEqual(await identities(a))
  })
})
