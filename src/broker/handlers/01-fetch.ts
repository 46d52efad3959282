/**
 * Fetch v0-16.
 *
 * v0-3 are for clients that read only the old message formats: their record bytes are read
 * from the segment and down-converted to magic 0 (v0-1) or magic 1 (v2-3) message sets
 * (protocol/message-set.ts): uncompressed, headers dropped, control batches left out. That
 * path reads at most each partition's partitionMaxBytes of segment (and the response's
 * maxBytes overall), and streams: the converted length is counted first, then the bytes are
 * made a window of batches at a time while the connection writes them (down-conversion.ts),
 * so memory does not grow with the fetch size. v4+ stays zero-copy.
 *
 * Topics are named up to v12 and given by topic id from v13 (an id this broker does not know:
 * UNKNOWN_TOPIC_ID on each of its partitions); answers carry the same key back. v15 moves the
 * replica id into a tagged field, v16 adds node endpoints (none: only leader changes use them).
 * Per partition: UNKNOWN_TOPIC_OR_PARTITION for a topic or partition this broker lacks,
 * OFFSET_OUT_OF_RANGE below the log start or past the log end, an empty record set from the
 * high watermark up to the log end, else `engine.read` locates whole batches (at least one,
 * KIP-74) and their file range is streamed to the socket after the response head; record
 * bytes never pass through this thread. Response size: each partition gets up to
 * partitionMaxBytes; a partition whose range would take the response past maxBytes is
 * answered empty, except the first partition with data (KIP-74). If fewer than minBytes are
 * there and no partition failed, the fetch parks until a high watermark moves or maxWaitMs
 * passes (delayed-fetch.ts), then reads again.
 *
 * Each range comes with a descriptor of its own (ReadSlice.heldFd, taken by the worker when it
 * located the range), not the worker's fd: a topic deleted while its response still streams
 * would free that number for the next file opened. The connection closes it after the send;
 * ranges this handler drops (response limit, a poll that reads again) are released here.
 *
 * Fetch sessions (KIP-227, fetch-sessions.ts): from v7 a full fetch with epoch 0 opens a
 * session (its id in the response) over the partitions it names; an incremental fetch of that
 * session reads every session partition (the ones it names update their positions, forgotten
 * ones leave) and answers only the partitions that changed. A session the cache does not hold
 * or a wrong epoch is a top-level FETCH_SESSION_ID_NOT_FOUND / INVALID_FETCH_SESSION_EPOCH
 * with no partitions.
 *
 * read_committed (isolationLevel 1, v4+): each partition is read only below its last stable
 * offset (the first offset of an unfinished transaction, or the high watermark), with aborted
 * transactions' data batches left out of the range (transactions/aborted-batch-skip.ts: the
 * rest goes out in file-range pieces) and only those still sent listed as aborted, so the
 * client drops their records; a long poll waits for the last stable offset to move.
 *
 * Authorization: READ on each topic, else TOPIC_AUTHORIZATION_FAILED on its partitions.
 *
 * Left out: preferred read replicas, diverging-epoch checks.
 *
 * Cluster mode (ctx.broker.cluster): only the partition's leader answers (else
 * NOT_LEADER_OR_FOLLOWER; current_leader_epoch older: FENCED_LEADER_EPOCH, newer:
 * UNKNOWN_LEADER_EPOCH). A fetch with replicaId >= 0 from one of the partition's replicas
 * records that follower's log end offset (moving the HW and the ISR), reads up to the log
 * end instead of the HW, and long-polls on leader appends.
 */
import { Buffer } from 'node:buffer'
import { toErrorPayload } from '../../errors.js'
import { ErrorCode } from '../../protocol/error-codes.js'
import type { FetchPartition, FetchRequest, FetchResponse, PartitionData } from '../../protocol/messages/fetch.js'
import { FetchSessionCache, type FetchSessionContext, type FetchTarget } from '../fetch-sessions.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/fetch.js'
import { ZERO_UUID, type EncodeInput } from '../../protocol/primitives.js'
import type { NodeContext } from '../../core/node-context.js'
import type { ReadOptions } from '../../engine/log-engine.js'
import { topicIdFromWire } from '../../core/topic-ids.js'
import { waitForAnyData, type FetchWait } from '../delayed-fetch.js'
import { FetchResponseBuilder } from '../fetch-response.js'
import { convertedLength, convertedPart } from '../down-conversion.js'
import type { FileRangePart, GeneratedPart, HandlerReply, RequestContext } from '../handler.js'
import { releaseFileSource } from '../send-file.js'
import { followerReadCursors, type FollowerFetch } from '../follower-read-cursors.js'
import { logRefusedInterBroker } from '../request-authorization.js'
import { piecesLength, piecesOfRange } from '../../transactions/committed-fetch-pieces.js'

