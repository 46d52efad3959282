/**
 * Produce v0-11.
 *
 * v0-2 carry message format v0/v1 (magic 0/1 message sets): each partition's set is checked
 * and up-converted to one RecordBatch v2 here, on the main thread
 * (protocol/message-set-upconvert.ts), then appended like any batch. Only old clients send
 * these, so the decompression this costs the main thread is paid by them alone. librdkafka
 * (kcat, confluent-kafka) also needs v0 advertised to enable gzip and lz4 at all.
 *
 * Parses only down to each partition's records bytes and hands them, untouched, to
 * `engine.appendBatches` (the owning worker checks CRC, lengths, compression bombs and
 * producer sequences; this thread never decompresses). Every append starts synchronously, in
 * request order, so a connection's batches for one partition land in the order sent.
 * acks 1 and -1 answer per partition with baseOffset, logAppendTimeMs and logStartOffset;
 * acks 0 sends no response, and closes the connection if an append failed (as Kafka does, so
 * the client notices); any other acks value gets INVALID_REQUIRED_ACKS for every partition.
 * Unknown topic or partition: UNKNOWN_TOPIC_OR_PARTITION (produce never creates topics; the
 * client's Metadata request does). A missing or empty record set: CORRUPT_MESSAGE. Engine
 * errors keep their Kafka codes (CORRUPT_MESSAGE, MESSAGE_TOO_LARGE, INVALID_RECORD,
 * DUPLICATE_SEQUENCE_NUMBER, OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH, ...).
 *
 * Authorization: WRITE on the topic, else TOPIC_AUTHORIZATION_FAILED for each of its partitions
 * (checked before the topic's existence, so a denied principal learns nothing about it).
 *
 * Left out: transactions (a transactionalId is not checked; InitProducerId refuses
 * transactional ids, so conforming clients never send one), per-record errors (recordErrors is
 * always empty), the request timeout single-node (acks=-1 waits for the flush policy, which is local).
 *
 * Cluster mode: only the leader appends (NOT_LEADER_OR_FOLLOWER elsewhere); acks=-1 is refused
 * with NOT_ENOUGH_REPLICAS when the ISR is below min.insync.replicas, and answered once the HW
 * (min log end over the ISR) passes the batch: REQUEST_TIMED_OUT after timeoutMs,
 * NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR is then below min.insync.replicas (a shrink moves
 * the HW by itself, so the HW alone is not enough: ClusterNode.awaitReplication).
 */
import type { Acks, AppendResult, LogEngine } from '../../engine/log-engine.js'
import type { ClusterView } from '../../core/cluster-view.js'
import { toErrorPayload } from '../../errors.js'
import { ErrorCode } from '../../protocol/error-codes.js'
import type { PartitionProduceResponse, ProduceRequest, ProduceResponse } from '../../protocol/messages/produce.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/produce.js'
import type { EncodeInput } from '../../protocol/primitives.js'
import { upConvertMessageSet } from '../../protocol/message-set-upconvert.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 0
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

/** Produce v0-2 carry message format v0/v1; v3 brought RecordBatch v2. */
const LEGACY_FORMAT_VERSIONS_END = 3

/** A v0-2 partition's message set as a v2 batch, or the error that refuses it. */
function upConvert(records: Buffer): Buffer | Error {
  try {
    return upConvertMessageSet(records)
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error))
  }
}

function isAcks(value: number): value is Acks {
  return value === -1 || value === 0 || value === 1
}

function failed(errorCode: number, errorMessage: string | null): AppendResult {
  return { errorCode, errorMessage, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 }
}

/** One shared rejection handler (no closure per partition): engine errors keep their Kafka code. */
function appendFailed(error: unknown): AppendResult {
  const payload = toErrorPayload(error)
  return failed(payload.code, payload.message)
}

interface Append {
  topic: string
  partition: number
  result: Promise<AppendResult> | AppendResult
}

