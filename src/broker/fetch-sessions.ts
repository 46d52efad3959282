/**
 * Fetch sessions (KIP-227): a consumer or follower that fetches the same partitions over and
 * over names them once, in a full fetch that opens a session; later fetches of that session
 * (incremental: sessionId and the next epoch) carry only the partitions whose fetch position
 * changed plus the ones to forget, and their responses carry only the partitions that changed
 * (records, a moved high watermark or log start offset, an error).
 *
 * Request metadata, as Kafka reads it (FetchManager.newContext):
 * - epoch -1 (final): a session named is closed; the fetch is sessionless (full, session id 0);
 * - epoch 0 (initial): a session named is closed; the fetch is full and opens a new session
 *   when the response is built (session id 0 in the response when the cache has no room);
 * - epoch > 0: incremental on that session: FETCH_SESSION_ID_NOT_FOUND if it is not cached,
 *   INVALID_FETCH_SESSION_EPOCH if the epoch is not the one expected; a session left empty
 *   by forgotten partitions is closed and the fetch is answered sessionless.
 * Epochs count 1, 2, ... and wrap from 2^31-1 to 1.
 *
 * The cache holds `slots` sessions (max.incremental.fetch.session.cache.slots). When it is
 * full a new session may take the slot of one unused for `evictionMs`
 * (min.incremental.fetch.session.eviction.ms); failing that, a follower's session may evict
 * any consumer's session and a consumer's session one older than `evictionMs`, in both cases
 * the smallest (fewest partitions), a consumer's only if the new session is larger. Otherwise no
 * session is created. This is Kafka's FetchSessionCache rule.
 */
import { randomInt } from 'node:crypto'
import { ErrorCode } from '../protocol/error-codes.js'
import type { FetchPartition, FetchRequest, FetchTopic } from '../protocol/messages/fetch.js'

export const INITIAL_EPOCH = 0
export const FINAL_EPOCH = -1
const MAX_EPOCH = 0x7fffffff
/** Kafka's min.incremental.fetch.session.eviction.ms (an internal setting there too). */
export const DEFAULT_SESSION_EVICTION_MS = 120_000

/** One partition a fetch reads: the topic entry as the request named it and the partition's fetch position. */
export interface FetchTarget {
  topic: Pick<FetchTopic, 'topic' | 'topicId'>
  partition: FetchPartition
}

/** A session partition: its fetch position and what the response last told the client about it. */
class CachedPartition implements FetchTarget {
  constructor(
    public topic: FetchTarget['topic'],
    public partition: FetchPartition,
    /** -1 after an error, so the partition is sent again once the error clears. */
    public highWatermark: number,
    public logStartOffset: number,
  ) {}
}

export class FetchSession {
  /** The epoch the next incremental fetch must carry. */
  epoch = 1
  lastUsedMs: number
  /** Insertion-ordered, by `partitionKey`. */
  readonly partitions = new Map<string, CachedPartition>()

  constructor(readonly id: number, readonly privileged: boolean, readonly createdMs: number, readonly byTopicId: boolean) {
    this.lastUsedMs = createdMs
  }

  get size(): number {
    return this.partitions.size
  }
}

/** What a Fetch request amounts to once its session metadata is read. */
export type FetchSessionContext =
  /** Answer with this top-level error, no partitions, session id 0. */
  | { kind: 'error'; errorCode: number }
  /** A full fetch of the request's partitions; `openSession`: try to open a session when answering. */
  | { kind: 'full'; targets: FetchTarget[]; openSession: boolean }
  /** An incremental fetch: read every session partition, answer only the changed ones. */
  | { kind: 'incremental'; session: FetchSession; targets: FetchTarget[] }

/** A partition's state in a response, what a session compares with what it last sent. */
export interface AnsweredPartition {
  target: FetchTarget
  errorCode: number
  highWatermark: number
  logStartOffset: number
  /** Non-null when the response carries records for it. */
  range: object | null
}

export interface FetchSessionCacheOptions {
  slots: number
  evictionMs?: number
  now?: () => number
}

export function partitionKey(topic: Pick<FetchTopic, 'topic' | 'topicId'>, partition: number, byTopicId: boolean): string {
  return `${partition}:${byTopicId ? topic.topicId : topic.topic}`
}

function nextEpoch(epoch: number): number {
  return epoch >= MAX_EPOCH ? 1 : epoch + 1
}

/**
 * The request's partitions, each once: a partition named more than once is read where it
 * first appears, with its last entry (Kafka keeps them in an insertion-ordered map).
 */
export function distinctTargets(request: Pick<FetchRequest, 'topics'>, byTopicId: boolean): FetchTarget[] {
  const byKey = new Map<string, FetchTarget>()
  for (const t of request.topics) {
    for (const p of t.partitions) {
      const key = partitionKey(t, p.partition, byTopicId)
      const entry = byKey.get(key)
      if (entry) entry.partition = p
      else byKey.set(key, { topic: t, partition: p })
    }
  }
  return [...byKey.values()]
}

export class FetchSessionCache {
  private readonly sessions = new Map<number, FetchSession>()
  private readonly slots: number
  private readonly evictionMs: number
  private readonly now: () => number
  /** Sessions evicted to make room, since start (a gauge for tests and metrics). */
  evictions = 0

