/**
 * Follower side of replication: one fetcher per source broker (the leader of some of this
 * broker's partitions), in the main thread, speaking Kafka's own Fetch with replica_id = this
 * node. A partition joins in 'truncating' state: it first asks the leader OffsetForLeaderEpoch
 * for its own latest epoch and truncates to the answer (KIP-101/279, never to its HW alone),
 * then fetches from its log end, appends the leader's batches verbatim (a partial trailing
 * batch is dropped: a fetch may end mid-batch) and sets its HW to min(leader HW, own LEO).
 */
import { ConnectionFrames } from '../engine/channel/follower-staging.js'
import type { LogEngine } from '../engine/log-engine.js'
import { InterBrokerConnector } from '../kafka-client/inter-broker-connection.js'
import { ApiKey, type KafkaWireClient } from '../kafka-client/kafka-wire-client.js'
import { ErrorCode } from '../protocol/error-codes.js'

const FETCH_VERSION = 12
const EPOCH_VERSION = 3
/** How long the leader may park a fetch with no new data. */
export const REPLICA_FETCH_MAX_WAIT_MS = 500
/** Defaults of replica.fetch.max.bytes and replica.fetch.response.max.bytes (the config's too). */
export const DEFAULT_REPLICA_FETCH_MAX_BYTES = 1024 * 1024
export const DEFAULT_REPLICA_FETCH_RESPONSE_MAX_BYTES = 10 * 1024 * 1024
/** Pause after an error (leader unreachable, not leader yet) before the next attempt. */
const BACKOFF_MS = 200
const BATCH_HEADER = 12
/** RecordBatch v2: lastOffsetDelta (int32) sits at byte 23 of the batch. */
const LAST_OFFSET_DELTA_AT = 23
const LAST_OFFSET_DELTA_END = LAST_OFFSET_DELTA_AT + 4

interface FetchState {
  topic: string
  partition: number
  leaderEpoch: number
  truncating: boolean
  /** The HW last written to the local log: an unchanged HW costs no round trip to the worker. */
  highWatermark: number
}

export interface ReplicaFetcherOptions {
  nodeId: number
  leaderId: number
  engine: LogEngine
  /** The leader's address as the metadata cache knows it now (undefined: not registered). */
  address(): { host: string; port: number } | undefined
  /**
   * Per partition and per request (Kafka's replica.fetch.max.bytes and
   * replica.fetch.response.max.bytes; Kafka's defaults, 1 MiB and 10 MiB, unless configured:
   * 8 MiB fetches caught up no faster in bench/cluster-failover.bench.ts on the shared host).
   */
  partitionMaxBytes?: number
  responseMaxBytes?: number
  /** How this broker connects to the leader (its listener protocol, TLS, SASL login); PLAINTEXT if not given. */
  connector?: InterBrokerConnector
  onError?(error: unknown): void
}

const key = (topic: string, partition: number): string => `${topic}/${partition}`

/** Bytes of the whole batches at the start of `records` (a fetch may end inside a batch). */
export function wholeBatchesLength(records: Buffer): number {
  let position = 0
  while (position + BATCH_HEADER <= records.length) {
    const size = BATCH_HEADER + records.readInt32BE(position + 8)
    if (size <= BATCH_HEADER || position + size > records.length) break
    position += size
  }
  return position
}

/** The offset after the last whole batch at the start of `records`, and those batches' length; undefined if none is whole. */
export function wholeBatchesEnd(records: Buffer): { length: number; nextOffset: number } | undefined {
  let position = 0
  let last = -1
  while (position + BATCH_HEADER <= records.length) {
    const size = BATCH_HEADER + records.readInt32BE(position + 8)
    if (size <= BATCH_HEADER || position + size > records.length || size < LAST_OFFSET_DELTA_END) break
    last = position
    position += size
  }
  if (last < 0) return undefined
  return { length: position, nextOffset: Number(records.readBigInt64BE(last)) + records.readInt32BE(last + LAST_OFFSET_DELTA_AT) + 1 }
}

type FetchResponse = Awaited<ReturnType<ReplicaFetcher['sendFetch']>>

export class ReplicaFetcher {
  private readonly partitions = new Map<string, FetchState>()
  private client: KafkaWireClient | undefined
  /** The connection's response frames in the engine's follower staging area (appended without a ring copy). */
  private frames: ConnectionFrames | undefined
  private closed = false
  private running: Promise<void> | undefined
  /** Set while fetched data is being applied: removal waits for it, so no append lands after a role change. */
  private applying: Promise<void> | undefined
  /** The high watermarks of the last response being written (see fetch); removal waits for it too. */
  private hwWriting: Promise<void> | undefined
  private wake: (() => void) | undefined

