/**
 * Fetch v0-16.
 *
 * v0-3 are for clients that read only the old message formats: their record bytes are read
 * from the segment and down-converted to magic 0 (v0-1) or magic 1 (v2-3) message sets
 * (protocol/message-set.ts): uncompressed, headers dropped, control batches left out. That
 * path reads at most each partition's partitionMaxBytes of segment (and the response's
 * maxBytes overall); v4+ stays zero-copy.
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
 * read_committed (isolationLevel 1, v4+): each partition is read only below its last stable
 * offset (the first offset of an unfinished transaction, or the high watermark) and answered
 * with the aborted transactions that overlap the range (from the segments' `.txnindex`), so
 * the client drops their records; a long poll waits for the last stable offset to move.
 *
 * Authorization: READ on each topic, else TOPIC_AUTHORIZATION_FAILED on its partitions.
 *
 * Left out: fetch sessions (KIP-227: sessionId is always 0, every request is a full fetch),
 * preferred read replicas, diverging-epoch checks.
 *
 * Cluster mode (ctx.broker.cluster): only the partition's leader answers (else
 * NOT_LEADER_OR_FOLLOWER; current_leader_epoch older: FENCED_LEADER_EPOCH, newer:
 * UNKNOWN_LEADER_EPOCH). A fetch with replicaId >= 0 from one of the partition's replicas
 * records that follower's log end offset (moving the HW and the ISR), reads up to the log
 * end instead of the HW, and long-polls on leader appends.
 */
import { Buffer } from 'node:buffer'
import { read as readCallback } from 'node:fs'
import { open } from 'node:fs/promises'
import { toErrorPayload } from '../../errors.js'
import { ErrorCode } from '../../protocol/error-codes.js'
import { downConvertBatches } from '../../protocol/message-set.js'
import type { FetchPartition, FetchRequest, FetchResponse, PartitionData } from '../../protocol/messages/fetch.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/fetch.js'
import { ZERO_UUID, type EncodeInput } from '../../protocol/primitives.js'
import type { NodeContext } from '../../core/node-context.js'
import type { ReadOptions } from '../../engine/log-engine.js'
import { topicIdFromWire } from '../../core/topic-ids.js'
import { waitForAnyData, type FetchWait } from '../delayed-fetch.js'
import { FetchResponseBuilder } from '../fetch-response.js'
import type { FileRangePart, HandlerReply, RequestContext } from '../handler.js'
import type { RequestAccess } from '../request-authorization.js'
import { releaseFileSource } from '../send-file.js'

export const apiKey = 1
/** FetchRequest.isolationLevel: 0 read_uncommitted, 1 read_committed. */
const READ_COMMITTED = 1

const TOPIC_ID_VERSION = 13
function readAt(fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => readCallback(fd, buffer, offset, length, position, (error, n) => error ? reject(error) : resolve(n)))
}
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

interface PartitionRead {
  topic: string
  /** The topic as the request named it: its id on the wire from v13 (ZERO_UUID before). */
  topicId: string
  request: FetchPartition
  errorCode: number
  highWatermark: number
  lastStableOffset: number
  logStartOffset: number
  /** read_committed: reads stop at the last stable offset. */
  committed: boolean
  abortedTransactions: { producerId: number; firstOffset: number }[]
  range: FileRangePart | null
  /** Offset after the range's last batch (-1: unknown), for the records-out metric. */
  nextOffset: number
  /** Cluster mode, a follower's fetch: read up to the log end (not the HW). */
  readEnd?: number
}

/** The fetching replica's id (v15 moved it into replicaState); -1 for consumers. */
function replicaOf(request: FetchRequest, version: number): number {
  return version >= 15 ? request.replicaState.replicaId : request.replicaId
}

export function handle(request: FetchRequest, ctx: RequestContext): Promise<HandlerReply<FetchResponse>> | HandlerReply<FetchResponse> {
  const { broker } = ctx
  const deadline = Date.now() + Math.max(0, request.maxWaitMs)
  const first = readAll(broker, request, ctx.version, replicaOf(request, ctx.version), ctx.access)
  // Nothing to read (the usual long-poll case at the log end): decide without a promise.
  if (!(first instanceof Promise)) {
    if (isReady(request, first, deadline, ctx)) return respond(ctx, first)
    return pollUntilReady(request, ctx, first, deadline)
  }
  return first.then((reads) => isReady(request, reads, deadline, ctx)
    ? respond(ctx, reads)
    : pollUntilReady(request, ctx, reads, deadline))
}