export const apiKey = 1
/** FetchRequest.isolationLevel: 0 read_uncommitted, 1 read_committed. */
const READ_COMMITTED = 1

const TOPIC_ID_VERSION = 13
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

interface PartitionRead {
  topic: string
  /** The topic as the request named it: its id on the wire from v13 (ZERO_UUID before). */
  topicId: string
  request: FetchPartition
  /** The request's (or the session's) entry this read answers. */
  target: FetchTarget
  errorCode: number
  highWatermark: number
  lastStableOffset: number
  logStartOffset: number
  /** read_committed: reads stop at the last stable offset. */
  committed: boolean
  abortedTransactions: { producerId: number; firstOffset: number }[]
  range: FileRangePart | null
  /** read_committed with aborted data left out: the parts of `range` to send (the last one owns its descriptor). */
  pieces?: FileRangePart[]
  /** Offset after the range's last batch (-1: unknown), for the records-out metric. */
  nextOffset: number
  /** Cluster mode, a follower's fetch: read up to the log end (not the HW). */
  readEnd?: number
}

/** The fetching replica's id (v15 moved it into replicaState); -1 for consumers. */
function replicaOf(request: FetchRequest, version: number): number {
  return version >= 15 ? request.replicaState.replicaId : request.replicaId
}

/** Without a broker-wide cache (a bare Connection): every fetch is sessionless, incremental ones find no session. */
const NO_SESSIONS = new FetchSessionCache({ slots: 0 })

/** One Fetch request in flight: its session context and what it answers with. */
interface FetchCall {
  request: FetchRequest
  ctx: RequestContext
  session: Exclude<FetchSessionContext, { kind: 'error' }>
  replicaId: number
  deadline: number
}

export function handle(request: FetchRequest, ctx: RequestContext): Promise<HandlerReply<FetchResponse>> | HandlerReply<FetchResponse> {
  const { broker } = ctx
  const session = (ctx.fetchSessions ?? NO_SESSIONS).open(request, ctx.version >= TOPIC_ID_VERSION)
  if (session.kind === 'error') return { kind: 'message', message: { throttleTimeMs: 0, errorCode: session.errorCode, sessionId: 0, responses: [] } }
  const call: FetchCall = { request, ctx, session, replicaId: replicaOf(request, ctx.version), deadline: Date.now() + Math.max(0, request.maxWaitMs) }
  const first = readAll(broker, call)
  // Nothing to read (the usual long-poll case at the log end): decide without a promise.
  if (!(first instanceof Promise)) {
    if (isReady(call, first)) return respond(call, first)
    return pollUntilReady(call, first)
  }
  return first.then((reads) => isReady(call, reads) ? respond(call, reads) : pollUntilReady(call, reads))
}

const FIRST_V2_FORMAT_VERSION = 4

function respond(call: FetchCall, reads: readonly PartitionRead[]): HandlerReply<FetchResponse> | Promise<HandlerReply<FetchResponse>> {
  const { ctx } = call
  if (ctx.version >= FIRST_V2_FORMAT_VERSION || !reads.some((r) => r.range)) return { kind: 'parts', parts: encode(call, reads) }
  return downConvertAll(ctx.version, reads).then((converted) => ({ kind: 'parts', parts: encode(call, reads, converted) }))
}

/** The session id the response carries and the partitions it answers (an incremental fetch: only the changed ones). */
function sessionAnswer(call: FetchCall, reads: readonly PartitionRead[]): { sessionId: number; answered: readonly PartitionRead[] } {
  const { session, ctx } = call
  const cache = ctx.fetchSessions ?? NO_SESSIONS
  if (session.kind === 'incremental') return { sessionId: session.session.id, answered: cache.changed(session.session, reads) }
  const sessionId = session.openSession ? cache.create(reads, call.replicaId >= 0, ctx.version >= TOPIC_ID_VERSION) : 0
  return { sessionId, answered: reads }
}

