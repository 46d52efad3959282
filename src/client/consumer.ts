/**
 * The embedded consumer: kafkajs's subscribe / run (eachMessage or eachBatch) / seek / pause /
 * commitOffsets over the partition engine, with group membership through the real
 * GroupCoordinator (see group-membership.ts).
 *
 * One loop per consumer, as kafkajs runs it: (re)join when needed, then take the assigned,
 * unpaused partitions in turn, read whole batches from the segment file the engine points at,
 * decode them and hand the records over in offset order; when no partition has data, wait on
 * the engine's long-poll (woken by new data, seek, resume or stop).
 *
 * Heartbeats are sent from the loop (between messages and while waiting) and from the
 * handlers' `heartbeat()`, as kafkajs does: a consumer stuck in a handler past the session
 * timeout leaves the group and its partitions move. A rebalance is noticed by heartbeat; the
 * loop then finishes the current message, commits what was processed (with auto commit on)
 * and only then rejoins, so partitions change owners without records handled twice.
 *
 * Offsets: position = next offset to fetch; resolved = next offset to commit (one past the
 * last processed record). Start: committed offset, else earliest (fromBeginning) or latest.
 *
 * Isolation (`readUncommitted`, default false as in kafkajs): read_committed reads stop at the
 * last stable offset and drop aborted transactions' batches (aborted-batch-filter.ts);
 * read_uncommitted reads to the high watermark. Markers are never delivered.
 */
import { performance } from 'node:perf_hooks'
import { EventEmitter } from 'node:events'
import { errorForCode, InvalidRequestError, LogClosedError, RinglogError } from '../errors.js'
import type { ReadSlice } from '../engine/log-engine.js'
import { DEFAULT_MAX_DECOMPRESSED_BYTES } from '../protocol/compression.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { LOG_OVERHEAD } from '../protocol/record-batch.js'
import { GroupMembership, type JoinedGeneration } from './group-membership.js'
import { assertLogOpen, type LogHost } from './log-host.js'
import { AbortedBatchFilter } from './aborted-batch-filter.js'
import { decodeMessages, type DecodedRange } from './message-decoder.js'
import { readHeldRange, releaseHeldRange } from './segment-reader.js'
import type {
  Batch, ConsumerEvents, ConsumerOptions, EachBatchPayload, KafkaMessage, PartitionAssignerName, RunOptions,
  SubscribeOptions, TopicPartitionOffset, TopicPartitions,
} from './types.js'

const EARLIEST = -2
/** Messages decoded and handed over at a time from one read (young-generation sized). */
const DELIVERY_CHUNK_MESSAGES = 4096
const LATEST = -1

interface PartitionState {
  readonly topic: string
  readonly partition: number
  readonly key: string
  /** Next offset to fetch. */
  position: number
  /** Next offset to commit (one past the last processed record). */
  resolved: number
  /** Last committed offset (-1: none). */
  committed: number
  /** Bumped by seek: a delivery in progress for an older epoch stops. */
  epoch: number
  /** A long-poll wait in progress for this partition. */
  waiting: Promise<void> | null
  /** The next range, read ahead while the current one is handled. */
  prefetched: { from: number; result: Promise<Fetched> } | null
}

interface Fetched {
  from: number
  slice: ReadSlice
  bytes: Buffer | null
}