const FIRST_V2_FORMAT_VERSION = 4

function respond(ctx: RequestContext, reads: readonly PartitionRead[]): HandlerReply<FetchResponse> | Promise<HandlerReply<FetchResponse>> {
  if (ctx.version >= FIRST_V2_FORMAT_VERSION || !reads.some((r) => r.range)) return { kind: 'parts', parts: encode(ctx, reads) }
  return downConvertAll(ctx.version, reads).then((converted) => ({ kind: 'parts', parts: encode(ctx, reads, converted) }))
}

/** Reads each partition's batches and rewrites them in the message format of `version`. */
async function downConvertAll(version: number, reads: readonly PartitionRead[]): Promise<Map<PartitionRead, Buffer>> {
  const magic = version >= 2 ? 1 : 0
  const converted = new Map<PartitionRead, Buffer>()
  for (const r of reads) {
    if (!r.range) continue
    try {
      converted.set(r, downConvertBatches(await readRange(r.range), magic, r.request.fetchOffset))
    } catch (error) {
      r.errorCode = toErrorPayload(error).code
      r.range = null
    }
  }
  return converted
}

async function readRange(range: FileRangePart): Promise<Buffer> {
  const bytes = Buffer.allocUnsafe(range.length)
  const handle = 'fd' in range.file ? null : await open(range.file.path, 'r')
  try {
    const fd = handle ? handle.fd : (range.file as { fd: number }).fd
    let done = 0
    while (done < range.length) {
      const n = await readAt(fd, bytes, done, range.length - done, range.position + done)
      if (n === 0) throw new Error(`segment ended ${range.length - done} bytes early`)
      done += n
    }
  } finally {
    await handle?.close()
  }
  return bytes
}

function isReady(request: FetchRequest, reads: readonly PartitionRead[], deadline: number, ctx: RequestContext): boolean {
  if (reads.length === 0 || ctx.signal.aborted || deadline - Date.now() <= 0) return true
  let bytes = 0
  for (const r of reads) {
    if (r.errorCode !== ErrorCode.NONE) return true
    if (r.range) bytes += r.range.length
  }
  return bytes >= request.minBytes
}

async function pollUntilReady(request: FetchRequest, ctx: RequestContext, reads: PartitionRead[], deadline: number): Promise<HandlerReply<FetchResponse>> {
  const { broker } = ctx
  const waits: FetchWait[] = reads.map((r) => ({ topic: r.topic, partition: r.request.partition, offset: r.request.fetchOffset, committed: r.committed }))
  do {
    releaseRanges(reads)
    const replicaId = replicaOf(request, ctx.version)
    const cluster = broker.cluster
    if (cluster && replicaId >= 0) {
      // Followers wait for the leader's log end, which moves before the HW does.
      const remaining = deadline - Date.now()
      await Promise.race([
        waitForAnyData(broker.engine, waits, remaining, ctx.signal),
        ...waits.map((w) => cluster.waitForAppend(w.topic, w.partition, w.offset, remaining)),
      ])
    } else await waitForAnyData(broker.engine, waits, deadline - Date.now(), ctx.signal)
    reads = await readAll(broker, request, ctx.version, replicaId, ctx.access)
  } while (!isReady(request, reads, deadline, ctx))
  return respond(ctx, reads)
}

/**
 * Every partition's read; a promise only when some partition has bytes to locate in the worker.
 * A partition named more than once is read once, where it first appears, with its last entry
 * (Kafka keeps the request's partitions in an insertion-ordered map): repeats cannot multiply
 * the work or the response. From v13 topics are named by id.
 */