/**
 * Counts each partition's bytes in the message format of `version` (down-conversion.ts); the
 * bytes themselves are made while the connection writes them, a window at a time. A range
 * that converts to nothing (only control batches or records below the fetch offset) is
 * answered empty.
 */
async function downConvertAll(version: number, reads: readonly PartitionRead[]): Promise<Map<PartitionRead, GeneratedPart>> {
  const magic = version >= 2 ? 1 : 0
  const converted = new Map<PartitionRead, GeneratedPart>()
  for (const r of reads) {
    const range = r.range
    if (!range) continue
    try {
      const length = await convertedLength(range, magic, r.request.fetchOffset)
      if (length > 0) converted.set(r, convertedPart(range, magic, r.request.fetchOffset, length))
      else {
        releaseFileSource(range.file)
        r.range = null
      }
    } catch (error) {
      r.errorCode = toErrorPayload(error).code
      releaseFileSource(range.file)
      r.range = null
    }
  }
  return converted
}

function isReady({ request, ctx, deadline }: FetchCall, reads: readonly PartitionRead[]): boolean {
  if (reads.length === 0 || ctx.signal.aborted || deadline - Date.now() <= 0) return true
  let bytes = 0
  for (const r of reads) {
    if (r.errorCode !== ErrorCode.NONE) return true
    if (r.range) bytes += r.range.length
  }
  return bytes >= request.minBytes
}

async function pollUntilReady(call: FetchCall, reads: PartitionRead[]): Promise<HandlerReply<FetchResponse>> {
  const { ctx, deadline, replicaId } = call
  const { broker } = ctx
  const waits: FetchWait[] = reads.map((r) => ({ topic: r.topic, partition: r.request.partition, offset: r.request.fetchOffset, committed: r.committed }))
  do {
    releaseRanges(reads)
    const cluster = broker.cluster
    if (cluster && replicaId >= 0) {
      // Followers wait for the leader's log end, which moves before the HW does (a follower at
      // its log end never has HW > fetchOffset first, so the HW needs no wait of its own).
      await cluster.waitForAnyAppend(waits, deadline - Date.now(), ctx.signal)
    } else await waitForAnyData(broker.engine, waits, deadline - Date.now(), ctx.signal)
    reads = await readAll(broker, call)
  } while (!isReady(call, reads))
  return respond(call, reads)
}

/**
 * Every partition's read; a promise only when some partition has bytes to locate in the worker.
 * The targets are the request's partitions, each once (fetch-sessions.ts distinctTargets:
 * repeats cannot multiply the work or the response), or an incremental fetch's session
 * partitions. From v13 topics are named by id.
 */
function readAll(broker: NodeContext, { session, ctx, replicaId, request }: FetchCall): PartitionRead[] | Promise<PartitionRead[]> {
  const reads: PartitionRead[] = []
  let located: Promise<void>[] | null = null
  let served = false
  const byId = ctx.version >= TOPIC_ID_VERSION
  const committed = ctx.version >= FIRST_V2_FORMAT_VERSION && request.isolationLevel === READ_COMMITTED && replicaId < 0
  // A follower's fetch needs CLUSTER_ACTION on the cluster instead of READ on each topic (Kafka's rule).
  const replicaAllowed = replicaId >= 0 ? ctx.access.cluster() : false
  if (replicaId >= 0 && !replicaAllowed) logRefusedInterBroker(ctx.log, ctx.session?.principal ?? 'User:ANONYMOUS', `replica fetch from broker ${replicaId}`)
  for (const target of session.targets) {
    const t = target.topic
    const name = byId ? broker.topics.byId(topicIdFromWire(t.topicId))?.name : t.topic
    const read = name === undefined
      ? unknownTopicId(target)
      : !(replicaId >= 0 ? replicaAllowed : ctx.access.topic(name))
        ? denied(name, byId ? t.topicId : ZERO_UUID, target)
        : readPartition(broker, name, byId ? t.topicId : ZERO_UUID, target, replicaId, committed)
    reads.push(read)
    if (!needsLocate(read)) continue
    if (read.readEnd !== undefined && locatedForFollower(broker, read, replicaId)) served = true
    else (located ??= []).push(locate(broker, read, replicaId))
  }
  if (located === null) return served ? limitResponse(reads, request.maxBytes) : reads
  return Promise.all(located).then(() => limitResponse(reads, request.maxBytes))
}