  constructor(options: FetchSessionCacheOptions) {
    this.slots = options.slots
    this.evictionMs = options.evictionMs ?? DEFAULT_SESSION_EVICTION_MS
    this.now = options.now ?? Date.now
  }

  get size(): number {
    return this.sessions.size
  }

  get(id: number): FetchSession | undefined {
    return this.sessions.get(id)
  }

  /** Reads a request's session metadata, updating the session it names (see the file comment). */
  open(request: Pick<FetchRequest, 'sessionId' | 'sessionEpoch' | 'topics' | 'forgottenTopicsData'>, byTopicId: boolean): FetchSessionContext {
    const { sessionId, sessionEpoch } = request
    if (sessionEpoch === INITIAL_EPOCH || sessionEpoch === FINAL_EPOCH) {
      if (sessionId !== 0) this.sessions.delete(sessionId)
      return { kind: 'full', targets: distinctTargets(request, byTopicId), openSession: sessionEpoch === INITIAL_EPOCH }
    }
    const session = this.sessions.get(sessionId)
    if (!session) return { kind: 'error', errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND }
    if (session.epoch !== sessionEpoch) return { kind: 'error', errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH }
    for (const t of request.topics) {
      for (const p of t.partitions) {
        const key = partitionKey(t, p.partition, session.byTopicId)
        const cached = session.partitions.get(key)
        if (cached) cached.partition = p
        else session.partitions.set(key, new CachedPartition(t, p, -1, -1))
      }
    }
    for (const f of request.forgottenTopicsData) {
      for (const partition of f.partitions) session.partitions.delete(partitionKey(f, partition, session.byTopicId))
    }
    if (session.size === 0) {
      this.sessions.delete(session.id)
      return { kind: 'full', targets: distinctTargets(request, byTopicId), openSession: false }
    }
    session.lastUsedMs = this.now()
    session.epoch = nextEpoch(session.epoch)
    return { kind: 'incremental', session, targets: [...session.partitions.values()] }
  }

  /**
   * A full fetch that asked for a session: opens one over the partitions answered and returns
   * its id, or 0 when the cache has no slot it may take.
   */
  create(answered: readonly AnsweredPartition[], privileged: boolean, byTopicId: boolean): number {
    if (this.slots <= 0 || answered.length === 0) return 0
    const now = this.now()
    if (this.sessions.size >= this.slots && !this.evictFor(answered.length, privileged, now)) return 0
    const session = new FetchSession(this.newId(), privileged, now, byTopicId)
    for (const a of answered) {
      session.partitions.set(partitionKey(a.target.topic, a.target.partition.partition, byTopicId),
        new CachedPartition(a.target.topic, a.target.partition, a.errorCode === ErrorCode.NONE ? a.highWatermark : -1, a.logStartOffset))
    }
    this.sessions.set(session.id, session)
    return session.id
  }

  /**
   * Which answered partitions an incremental response carries: those with records, an error,
   * or a high watermark or log start offset other than the session last sent. Records what is
   * sent, so the next response compares against it.
   */
  changed<T extends AnsweredPartition>(session: FetchSession, answered: readonly T[]): T[] {
    const out: T[] = []
    for (const a of answered) {
      // An incremental fetch reads the session's own entries: no key to build.
      const cached = a.target instanceof CachedPartition ? a.target : session.partitions.get(partitionKey(a.target.topic, a.target.partition.partition, session.byTopicId))
      if (!cached) continue
      let send = a.range !== null
      if (cached.highWatermark !== a.highWatermark) {
        send = true
        cached.highWatermark = a.highWatermark
      }
      if (cached.logStartOffset !== a.logStartOffset) {
        send = true
        cached.logStartOffset = a.logStartOffset
      }
      if (a.errorCode !== ErrorCode.NONE) {
        send = true
        cached.highWatermark = -1
      }
      if (send) out.push(a)
    }
    return out
  }

  private newId(): number {
    for (;;) {
      const id = randomInt(1, MAX_EPOCH)
      if (!this.sessions.has(id)) return id
    }
  }

  /** Kafka's FetchSessionCache.tryEvict: a stale session first, else the smallest evictable one if not larger. */
  private evictFor(size: number, privileged: boolean, now: number): boolean {
    let leastRecent: FetchSession | undefined
    for (const s of this.sessions.values()) if (!leastRecent || s.lastUsedMs < leastRecent.lastUsedMs) leastRecent = s
    if (leastRecent && now - leastRecent.lastUsedMs > this.evictionMs) return this.evict(leastRecent)
    let smallest: FetchSession | undefined
    for (const s of this.sessions.values()) {
      if (s.privileged) continue
      if (!privileged && now - s.createdMs <= this.evictionMs) continue
      if (!smallest || s.size < smallest.size || (s.size === smallest.size && s.id < smallest.id)) smallest = s
    }
    // Kafka compares (privileged, size, id): a follower outranks any consumer; a consumer must be strictly larger.
    if (!smallest || (!privileged && size <= smallest.size)) return false
    return this.evict(smallest)
  }

  private evict(session: FetchSession): boolean {
    this.sessions.delete(session.id)
    this.evictions++
    return true
  }
}