/** Answers that mean "this generation is over: rejoin". */
const REJOIN_CODES = new Set<number>([ErrorCode.REBALANCE_IN_PROGRESS, ErrorCode.ILLEGAL_GENERATION, ErrorCode.UNKNOWN_MEMBER_ID])

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`

function parseOffset(offset: string | number, what: string): number {
  const n = typeof offset === 'string' ? Number(offset) : offset
  if (!Number.isSafeInteger(n) || n < EARLIEST) throw new InvalidRequestError(`${what} offset must be a whole number >= 0 (or -2 earliest, -1 latest), got ${String(offset)}`)
  return n
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value <= 0) throw new InvalidRequestError(`${name} must be a positive integer, got ${value}`)
  return value
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export class Consumer {
  readonly groupId: string
  private readonly events = new EventEmitter()
  private readonly membership: GroupMembership
  private readonly heartbeatIntervalMs: number
  private readonly maxBytesPerPartition: number
  private readonly maxWaitMs: number
  private readonly retryBackoffMs: number
  /** read_committed (readUncommitted: false, the default): reads stop at the last stable offset and aborted transactions are skipped. */
  private readonly committedReads: boolean
  private autoCommit: boolean
  private autoCommitIntervalMs: number
  private readonly subscriptions = new Map<string, boolean>()
  private readonly assigned = new Map<string, PartitionState>()
  private readonly pausedTopics = new Set<string>()
  private readonly pausedPartitions = new Set<string>()
  private readonly pendingSeeks = new Map<string, number>()
  private generation: JoinedGeneration | null = null
  private needsJoin = true
  private running = false
  private disconnected = false
  private loop: Promise<void> | null = null
  private wake: (() => void) | null = null
  private lastHeartbeat = 0
  private lastCommit = 0
  private cursor = 0
  private handlers: RunOptions | null = null

  constructor(private readonly host: LogHost, options: ConsumerOptions) {
    if (!options || typeof options.groupId !== 'string' || options.groupId === '') throw new InvalidRequestError('consumer needs a non-empty groupId')
    const config = host.context.config
    const sessionTimeoutMs = positiveInteger('sessionTimeout', options.sessionTimeout, 30_000)
    if (sessionTimeoutMs < config.groupMinSessionTimeoutMs || sessionTimeoutMs > config.groupMaxSessionTimeoutMs) {
      throw new InvalidRequestError(`sessionTimeout ${sessionTimeoutMs} is outside the log's ${config.groupMinSessionTimeoutMs}..${config.groupMaxSessionTimeoutMs} ms (groupMinSessionTimeoutMs/groupMaxSessionTimeoutMs)`)
    }
    const assigners = options.partitionAssigners ?? ['roundrobin', 'range']
    if (!Array.isArray(assigners) || assigners.length === 0 || assigners.some((a) => a !== 'range' && a !== 'roundrobin')) {
      throw new InvalidRequestError(`partitionAssigners must list 'range' and/or 'roundrobin', got ${JSON.stringify(assigners)}`)
    }
    this.groupId = options.groupId
    this.heartbeatIntervalMs = positiveInteger('heartbeatInterval', options.heartbeatInterval, 3000)
    this.maxBytesPerPartition = positiveInteger('maxBytesPerPartition', options.maxBytesPerPartition, 1024 * 1024)
    this.maxWaitMs = positiveInteger('maxWaitTimeInMs', options.maxWaitTimeInMs, 1000)
    this.retryBackoffMs = positiveInteger('retryBackoffMs', options.retryBackoffMs, 100)
    if (options.readUncommitted !== undefined && typeof options.readUncommitted !== 'boolean') throw new InvalidRequestError(`readUncommitted must be true or false, got ${String(options.readUncommitted)}`)
    this.committedReads = !(options.readUncommitted ?? false)
    this.autoCommit = options.autoCommit ?? true
    this.autoCommitIntervalMs = positiveInteger('autoCommitInterval', options.autoCommitInterval, 5000)
    this.membership = new GroupMembership(host.context.groups, host.context.topics, {
      groupId: options.groupId,
      clientId: options.clientId ?? 'ringlog-embedded',
      sessionTimeoutMs,
      rebalanceTimeoutMs: positiveInteger('rebalanceTimeout', options.rebalanceTimeout, 60_000),
      assigners: [...new Set(assigners)] as PartitionAssignerName[],
    })
  }

  // ---------------------------------------------------------------- public API

  /** Nothing to connect in-process; kept so kafkajs code runs unchanged. */
  async connect(): Promise<void> {
    this.assertUsable()
  }

  on<E extends keyof ConsumerEvents>(event: E, listener: (payload: ConsumerEvents[E]) => void): () => void {
    this.events.on(event, listener)
    return () => { this.events.off(event, listener) }
  }

  /** Topics (names, or patterns matched against the topics that exist now). Call before run(). */
  async subscribe(options: SubscribeOptions): Promise<void> {
    this.assertUsable()
    if (this.running) throw new InvalidRequestError('subscribe before run(), as with kafkajs')
    const wanted = options.topics ?? (options.topic !== undefined ? [options.topic] : [])
    if (!Array.isArray(wanted) || wanted.length === 0) throw new InvalidRequestError('subscribe needs topic or topics')
    const existing = this.host.context.topics.list().map((t) => t.name)
    for (const entry of wanted) {
      if (entry instanceof RegExp) {
        for (const name of existing) if (entry.test(name)) this.subscriptions.set(name, options.fromBeginning ?? false)
      } else if (typeof entry === 'string') {
        this.host.context.topics.require(entry)
        this.subscriptions.set(entry, options.fromBeginning ?? false)
      } else {
        throw new InvalidRequestError('topics must be strings or regular expressions')
      }
    }
  }

  /** Starts consuming in the background; resolves once the loop runs (not when it ends). */
  async run(options: RunOptions): Promise<void> {
    this.assertUsable()
    if (this.running) throw new InvalidRequestError('the consumer is already running')
    if (!options || (typeof options.eachMessage !== 'function') === (typeof options.eachBatch !== 'function')) {
      throw new InvalidRequestError('run needs exactly one of eachMessage or eachBatch')
    }
    if (this.subscriptions.size === 0) throw new InvalidRequestError('subscribe to at least one topic before run()')
    if (options.autoCommit !== undefined) this.autoCommit = options.autoCommit
    if (options.autoCommitInterval !== undefined) this.autoCommitIntervalMs = positiveInteger('autoCommitInterval', options.autoCommitInterval, 5000)
    this.handlers = options
    this.running = true
    this.needsJoin = true
    this.lastCommit = performance.now()
    this.loop = this.runLoop().finally(() => {
      this.running = false
      this.events.emit('consumer.stop', { groupId: this.groupId })
    })
  }

  /** Stops fetching, commits what was processed (auto commit) and leaves the group. */
  async stop(): Promise<void> {
    this.running = false
    this.poke()
    if (this.loop) await this.loop
    this.loop = null
    if (!this.host.closed) {
      if (this.autoCommit) await this.commitResolved().catch(() => undefined)
      await this.membership.leave().catch(() => undefined)
    }
    this.assigned.clear()
    this.generation = null
  }

  async disconnect(): Promise<void> {
    if (this.disconnected) return
    await this.stop()
    this.disconnected = true
    this.host.release(this)
  }

  /** Moves the next fetch of a partition to `offset` (also committed at the next auto commit). */
  seek(target: TopicPartitionOffset): void {
    this.assertUsable()
    const offset = parseOffset(target.offset, 'seek')
    const state = this.assigned.get(tpKey(target.topic, target.partition))
    if (!state) {
      this.pendingSeeks.set(tpKey(target.topic, target.partition), offset)
      return
    }
    this.applySeek(state, offset)
    this.poke()
  }

  pause(topics: TopicPartitions[]): void {
    for (const { topic, partitions } of topics) {
      if (partitions === undefined) this.pausedTopics.add(topic)
      else for (const p of partitions) this.pausedPartitions.add(tpKey(topic, p))
    }
  }

  resume(topics: TopicPartitions[]): void {
    for (const { topic, partitions } of topics) {
      if (partitions === undefined) {
        this.pausedTopics.delete(topic)
        for (const key of [...this.pausedPartitions]) if (key.startsWith(`${topic}\u0000`)) this.pausedPartitions.delete(key)
      } else {
        for (const p of partitions) this.pausedPartitions.delete(tpKey(topic, p))
      }
    }
    this.poke()
  }

  paused(): { topic: string; partitions: number[] }[] {
    const byTopic = new Map<string, Set<number>>()
    for (const topic of this.pausedTopics) {
      const count = this.host.context.topics.get(topic)?.partitions ?? 0
      byTopic.set(topic, new Set(Array.from({ length: count }, (_, i) => i)))
    }
    for (const key of this.pausedPartitions) {
      const [topic, p] = key.split('\u0000')
      if (!byTopic.has(topic)) byTopic.set(topic, new Set())
      byTopic.get(topic)!.add(Number(p))
    }
    return [...byTopic].map(([topic, set]) => ({ topic, partitions: [...set].sort((a, b) => a - b) }))
  }

  /** The partitions this member holds in the current generation. */
  assignment(): { topic: string; partition: number }[] {
    return [...this.assigned.values()].map((s) => ({ topic: s.topic, partition: s.partition }))
  }

  /**
   * Commits the given offsets (each the next offset to read, as kafkajs takes them) and waits
   * until they are durable. Throws a RinglogError with the Kafka code if the group refuses.
   */
  async commitOffsets(offsets: TopicPartitionOffset[]): Promise<void> {
    this.assertUsable()
    const parsed = offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: parseOffset(o.offset, 'commit') }))
    if (parsed.length === 0) return
    await this.commit(parsed)
  }

  // ---------------------------------------------------------------- the loop

  private async runLoop(): Promise<void> {
    while (this.running) {
      try {
        if (this.needsJoin) {
          await this.rejoin()
          continue
        }
        await this.maybeHeartbeat()
        const state = this.nextReadable()
        if (state) await this.fetchAndDeliver(state)
        else await this.idle()
        await this.maybeAutoCommit()
      } catch (error) {
        if (this.host.closed || error instanceof LogClosedError) return
        const err = error instanceof Error ? error : new Error(String(error))
        this.reportCrash(err, true)
        await sleep(this.retryBackoffMs)
      }
    }
  }

  private async rejoin(): Promise<void> {
    if (this.generation) {
      this.events.emit('consumer.rebalancing', { groupId: this.groupId, memberId: this.membership.memberId })
      // Give the partitions up only after what was processed is committed.
      if (this.autoCommit) await this.commitResolved().catch(() => undefined)
      this.assigned.clear()
      this.generation = null
    }
    const joined = await this.membership.join([...this.subscriptions.keys()], () => this.running && !this.host.closed)
    if (!joined) return
    const states: PartitionState[] = []
    for (const [topic, partitions] of joined.assignment) {
      for (const partition of partitions) {
        const key = tpKey(topic, partition)
        states.push({ topic, partition, key, position: -1, resolved: -1, committed: -1, epoch: 0, waiting: null, prefetched: null })
      }
    }
    const committed = await this.membership.committed(states)
    for (const state of states) {
      const seek = this.pendingSeeks.get(state.key)
      this.pendingSeeks.delete(state.key)
      state.committed = committed.get(state.key) ?? -1
      const start = seek ?? (state.committed >= 0 ? state.committed : this.resetOffset(state.topic))
      state.position = this.resolveSpecialOffset(state, start)
      state.resolved = seek !== undefined ? state.position : state.committed >= 0 ? state.committed : state.position
      this.assigned.set(state.key, state)
    }
    this.generation = joined
    this.needsJoin = false
    this.lastHeartbeat = performance.now()
    this.events.emit('consumer.group_join', {
      groupId: this.groupId,
      memberId: joined.memberId,
      leaderId: joined.leaderId,
      isLeader: joined.leaderId === joined.memberId,
      generationId: joined.generationId,
      groupProtocol: joined.protocol,
      memberAssignment: Object.fromEntries([...joined.assignment].map(([t, ps]) => [t, [...ps]])),
    })
  }

  /** auto.offset.reset: earliest with fromBeginning, else latest. */
  private resetOffset(topic: string): number {
    return this.subscriptions.get(topic) ? EARLIEST : LATEST
  }

  private resolveSpecialOffset(state: PartitionState, offset: number): number {
    if (offset >= 0) return offset
    const offsets = this.host.context.engine.offsets(state.topic, state.partition)
    if (!offsets) return 0
    return offset === EARLIEST ? offsets.logStartOffset : this.readableEnd(offsets)
  }

  /** Where reads stop: the last stable offset (read_committed) or the high watermark. */
  private readableEnd(offsets: { highWatermark: number; lastStableOffset: number }): number {
    return this.committedReads ? offsets.lastStableOffset : offsets.highWatermark
  }

  private applySeek(state: PartitionState, offset: number): void {
    state.position = this.resolveSpecialOffset(state, offset)
    state.resolved = state.position
    state.epoch++
  }

  private isPaused(state: PartitionState): boolean {
    return this.pausedTopics.has(state.topic) || this.pausedPartitions.has(state.key)
  }

  /** Round-robin over assigned, unpaused partitions whose readable end (high watermark or last stable offset) is past the position. */
  private nextReadable(): PartitionState | undefined {
    const states = [...this.assigned.values()]
    for (let i = 0; i < states.length; i++) {
      const state = states[(this.cursor + i) % states.length]
      if (this.isPaused(state)) continue
      const offsets = this.host.context.engine.offsets(state.topic, state.partition)
      if (!offsets) continue
      // Past the end (a seek too far, or a log cut back by recovery): auto.offset.reset applies.
      if (state.position > offsets.logEndOffset) this.applySeek(state, this.resetOffset(state.topic))
      if (this.readableEnd(offsets) > state.position || state.position < offsets.logStartOffset) {
        this.cursor = (this.cursor + i + 1) % states.length
        return state
      }
    }
    return undefined
  }

  /** Waits for data on any assigned partition, a poke, or the next heartbeat, whichever comes first. */
  private async idle(): Promise<void> {
    const untilHeartbeat = Math.max(1, this.lastHeartbeat + this.heartbeatIntervalMs - performance.now())
    const timeout = Math.min(this.maxWaitMs, untilHeartbeat)
    const waits: Promise<void>[] = [new Promise<void>((resolve) => { this.wake = resolve })]
    const timer = setTimeout(() => this.poke(), timeout)
    for (const state of this.assigned.values()) {
      if (this.isPaused(state)) continue
      if (!state.waiting) {
        const waiting = this.host.context.engine.waitForData(state.topic, state.partition, state.position, this.maxWaitMs, this.committedReads)
          .catch(() => undefined)
          .finally(() => { if (state.waiting === waiting) state.waiting = null })
        state.waiting = waiting
      }
      waits.push(state.waiting)
    }
    try {
      await Promise.race(waits)
    } finally {
      clearTimeout(timer)
      this.wake = null
    }
  }

  private poke(): void {
    const wake = this.wake
    this.wake = null
    wake?.()
  }

  private owns(state: PartitionState, generation: JoinedGeneration | null, epoch: number): boolean {
    return this.running && !this.needsJoin && this.generation === generation && this.assigned.get(state.key) === state && state.epoch === epoch
  }

  /** The engine's slice for `from` and its bytes, read from the segment file. */
  private async fetchRange(state: PartitionState, from: number): Promise<Fetched> {
    // holdFile: the bytes are read through a descriptor of this read's own, never the worker's fd,
    // which retention or a topic deletion may close (and the number be reused) meanwhile.
    const slice = await this.host.context.engine.read(state.topic, state.partition, from, this.maxBytesPerPartition, { holdFile: true, isolation: this.committedReads ? 'committed' : 'uncommitted' })
    if (slice.errorCode !== ErrorCode.NONE || !slice.segment) {
      releaseHeldRange(slice.segment)
      return { from, slice, bytes: null }
    }
    return { from, slice, bytes: await readHeldRange(slice.segment) }
  }

  /** Starts reading the next range while the current one is decoded and handled (hides the read round trip). */
  private prefetch(state: PartitionState, from: number, readableEnd: number): void {
    if (from >= readableEnd || state.prefetched?.from === from) return
    const result = this.fetchRange(state, from)
    result.catch(() => undefined)
    state.prefetched = { from, result }
  }

  private async fetchAndDeliver(state: PartitionState): Promise<void> {
    const generation = this.generation
    const epoch = state.epoch
    const from = state.position
    const ready = state.prefetched
    state.prefetched = null
    const { slice, bytes } = ready && ready.from === from ? await ready.result : await this.fetchRange(state, from)
    if (!this.owns(state, generation, epoch)) return
    if (slice.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
      this.applySeek(state, this.resetOffset(state.topic))
      return
    }
    if (slice.errorCode !== ErrorCode.NONE) throw errorForCode(slice.errorCode, null, `reading ${state.topic}-${state.partition} at ${from}`)
    if (!slice.segment || !bytes) return
    const readableEnd = this.readableEnd(slice)
    if (slice.segment.nextOffset !== undefined) this.prefetch(state, slice.segment.nextOffset, readableEnd)
    const segment = slice.segment
    const source = bytes
    // One filter per read: it walks the range's batches in order across the chunks below.
    const aborted = this.committedReads && slice.abortedTransactions && slice.abortedTransactions.length > 0 ? new AbortedBatchFilter(slice.abortedTransactions) : undefined
    const decodeChunk = (fromOffset: number, start: number): DecodedRange =>
      decodeMessages(source, fromOffset, DEFAULT_MAX_DECOMPRESSED_BYTES, start, DELIVERY_CHUNK_MESSAGES, aborted)
    // A large range is decoded and handed over a piece at a time: each piece's message objects
    // are garbage before the next is made, instead of one read's worth surviving into old space.
    let decoded = decodeChunk(from, 0)
    for (;;) {
      if (!this.owns(state, generation, epoch)) return
      const last = decoded.messages.length < DELIVERY_CHUNK_MESSAGES || decoded.consumedBytes + LOG_OVERHEAD > source.length
      if (last && segment.nextOffset === undefined) this.prefetch(state, decoded.nextOffset, readableEnd)
      const messages = decoded.messages
      if (messages.length === 0) {
        // Only control batches, aborted transactions or records below the position: step over them.
        if (decoded.nextOffset > state.position) {
          const stepFrom = state.position
          state.position = decoded.nextOffset
          if (state.resolved < state.position && state.resolved === stepFrom) state.resolved = state.position
        }
      } else if (this.handlers!.eachBatch) {
        await this.deliverBatch(state, generation, epoch, messages, slice.highWatermark)
      } else {
        await this.deliverMessages(state, generation, epoch, messages)
      }
      if (last) return
      // Go on with the same bytes only if the handler took everything and nothing moved the partition.
      if (!this.owns(state, generation, epoch) || this.isPaused(state)) return
      if (messages.length > 0 && state.position < Number(messages[messages.length - 1].offset) + 1) return
      decoded = decodeChunk(state.position, decoded.consumedBytes)
    }
  }

  private async deliverMessages(state: PartitionState, generation: JoinedGeneration | null, epoch: number, messages: KafkaMessage[]): Promise<void> {
    const eachMessage = this.handlers!.eachMessage!
    const heartbeat = (): Promise<void> => this.heartbeatNow()
    const pause = (): (() => void) => this.pauseOne(state)
    for (let i = 0; i < messages.length; i++) {
      if (!this.owns(state, generation, epoch) || this.isPaused(state)) return
      const message = messages[i]
      const offset = Number(message.offset)
      try {
        await eachMessage({ topic: state.topic, partition: state.partition, message, heartbeat, pause })
      } catch (error) {
        // Not processed: the position stays on it, so it is delivered again after the backoff.
        this.reportCrash(error instanceof Error ? error : new Error(String(error)), true)
        await sleep(this.retryBackoffMs)
        return
      }
      if (this.assigned.get(state.key) !== state || state.epoch !== epoch) return
      state.position = offset + 1
      state.resolved = offset + 1
      if ((i & 63) === 63) await this.maybeHeartbeat()
    }
  }

  private async deliverBatch(state: PartitionState, generation: JoinedGeneration | null, epoch: number, messages: KafkaMessage[], highWatermark: number): Promise<void> {
    const handlers = this.handlers!
    const current = (): boolean => this.assigned.get(state.key) === state && state.epoch === epoch && this.generation === generation
    const batch = makeBatch(state.topic, state.partition, highWatermark, messages)
    const payload: EachBatchPayload = {
      batch,
      resolveOffset: (offset) => {
        if (!current()) return
        const next = parseOffset(offset, 'resolve') + 1
        if (next > state.resolved) state.resolved = next
        if (next > state.position) state.position = next
      },
      heartbeat: () => this.heartbeatNow(),
      commitOffsetsIfNecessary: async (offsets) => {
        if (offsets && offsets.length > 0) await this.commitOffsets(offsets)
        else await this.maybeAutoCommit()
      },
      uncommittedOffsets: () => [...this.assigned.values()]
        .filter((s) => s.resolved > s.committed && s.resolved >= 0)
        .map((s) => ({ topic: s.topic, partition: s.partition, offset: String(s.resolved) })),
      isRunning: () => this.running && current(),
      isStale: () => !current() || this.needsJoin,
      pause: () => this.pauseOne(state),
    }
    const resolvedBefore = state.resolved
    try {
      await handlers.eachBatch!(payload)
    } catch (error) {
      // What was resolved counts; the rest is delivered again after the backoff.
      if (current()) state.position = Math.max(state.resolved, resolvedBefore)
      this.reportCrash(error instanceof Error ? error : new Error(String(error)), true)
      await sleep(this.retryBackoffMs)
      return
    }
    if (!current()) return
    if (handlers.eachBatchAutoResolve ?? true) payload.resolveOffset(messages[messages.length - 1].offset)
    else state.position = state.resolved
  }

  private pauseOne(state: PartitionState): () => void {
    this.pause([{ topic: state.topic, partitions: [state.partition] }])
    return () => this.resume([{ topic: state.topic, partitions: [state.partition] }])
  }

  // ---------------------------------------------------------------- heartbeats and commits

  private async maybeHeartbeat(): Promise<void> {
    if (performance.now() - this.lastHeartbeat >= this.heartbeatIntervalMs) await this.heartbeatNow()
  }

  private async heartbeatNow(): Promise<void> {
    if (!this.generation || this.needsJoin) return
    this.lastHeartbeat = performance.now()
    const code = await this.membership.heartbeat()
    if (code === ErrorCode.NONE) return
    if (REJOIN_CODES.has(code) || code === ErrorCode.FENCED_INSTANCE_ID) {
      if (code !== ErrorCode.REBALANCE_IN_PROGRESS) {
        // No longer a member of this generation: its commits would be refused, so drop the partitions now.
        this.assigned.clear()
        this.generation = null
      }
      this.needsJoin = true
      this.poke()
      return
    }
    throw errorForCode(code, null, `heartbeat to group "${this.groupId}"`)
  }

  private async maybeAutoCommit(): Promise<void> {
    if (!this.autoCommit || performance.now() - this.lastCommit < this.autoCommitIntervalMs) return
    this.lastCommit = performance.now()
    try {
      await this.commitResolved()
    } catch (error) {
      // A rebalance refused the commit: commit() asked for a rejoin, which commits again first.
      if (!(error instanceof RinglogError && REJOIN_CODES.has(error.code))) throw error
    }
  }

  /** Commits the resolved offsets that moved since the last commit. */
  private async commitResolved(): Promise<void> {
    const dirty = [...this.assigned.values()].filter((s) => s.resolved >= 0 && s.resolved !== s.committed)
    if (dirty.length === 0) return
    await this.commit(dirty.map((s) => ({ topic: s.topic, partition: s.partition, offset: s.resolved })))
  }

  private async commit(offsets: { topic: string; partition: number; offset: number }[]): Promise<void> {
    const results = await this.membership.commit(offsets)
    const failed = results.find((r) => r.errorCode !== ErrorCode.NONE)
    for (let i = 0; i < results.length; i++) {
      if (results[i].errorCode !== ErrorCode.NONE) continue
      const state = this.assigned.get(tpKey(offsets[i].topic, offsets[i].partition))
      if (state) state.committed = offsets[i].offset
    }
    if (results.length > 0) {
      const topics = new Map<string, { partition: number; offset: string }[]>()
      offsets.forEach((o, i) => {
        if (results[i].errorCode !== ErrorCode.NONE) return
        if (!topics.has(o.topic)) topics.set(o.topic, [])
        topics.get(o.topic)!.push({ partition: o.partition, offset: String(o.offset) })
      })
      if (topics.size > 0) {
        this.events.emit('consumer.commit_offsets', {
          groupId: this.groupId, memberId: this.membership.memberId, generationId: this.membership.generationId,
          topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
        })
      }
    }
    if (failed) {
      if (REJOIN_CODES.has(failed.errorCode)) {
        this.needsJoin = true
        this.poke()
      }
      throw errorForCode(failed.errorCode, null, `committing offsets of group "${this.groupId}" (${failed.topic}-${failed.partition})`)
    }
  }

  private reportCrash(error: Error, restart: boolean): void {
    if (this.events.listenerCount('consumer.crash') > 0) this.events.emit('consumer.crash', { groupId: this.groupId, error, restart })
    else process.stderr.write(`ringlog consumer (group ${this.groupId}): ${error.message}${restart ? ' (retrying)' : ''}\n`)
  }

  private assertUsable(): void {
    assertLogOpen(this.host)
    if (this.disconnected) throw new LogClosedError('the consumer is disconnected')
  }
}

function makeBatch(topic: string, partition: number, highWatermark: number, messages: KafkaMessage[]): Batch {
  const first = messages.length > 0 ? Number(messages[0].offset) : -1
  const last = messages.length > 0 ? Number(messages[messages.length - 1].offset) : highWatermark - 1
  return {
    topic,
    partition,
    highWatermark: String(highWatermark),
    messages,
    isEmpty: () => messages.length === 0,
    firstOffset: () => (messages.length > 0 ? messages[0].offset : null),
    lastOffset: () => String(last),
    offsetLag: () => String(Math.max(0, highWatermark - 1 - last)),
    offsetLagLow: () => String(Math.max(0, highWatermark - 1 - first)),
  }
}