// Whole-response limit (KIP-74): the first partition with data is always sent whole.
function limitResponse(reads: PartitionRead[], maxBytes: number): PartitionRead[] {
  let total = 0
  let sentAny = false
  for (const r of reads) {
    if (!r.range) continue
    if (sentAny && total + r.range.length > maxBytes) {
      releaseFileSource(r.range.file)
      r.range = null
      continue
    }
    total += r.range.length
    sentAny = true
  }
  return reads
}

/** READ on the topic refused: TOPIC_AUTHORIZATION_FAILED, whether or not the topic or partition exists. */
function denied(topic: string, topicId: string, target: FetchTarget): PartitionRead {
  return {
    topic, topicId, request: target.partition, target, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1,
    committed: false, abortedTransactions: [], range: null, nextOffset: -1,
  }
}

/** Shared by every read without aborted transactions (never written to): one array fewer per partition read. */
const NO_ABORTED: PartitionRead['abortedTransactions'] = []

/** What shared state answers without the worker: errors, offsets, and whether there is anything to read. */
function readPartition(broker: NodeContext, topic: string, topicId: string, target: FetchTarget, replicaId: number, committed: boolean): PartitionRead {
  const p = target.partition
  const read: PartitionRead = {
    topic, topicId, request: p, target, errorCode: ErrorCode.NONE, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, committed, abortedTransactions: NO_ABORTED, range: null, nextOffset: -1,
  }
  if (broker.cluster) {
    // Cluster mode: only the leader serves; a follower's fetch also reports its log end offset.
    const code = replicaId >= 0
      ? broker.cluster.onFollowerFetch(topic, p.partition, replicaId, p.fetchOffset, p.currentLeaderEpoch)
      : broker.cluster.checkLeader(topic, p.partition, p.currentLeaderEpoch)
    if (code !== ErrorCode.NONE) {
      read.errorCode = code
      return read
    }
  }
  const info = broker.topics.get(topic)
  const offsets = info && p.partition >= 0 && p.partition < info.partitions ? broker.engine.offsets(topic, p.partition) : undefined
  if (!offsets) {
    read.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    return read
  }
  read.highWatermark = offsets.highWatermark
  read.lastStableOffset = offsets.lastStableOffset
  read.logStartOffset = offsets.logStartOffset
  if (p.fetchOffset < offsets.logStartOffset || p.fetchOffset > offsets.logEndOffset) read.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE
  if (broker.cluster && replicaId >= 0) read.readEnd = offsets.logEndOffset
  return read
}

function unknownTopicId(target: FetchTarget): PartitionRead {
  return { topic: '', topicId: target.topic.topicId, request: target.partition, target, errorCode: ErrorCode.UNKNOWN_TOPIC_ID, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, committed: false, abortedTransactions: [], range: null, nextOffset: -1 }
}

function needsLocate(read: PartitionRead): boolean {
  const end = read.readEnd ?? (read.committed ? read.lastStableOffset : read.highWatermark)
  return read.errorCode === ErrorCode.NONE && read.request.fetchOffset < end && read.request.partitionMaxBytes > 0
}

/** Asks the owning worker for the file range of whole batches from the fetch offset. */
async function locate(broker: NodeContext, read: PartitionRead, replicaId: number): Promise<void> {
  const p = read.request
  try {
    const options: ReadOptions = read.readEnd !== undefined ? { holdFile: true, upTo: 'logEnd' } : read.committed ? { holdFile: true, isolation: 'committed', leaveOutAborted: true } : { holdFile: true }
    const slice = read.readEnd !== undefined
      ? await followerReadCursors(broker.engine).read(followerFetchOf(read, replicaId), options)
      : await broker.engine.read(read.topic, p.partition, p.fetchOffset, p.partitionMaxBytes, options)
    read.errorCode = slice.errorCode
    read.highWatermark = slice.highWatermark
    read.lastStableOffset = slice.lastStableOffset
    read.abortedTransactions = slice.abortedTransactions ?? NO_ABORTED
    read.logStartOffset = slice.logStartOffset
    const s = slice.segment
    if (s && s.length > 0) {
      const file = s.heldFd !== undefined ? { fd: s.heldFd, owned: true } : { path: s.path }
      if (slice.errorCode === ErrorCode.NONE) {
        read.range = { file, position: s.position, length: s.pieces ? piecesLength(s.pieces) : s.length }
        if (s.pieces) read.pieces = piecesOfRange(file, s.pieces)
        read.nextOffset = s.nextOffset ?? -1
      } else releaseFileSource(file)
    }
  } catch (error) {
    read.errorCode = toErrorPayload(error).code
  }
}

