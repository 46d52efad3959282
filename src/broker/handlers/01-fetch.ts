/**
 * Fetch v4-12.
 *
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
 * Left out: fetch sessions (KIP-227: sessionId is always 0, every request is a full fetch),
 * read_committed (no transactions: lastStableOffset = high watermark, no aborted
 * transactions), follower fetches (replicaId is ignored), preferred read replicas,
 * diverging-epoch checks (one leader epoch, 0).
 */
import { Buffer } from 'node:buffer'
import { toErrorPayload } from '../../errors.js'
import { ErrorCode } from '../../protocol/error-codes.js'
import type { FetchPartition, FetchRequest, FetchResponse, PartitionData } from '../../protocol/messages/fetch.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/fetch.js'
import type { EncodeInput } from '../../protocol/primitives.js'
import type { BrokerContext } from '../context.js'
import { waitForAnyData, type FetchWait } from '../delayed-fetch.js'
import { FetchResponseBuilder } from '../fetch-response.js'
import type { FileRangePart, HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 1
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

interface PartitionRead {
  topic: string
  request: FetchPartition
  errorCode: number
  highWatermark: number
  logStartOffset: number
  range: FileRangePart | null
  /** Offset after the range's last batch (-1: unknown), for the records-out metric. */
  nextOffset: number
}

export function handle(request: FetchRequest, ctx: RequestContext): Promise<HandlerReply<FetchResponse>> | HandlerReply<FetchResponse> {
  const { broker } = ctx
  const deadline = Date.now() + Math.max(0, request.maxWaitMs)
  const first = readAll(broker, request)
  // Nothing to read (the usual long-poll case at the log end): decide without a promise.
  if (!(first instanceof Promise)) {
    if (isReady(request, first, deadline, ctx)) return { kind: 'parts', parts: encode(ctx, first) }
    return pollUntilReady(request, ctx, first, deadline)
  }
  return first.then((reads) => isReady(request, reads, deadline, ctx)
    ? { kind: 'parts', parts: encode(ctx, reads) }
    : pollUntilReady(request, ctx, reads, deadline))
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
  const waits: FetchWait[] = reads.map((r) => ({ topic: r.topic, partition: r.request.partition, offset: r.request.fetchOffset }))
  do {
    await waitForAnyData(broker.engine, waits, deadline - Date.now(), ctx.signal)
    reads = await readAll(broker, request)
  } while (!isReady(request, reads, deadline, ctx))
  return { kind: 'parts', parts: encode(ctx, reads) }
}

/** Every partition's read; a promise only when some partition has bytes to locate in the worker. */
function readAll(broker: BrokerContext, request: FetchRequest): PartitionRead[] | Promise<PartitionRead[]> {
  const reads: PartitionRead[] = []
  let located: Promise<void>[] | null = null
  for (const t of request.topics) {
    for (const p of t.partitions) {
      const read = readPartition(broker, t.topic, p)
      reads.push(read)
      if (needsLocate(read)) (located ??= []).push(locate(broker, read))
    }
  }
  if (located === null) return reads
  return Promise.all(located).then(() => limitResponse(reads, request.maxBytes))
}

// Whole-response limit (KIP-74): the first partition with data is always sent whole.
function limitResponse(reads: PartitionRead[], maxBytes: number): PartitionRead[] {
  let total = 0
  let sentAny = false
  for (const r of reads) {
    if (!r.range) continue
    if (sentAny && total + r.range.length > maxBytes) {
      r.range = null
      continue
    }
    total += r.range.length
    sentAny = true
  }
  return reads
}

/** What shared state answers without the worker: errors, offsets, and whether there is anything to read. */
function readPartition(broker: BrokerContext, topic: string, p: FetchPartition): PartitionRead {
  const read: PartitionRead = { topic, request: p, errorCode: ErrorCode.NONE, highWatermark: -1, logStartOffset: -1, range: null, nextOffset: -1 }
  const info = broker.topics.get(topic)
  const offsets = info && p.partition >= 0 && p.partition < info.partitions ? broker.engine.offsets(topic, p.partition) : undefined
  if (!offsets) {
    read.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    return read
  }
  read.highWatermark = offsets.highWatermark
  read.logStartOffset = offsets.logStartOffset
  if (p.fetchOffset < offsets.logStartOffset || p.fetchOffset > offsets.logEndOffset) read.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE
  return read
}

function needsLocate(read: PartitionRead): boolean {
  return read.errorCode === ErrorCode.NONE && read.request.fetchOffset < read.highWatermark && read.request.partitionMaxBytes > 0
}

/** Asks the owning worker for the file range of whole batches from the fetch offset. */
async function locate(broker: BrokerContext, read: PartitionRead): Promise<void> {
  const p = read.request
  try {
    const slice = await broker.engine.read(read.topic, p.partition, p.fetchOffset, p.partitionMaxBytes)
    read.errorCode = slice.errorCode
    read.highWatermark = slice.highWatermark
    read.logStartOffset = slice.logStartOffset
    if (slice.errorCode === ErrorCode.NONE && slice.segment && slice.segment.length > 0) {
      const s = slice.segment
      read.range = { file: s.fd !== undefined ? { fd: s.fd } : { path: s.path }, position: s.position, length: s.length }
      read.nextOffset = s.nextOffset ?? -1
    }
  } catch (error) {
    read.errorCode = toErrorPayload(error).code
  }
}

function encode(ctx: RequestContext, reads: readonly PartitionRead[]): ReturnType<FetchResponseBuilder['encode']> {
  const version = ctx.version
  if (ctx.fetchMeter) {
    for (const r of reads) if (r.range) ctx.fetchMeter.fetched(r.topic, r.request.partition, r.range.length, r.nextOffset >= 0 ? r.nextOffset - r.request.fetchOffset : 0)
  }
  const builder = new FetchResponseBuilder()
  const responses: { topic: string; partitions: EncodeInput<PartitionData>[] }[] = []
  for (const r of reads) {
    let topic = responses[responses.length - 1]
    if (!topic || topic.topic !== r.topic) {
      topic = { topic: r.topic, partitions: [] }
      responses.push(topic)
    }
    topic.partitions.push({
      partitionIndex: r.request.partition,
      errorCode: r.errorCode,
      highWatermark: r.highWatermark,
      lastStableOffset: r.highWatermark,
      logStartOffset: r.logStartOffset,
      abortedTransactions: [],
      preferredReadReplica: -1,
      records: r.range ? builder.placeholder(r.range) : NO_RECORDS,
    })
  }
  return builder.encode(version, { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses })
}

/** Shared by every partition answered without records (never written to: zero bytes). */
const NO_RECORDS = Buffer.alloc(0)