  private readonly connector: InterBrokerConnector

  constructor(private readonly options: ReplicaFetcherOptions) {
    this.connector = options.connector ?? new InterBrokerConnector()
  }

  get size(): number { return this.partitions.size }

  /** Follows `topic-partition` under `leaderEpoch` (truncation first). */
  addPartition(topic: string, partition: number, leaderEpoch: number): void {
    this.partitions.set(key(topic, partition), { topic, partition, leaderEpoch, truncating: true, highWatermark: -1 })
    this.wake?.()
    this.running ??= this.loop().finally(() => { this.running = undefined })
  }

  /** Stops following it; resolves once no fetched data of it is still being appended. */
  async removePartition(topic: string, partition: number): Promise<void> {
    this.partitions.delete(key(topic, partition))
    await this.applying
    await this.hwWriting?.catch(() => undefined)
  }

  async close(): Promise<void> {
    this.closed = true
    this.partitions.clear()
    this.wake?.()
    await this.client?.close().catch(() => undefined)
    await this.running
    this.frames?.releaseAll()
  }

  private async loop(): Promise<void> {
    while (!this.closed && this.partitions.size > 0) {
      try {
        const client = await this.connect()
        const truncating = [...this.partitions.values()].filter((s) => s.truncating)
        if (truncating.length > 0) await this.truncate(client, truncating)
        const fetching = [...this.partitions.values()].filter((s) => !s.truncating)
        if (fetching.length > 0) await this.fetch(client, fetching)
      } catch (error) {
        if (this.closed) return
        this.options.onError?.(error)
        await this.dropConnection()
        await this.pause()
      }
    }
  }