/** A follower's fetch continuing where its last one ended: located on this thread (follower-read-cursors.ts). */
function locatedForFollower(broker: NodeContext, read: PartitionRead, replicaId: number): boolean {
  const range = followerReadCursors(broker.engine).serve(followerFetchOf(read, replicaId))
  if (!range) return false
  read.range = { file: { fd: range.fd, owned: true }, position: range.position, length: range.length }
  read.nextOffset = range.nextOffset
  return true
}

function followerFetchOf(read: PartitionRead, replicaId: number): FollowerFetch {
  const p = read.request
  return { topic: read.topic, partition: p.partition, replicaId, leaderEpoch: p.currentLeaderEpoch, offset: p.fetchOffset, maxBytes: p.partitionMaxBytes, readEnd: read.readEnd ?? -1 }
}

function releaseRanges(reads: readonly PartitionRead[]): void {
  for (const r of reads) {
    if (r.range) releaseFileSource(r.range.file)
    r.range = null
    r.pieces = undefined
  }
}

function encode(call: FetchCall, allReads: readonly PartitionRead[], converted?: ReadonlyMap<PartitionRead, GeneratedPart>): ReturnType<FetchResponseBuilder['encode']> {
  const { ctx } = call
  const version = ctx.version
  // Only partitions with records hold ranges, and an incremental answer always carries those.
  const { sessionId, answered: reads } = sessionAnswer(call, allReads)
  if (ctx.fetchMeter) {
    for (const r of reads) if (r.range) ctx.fetchMeter.fetched(r.topic, r.request.partition, r.range.length, r.nextOffset >= 0 ? r.nextOffset - r.request.fetchOffset : 0)
  }
  const builder = new FetchResponseBuilder()
  const responses: { topic: string; topicId: string; partitions: EncodeInput<PartitionData>[] }[] = []
  // From v13 the topic is answered by id (the name is not on the wire), before it by name.
  const byId = version >= TOPIC_ID_VERSION
  for (const r of reads) {
    let topic = responses[responses.length - 1]
    if (!topic || (byId ? topic.topicId !== r.topicId : topic.topic !== r.topic)) {
      topic = byId ? { topic: '', topicId: r.topicId, partitions: [] } : { topic: r.topic, topicId: ZERO_UUID, partitions: [] }
      responses.push(topic)
    }
    topic.partitions.push({
      partitionIndex: r.request.partition,
      errorCode: r.errorCode,
      highWatermark: r.highWatermark,
      // Kafka answers read_uncommitted fetches with the last stable offset too (clients show the lag to it).
      lastStableOffset: r.lastStableOffset,
      logStartOffset: r.logStartOffset,
      // null, not empty, when there is nothing to drop (as Kafka sends for read_uncommitted).
      abortedTransactions: r.committed ? r.abortedTransactions : null,
      preferredReadReplica: -1,
      records: recordsOf(builder, r, converted),
    })
  }
  return builder.encode(version, { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId, responses })
}

/** A partition's records field: its down-converted bytes (v0-3), its file range, or nothing. */
function recordsOf(builder: FetchResponseBuilder, r: PartitionRead, converted: ReadonlyMap<PartitionRead, GeneratedPart> | undefined): Buffer {
  if (!r.range) return NO_RECORDS
  const generated = converted?.get(r)
  return builder.placeholder(generated ?? r.pieces ?? r.range)
}

/** Shared by every partition answered without records (never written to: zero bytes). */
const NO_RECORDS = Buffer.alloc(0)
