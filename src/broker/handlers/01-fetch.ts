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
}

export async function handle(request: FetchRequest, ctx: RequestContext): Promise<HandlerReply<FetchResponse>> {
  const { broker } = ctx
  const deadline = Date.now() + Math.max(0, request.maxWaitMs)
  let reads = await readAll(broker, request)
  for (;;) {
    const bytes = reads.reduce((sum, r) => sum + (r.range?.length ?? 0), 0)
    const failed = reads.some((r) => r.errorCode !== ErrorCode.NONE)
    const left = deadline - Date.now()
    if (bytes >= request.minBytes || failed || left <= 0 || ctx.signal.aborted || reads.length === 0) break
    const waits: FetchWait[] = reads.map((r) => ({ topic: r.topic, partition: r.request.partition, offset: r.request.fetchOffset }))
    await waitForAnyData(broker.engine, waits, left, ctx.signal)
    reads = await readAll(broker, request)
  }
  return { kind: 'parts', parts: encode(ctx.version, reads) }
}

async function readAll(broker: BrokerContext, request: FetchRequest): Promise<PartitionRead[]> {
  const pending: Promise<PartitionRead>[] = []
  for (const t of request.topics) {
    for (const p of t.partitions) pending.push(readPartition(broker, t.topic, p))
  }
  const reads = await Promise.all(pending)
  // Whole-response limit (KIP-74): the first partition with data is always sent whole.
  let total = 0
  let sentAny = false
  for (const r of reads) {
    if (!r.range) continue
    if (sentAny && total + r.range.length > request.maxBytes) {
      r.range = null
      continue
    }
    total += r.range.length
    sentAny = true
  }
  return reads
}

async function readPartition(broker: BrokerContext, topic: string, p: FetchPartition): Promise<PartitionRead> {
  const read: PartitionRead = { topic, request: p, errorCode: ErrorCode.NONE, highWatermark: -1, logStartOffset: -1, range: null }
  const info = broker.topics.get(topic)
  const offsets = info && p.partition >= 0 && p.partition < info.partitions ? broker.engine.offsets(topic, p.partition) : undefined
  if (!offsets) {
    read.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    return read
  }
  read.highWatermark = offsets.highWatermark
  read.logStartOffset = offsets.logStartOffset
  if (p.fetchOffset < offsets.logStartOffset || p.fetchOffset > offsets.logEndOffset) {
    read.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE
    return read
  }
  if (p.fetchOffset >= offsets.highWatermark || p.partitionMaxBytes <= 0) return read
  try {
    const slice = await broker.engine.read(topic, p.partition, p.fetchOffset, p.partitionMaxBytes)
    read.errorCode = slice.errorCode
    read.highWatermark = slice.highWatermark
    read.logStartOffset = slice.logStartOffset
    if (slice.errorCode === ErrorCode.NONE && slice.segment && slice.segment.length > 0) {
      const s = slice.segment
      read.range = { file: s.fd !== undefined ? { fd: s.fd } : { path: s.path }, position: s.position, length: s.length }
    }
  } catch (error) {
    read.errorCode = toErrorPayload(error).code
  }
  return read
}

function encode(version: number, reads: readonly PartitionRead[]): ReturnType<FetchResponseBuilder['encode']> {
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
      records: r.range ? builder.placeholder(r.range) : Buffer.alloc(0),
    })
  }
  return builder.encode(version, { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses })
}