function readAll(broker: NodeContext, request: FetchRequest, version: number, replicaId: number, access: RequestAccess): PartitionRead[] | Promise<PartitionRead[]> {
  const reads: PartitionRead[] = []
  let located: Promise<void>[] | null = null
  const byId = version >= TOPIC_ID_VERSION
  const committed = version >= FIRST_V2_FORMAT_VERSION && request.isolationLevel === READ_COMMITTED && replicaId < 0
  for (const { topic: t, partition: p } of distinctPartitions(request, byId)) {
    const name = byId ? broker.topics.byId(topicIdFromWire(t.topicId))?.name : t.topic
    const read = name === undefined
      ? unknownTopicId(t.topicId, p)
      : !access.topic(name)
        ? denied(name, byId ? t.topicId : ZERO_UUID, p)
        : readPartition(broker, name, byId ? t.topicId : ZERO_UUID, p, replicaId, committed)
    reads.push(read)
    if (needsLocate(read)) (located ??= []).push(locate(broker, read))
  }
  if (located === null) return reads
  return Promise.all(located).then(() => limitResponse(reads, request.maxBytes))
}

function distinctPartitions(request: FetchRequest, byId: boolean): { topic: FetchRequest['topics'][number]; partition: FetchPartition }[] {
  const byKey = new Map<string, { topic: FetchRequest['topics'][number]; partition: FetchPartition }>()
  for (const t of request.topics) {
    for (const p of t.partitions) {
      const key = `${p.partition}:${byId ? t.topicId : t.topic}`
      const entry = byKey.get(key)
      if (entry) entry.partition = p
      else byKey.set(key, { topic: t, partition: p })
    }
  }
  return [...byKey.values()]
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
function denied(topic: string, topicId: string, p: FetchPartition): PartitionRead {
  return {
    topic, topicId, request: p, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1,
    committed: false, abortedTransactions: [], range: null, nextOffset: -1,
  }
}

/** What shared state answers without the worker: errors, offsets, and whether there is anything to read. */
function readPartition(broker: NodeContext, topic: string, topicId: string, p: FetchPartition, replicaId: number, committed: boolean): PartitionRead {
  const read: PartitionRead = {
    topic, topicId, request: p, errorCode: ErrorCode.NONE, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, committed, abortedTransactions: [], range: null, nextOffset: -1,
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

function unknownTopicId(topicId: string, p: FetchPartition): PartitionRead {
  return { topic: '', topicId, request: p, errorCode: ErrorCode.UNKNOWN_TOPIC_ID, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, committed: false, abortedTransactions: [], range: null, nextOffset: -1 }
}

function needsLocate(read: PartitionRead): boolean {
  const end = read.readEnd ?? (read.committed ? read.lastStableOffset : read.highWatermark)
  return read.errorCode === ErrorCode.NONE && read.request.fetchOffset < end && read.request.partitionMaxBytes > 0
}

/** Asks the owning worker for the file range of whole batches from the fetch offset. */
async function locate(broker: NodeContext, read: PartitionRead): Promise<void> {
  const p = read.request
  try {
    const options: ReadOptions = read.readEnd !== undefined ? { holdFile: true, upTo: 'logEnd' } : read.committed ? { holdFile: true, isolation: 'committed' } : { holdFile: true }
    const slice = await broker.engine.read(read.topic, p.partition, p.fetchOffset, p.partitionMaxBytes, options)
    read.errorCode = slice.errorCode
    read.highWatermark = slice.highWatermark
    read.lastStableOffset = slice.lastStableOffset
    read.abortedTransactions = slice.abortedTransactions ?? []
    read.logStartOffset = slice.logStartOffset
    const s = slice.segment
    if (s && s.length > 0) {
      const file = s.heldFd !== undefined ? { fd: s.heldFd, owned: true } : { path: s.path }
      if (slice.errorCode === ErrorCode.NONE) {
        read.range = { file, position: s.position, length: s.length }
        read.nextOffset = s.nextOffset ?? -1
      } else releaseFileSource(file)
    }
  } catch (error) {
    read.errorCode = toErrorPayload(error).code
  }
}

function releaseRanges(reads: readonly PartitionRead[]): void {
  for (const r of reads) {
    if (r.range) releaseFileSource(r.range.file)
    r.range = null
  }
}

function encode(ctx: RequestContext, reads: readonly PartitionRead[], converted?: ReadonlyMap<PartitionRead, Buffer>): ReturnType<FetchResponseBuilder['encode']> {
  const version = ctx.version
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
      records: converted?.get(r) ?? (r.range ? builder.placeholder(r.range) : NO_RECORDS),
    })
  }
  return builder.encode(version, { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses })
}

/** Shared by every partition answered without records (never written to: zero bytes). */
const NO_RECORDS = Buffer.alloc(0)