export function handle(request: ProduceRequest, ctx: RequestContext): HandlerReply<ProduceResponse> | Promise<HandlerReply<ProduceResponse>> {
  const { broker } = ctx
  const acks = request.acks
  const appends: Append[] = []
  for (const t of request.topicData) {
    const info = broker.topics.get(t.name)
    const authorized = ctx.access.topic(t.name)
    for (const p of t.partitionData) {
      let result: Promise<AppendResult> | AppendResult
      if (!authorized) {
        result = failed(ErrorCode.TOPIC_AUTHORIZATION_FAILED, `not authorized to write to topic ${t.name}`)
      } else if (!isAcks(acks)) {
        result = failed(ErrorCode.INVALID_REQUIRED_ACKS, `acks must be -1, 0 or 1, got ${acks}`)
      } else if (!info || p.index < 0 || p.index >= info.partitions) {
        result = failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `unknown partition ${t.name}-${p.index}`)
      } else if (p.records === null || p.records.length === 0) {
        result = failed(ErrorCode.CORRUPT_MESSAGE, 'empty record set')
      } else {
        const records = ctx.version < LEGACY_FORMAT_VERSIONS_END ? upConvert(p.records) : p.records
        if (records instanceof Error) {
          result = appendFailed(records)
        } else if (broker.cluster) {
          result = clusterAppend(broker.cluster, broker.engine, t.name, p.index, records, acks, request.timeoutMs)
        } else {
          // Called now, not after an await: this is what keeps the connection's append order.
          result = broker.engine.appendBatches(t.name, p.index, records, acks).catch(appendFailed)
        }
      }
      appends.push({ topic: t.name, partition: p.index, result })
    }
  }
  if (acks === 0) return settleAll(appends).then((results) => closeOnFailure(appends, results))
  // The common case, one appending partition: one promise reaction, no Promise.all. Refusals
  // still answer through a promise, as before, so they never overtake an earlier acks=0 append
  // by more than they used to.
  const only = appends.length === 1 ? appends[0].result : null
  if (only instanceof Promise) return only.then((r) => respond(appends, [r]))
  return settleAll(appends).then((results) => respond(appends, results))
}

/**
 * Cluster mode: only the leader appends; acks=all needs min.insync.replicas in the ISR before the
 * append and is answered once the HW passes the appended offsets (REQUEST_TIMED_OUT after the
 * request's timeout). The append itself starts synchronously, like the single-node path.
 */
function clusterAppend(cluster: ClusterView, engine: LogEngine, topic: string, partition: number, records: Buffer, acks: Acks, timeoutMs: number): Promise<AppendResult> | AppendResult {
  const leader = cluster.checkLeader(topic, partition, -1)
  if (leader !== ErrorCode.NONE) return failed(leader, `this broker does not lead ${topic}-${partition}`)
  if (acks === -1) {
    const insync = cluster.checkMinInsync(topic, partition)
    if (insync !== ErrorCode.NONE) return failed(insync, `${topic}-${partition}: the ISR is smaller than min.insync.replicas`)
  }
  // acks=all: answered by the worker once the batch is in the log (page cache), so parked follower
  // fetches wake before the leader's own fdatasync (Kafka's followers read unflushed data too);
  // the flush policy still holds for the answer: under 'always' the HW never passes the flushed end.
  return engine.appendBatches(topic, partition, records, acks === -1 ? 1 : acks).then(async (r) => {
    if (r.errorCode !== ErrorCode.NONE) return r
    cluster.onLeaderAppend(topic, partition)
    if (acks !== -1) return r
    // Conservative: the log end right after this append covers this request's batches.
    const lastOffset = (engine.offsets(topic, partition)?.logEndOffset ?? r.baseOffset + 1) - 1
    const code = await cluster.awaitReplication(topic, partition, lastOffset, timeoutMs)
    return code === ErrorCode.NONE ? r : failed(code, `${topic}-${partition}: not replicated to the ISR (${code})`)
  }, appendFailed)
}

function settleAll(appends: readonly Append[]): Promise<AppendResult[]> {
  return Promise.all(appends.map((a) => a.result))
}

function closeOnFailure(appends: readonly Append[], results: readonly AppendResult[]): HandlerReply<ProduceResponse> {
  const i = results.findIndex((r) => r.errorCode !== ErrorCode.NONE)
  if (i < 0) return { kind: 'none' }
  return { kind: 'close', reason: `acks=0 produce to ${appends[i].topic}-${appends[i].partition} failed: ${results[i].errorMessage ?? results[i].errorCode}` }
}

function respond(appends: readonly Append[], results: readonly AppendResult[]): HandlerReply<ProduceResponse> {
  const responses: { name: string; partitionResponses: EncodeInput<PartitionProduceResponse>[] }[] = []
  for (let i = 0; i < appends.length; i++) {
    const { topic, partition } = appends[i]
    const r = results[i]
    let entry = responses[responses.length - 1]
    if (!entry || entry.name !== topic) {
      entry = { name: topic, partitionResponses: [] }
      responses.push(entry)
    }
    const ok = r.errorCode === ErrorCode.NONE
    entry.partitionResponses.push({
      index: partition,
      errorCode: r.errorCode,
      baseOffset: ok ? r.baseOffset : -1,
      logAppendTimeMs: ok ? r.logAppendTimeMs : -1,
      logStartOffset: r.logStartOffset,
      recordErrors: NO_RECORD_ERRORS,
      errorMessage: ok ? null : r.errorMessage,
    })
  }
  return { kind: 'message', message: { responses, throttleTimeMs: 0 } }
}

/** Shared and never mutated: per-record errors are not reported (see the header). */
const NO_RECORD_ERRORS: readonly never[] = []