  private pause(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, BACKOFF_MS)
      function done(): void { clearTimeout(timer); resolve() }
      this.wake = () => { this.wake = undefined; done() }
    })
  }

  private async connect(): Promise<KafkaWireClient> {
    if (this.client && !this.client.closed) return this.client
    await this.dropConnection()
    const address = this.options.address()
    if (!address) throw new Error(`leader ${this.options.leaderId} is not registered`)
    const staging = this.options.engine.followerStaging
    const frames = staging && new ConnectionFrames(staging)
    this.client = await this.connector.connect(`${address.host}:${address.port}`, {
      clientId: `ringlog-replica-${this.options.nodeId}`, requestTimeoutMs: 10_000, directReads: true,
      ...(frames && { frameAllocator: (size: number) => frames.allocate(size) }),
    })
    this.frames = frames
    return this.client
  }

  /** Closes the connection; nothing read from it is being appended (callers are between rounds), so its frames are freed. */
  private async dropConnection(): Promise<void> {
    await this.client?.close().catch(() => undefined)
    this.client = undefined
    this.frames?.releaseAll()
    this.frames = undefined
  }

  /** The latest epoch in the local log (probing down from the leader's epoch), -1 if it has none. */
  private async latestLocalEpoch(state: FetchState): Promise<number> {
    const { engine } = this.options
    for (let epoch = state.leaderEpoch; epoch >= 0; epoch--) {
      const answer = await engine.endOffsetForEpoch(state.topic, state.partition, epoch)
      if (answer.leaderEpoch >= 0) return answer.leaderEpoch
    }
    return -1
  }

  private async truncate(client: KafkaWireClient, states: FetchState[]): Promise<void> {
    const { engine } = this.options
    const latest = new Map<FetchState, number>()
    for (const s of states) latest.set(s, await this.latestLocalEpoch(s))
    const asked = states.filter((s) => (latest.get(s) ?? -1) >= 0)
    for (const s of states) if (!asked.includes(s)) s.truncating = false // an empty or epoch-less log has nothing to cut
    if (asked.length === 0) return
    const response = await client.request(ApiKey.OffsetForLeaderEpoch, EPOCH_VERSION, {
      replicaId: this.options.nodeId,
      topics: groupByTopic(asked).map(([topic, list]) => ({
        topic,
        partitions: list.map((s) => ({ partition: s.partition, currentLeaderEpoch: s.leaderEpoch, leaderEpoch: latest.get(s) ?? -1 })),
      })),
    })
    await this.applyPhase(async () => {
      for (const t of response.topics) {
        for (const answer of t.partitions) {
          const state = this.partitions.get(key(t.topic, answer.partition))
          if (!state?.truncating) continue
          if (answer.errorCode !== ErrorCode.NONE) continue // not leader yet: asked again next round
          const own = engine.offsets(state.topic, state.partition)
          if (!own) continue
          let target = answer.endOffset
          if (target < 0) target = own.highWatermark
          // KIP-279: the leader answered an older epoch; cut where our own copy of that epoch ends too.
          if (answer.leaderEpoch >= 0 && answer.leaderEpoch < (latest.get(state) ?? -1)) {
            const ours = await engine.endOffsetForEpoch(state.topic, state.partition, answer.leaderEpoch)
            if (ours.endOffset >= 0) target = Math.min(target, ours.endOffset)
          }
          if (target < own.logEndOffset) await engine.truncateTo(state.topic, state.partition, Math.max(target, own.logStartOffset))
          state.truncating = false
          state.highWatermark = -1
        }
      }
    })
    if (asked.some((s) => s.truncating)) await this.pause()
  }

  /**
   * Fetch rounds for `states`. While every partition is still below the leader's high watermark
   * after the data in hand, the next Fetch (from the offset that data ends at) is sent before
   * that data is appended, so the network and the local append overlap. Only below the HW: a
   * fetch offset tells the leader what this replica holds, and one below the HW moves neither
   * the HW nor the ISR (an expansion needs the HW reached), so claiming it a little early is
   * harmless (docs/replication.md; test/cluster/replica-fetcher-pipeline.test.ts). At the HW
   * the next Fetch goes out once the data is appended (it reports the new log end, which moves
   * the leader's HW: the acks=all path), before the local HW is written: that write is a worker
   * round trip nobody on the leader waits for.
   */
  private async fetch(client: KafkaWireClient, states: FetchState[]): Promise<void> {
    const { engine } = this.options
    let offsets = new Map<string, number>()
    for (const s of states) offsets.set(key(s.topic, s.partition), engine.offsets(s.topic, s.partition)?.logEndOffset ?? 0)
    let pending = this.sendFetch(client, states, offsets)
    for (;;) {
      const response = await pending
      let next = this.aheadOffsets(states, offsets, response)
      let ahead = next && this.sendFetch(client, states, next)
      ahead?.catch(() => undefined) // awaited below, or dropped when the set of partitions changed
      const { failures, moved, highWatermarks } = await this.applyFetched(response, offsets)
      // New partitions, removals or truncations are handled by the outer loop.
      const changed = this.closed || this.partitions.size !== states.length || states.some((s) => s.truncating || this.partitions.get(key(s.topic, s.partition)) !== s)
      if (!ahead && !changed && failures === 0 && !moved) {
        next = new Map()
        for (const s of states) next.set(key(s.topic, s.partition), engine.offsets(s.topic, s.partition)?.logEndOffset ?? 0)
        ahead = this.sendFetch(client, states, next)
        ahead.catch(() => undefined)
      }
      // Beside the next round's append (control channel vs ring), after the last round's writes.
      await this.settleHighWatermarks()
      const writing = this.writeHighWatermarks(highWatermarks)
      writing.catch(() => undefined) // awaited next round or below
      this.hwWriting = writing
      if (!ahead || !next || changed || moved) {
        await this.settleHighWatermarks()
        if (failures > 0 && failures === states.length) await this.pause()
        return
      }
      offsets = next
      pending = ahead
    }
  }

  private sendFetch(client: KafkaWireClient, states: readonly FetchState[], offsets: ReadonlyMap<string, number>) {
    return client.request(ApiKey.Fetch, FETCH_VERSION, {
      replicaId: this.options.nodeId,
      maxWaitMs: REPLICA_FETCH_MAX_WAIT_MS,
      minBytes: 1,
      maxBytes: this.options.responseMaxBytes ?? DEFAULT_REPLICA_FETCH_RESPONSE_MAX_BYTES,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: groupByTopic(states).map(([topic, list]) => ({
        topic,
        partitions: list.map((s) => ({
          partition: s.partition, currentLeaderEpoch: s.leaderEpoch, fetchOffset: offsets.get(key(s.topic, s.partition)) ?? 0,
          lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: this.options.partitionMaxBytes ?? DEFAULT_REPLICA_FETCH_MAX_BYTES,
        })),
      })),
      forgottenTopicsData: [],
      rackId: '',
    }, { timeoutMs: REPLICA_FETCH_MAX_WAIT_MS + 10_000 })
  }

  /**
   * Where each partition's log will end once `response` is appended, when every partition got
   * data without error and still ends below the leader's HW; undefined otherwise (no fetch ahead).
   */
  private aheadOffsets(states: readonly FetchState[], offsets: ReadonlyMap<string, number>, response: FetchResponse): Map<string, number> | undefined {
    const next = new Map<string, number>()
    for (const t of response.responses) {
      for (const p of t.partitions) {
        const k = key(t.topic, p.partitionIndex)
        const from = offsets.get(k)
        if (from === undefined || p.errorCode !== ErrorCode.NONE || !p.records) return undefined
        const end = wholeBatchesEnd(p.records)
        if (end === undefined || end.nextOffset <= from || end.nextOffset >= p.highWatermark) return undefined
        next.set(k, end.nextOffset)
      }
    }
    return next.size === states.length ? next : undefined
  }

  /**
   * Appends one response's data (fetched from `offsets`): the number of partitions answered with
   * an error, whether some partition's log had moved under the fetch (it was not appended), and
   * the high watermarks to write once the next Fetch is out.
   */
  private async applyFetched(response: FetchResponse, offsets: ReadonlyMap<string, number>): Promise<{ failures: number; moved: boolean; highWatermarks: [FetchState, number][] }> {
    const { engine } = this.options
    let failures = 0
    let moved = false
    const highWatermarks: [FetchState, number][] = []
    try {
      await this.applyPhase(async () => {
      for (const t of response.responses) {
        for (const p of t.partitions) {
          const state = this.partitions.get(key(t.topic, p.partitionIndex))
          if (!state || state.truncating) continue
          const fetchedAt = offsets.get(key(state.topic, state.partition))
          const own = engine.offsets(state.topic, state.partition)
          // The log moved under us (a role change came and went, or an append ahead failed): fetch again from the new end.
          if (!own || fetchedAt === undefined || own.logEndOffset !== fetchedAt) { moved = true; continue }
          if (p.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
            if (fetchedAt < p.logStartOffset) await engine.truncateFullyAndStartAt(state.topic, state.partition, p.logStartOffset)
            else state.truncating = true
            state.highWatermark = -1
            moved = true
            continue
          }
          if (p.errorCode !== ErrorCode.NONE) { failures++; continue }
          let logEnd = own.logEndOffset
          const records = p.records
          const length = records ? wholeBatchesLength(records) : 0
          // Bound to the fetch offset: refused unless the log still ends there when the worker gets to it.
          if (records && length > 0) logEnd = (await engine.appendAsFollower(state.topic, state.partition, records.subarray(0, length), fetchedAt)).logEndOffset
          // Only a moved HW costs a worker round trip: a full fetch answers every partition, and
          // one round trip each, one after another, delayed the next fetch (and so the leader's HW).
          const hw = Math.min(p.highWatermark, logEnd)
          if (p.highWatermark >= 0 && hw !== state.highWatermark) highWatermarks.push([state, hw])
        }
      }
      })
    } finally {
      // Every append of this response has settled (they run one after another): its frame, and
      // the ones that arrived before it, may be read into again.
      this.releaseFrames(response)
    }
    return { failures, moved, highWatermarks }
  }

  private releaseFrames(response: FetchResponse): void {
    const frames = this.frames
    if (!frames) return
    for (const t of response.responses) for (const p of t.partitions) if (p.records) return frames.releaseThrough(p.records)
  }

  /** Waits for the high-watermark writes in flight; their failure is thrown once. */
  private async settleHighWatermarks(): Promise<void> {
    const writing = this.hwWriting
    try { await writing } finally { if (this.hwWriting === writing) this.hwWriting = undefined }
  }

  /** Writes the high watermarks a response brought, of partitions still followed in the same state. */
  private async writeHighWatermarks(highWatermarks: readonly [FetchState, number][]): Promise<void> {
    if (highWatermarks.length === 0) return
    const { engine } = this.options
    for (const [state, hw] of highWatermarks) {
      if (state.truncating || this.partitions.get(key(state.topic, state.partition)) !== state) continue
      await engine.setHighWatermark(state.topic, state.partition, hw)
      state.highWatermark = hw
    }
  }

  private async applyPhase(work: () => Promise<void>): Promise<void> {
    const run = work()
    this.applying = run.catch(() => undefined)
    try { await run } finally { this.applying = undefined }
  }
}

function groupByTopic(states: readonly FetchState[]): [string, FetchState[]][] {
  const byTopic = new Map<string, FetchState[]>()
  for (const s of states) {
    const list = byTopic.get(s.topic)
    if (list) list.push(s)
    else byTopic.set(s.topic, [s])
  }
  return [...byTopic]
}
