/**
 * `ringlog consume <topic>`: prints records with plain Fetch requests (no consumer group, no
 * committed offsets), like `kcat -C` / kafka-console-consumer without --group.
 *
 * Start: --from-beginning (ListOffsets earliest), --offset N, or by default the end (ListOffsets
 * latest: only new records). Every selected partition is fetched in one long-polling request;
 * each answer is decoded batch by batch (decodeRecordBatch checks the CRC), records before the
 * requested offset (a batch may start earlier) and control batches are skipped, and the next
 * offset is the batch's last offset + 1. --exit-at-end stops a partition once its position
 * reaches the high watermark of an answer (as `kcat -e`); --max-messages stops after N records.
 *
 * Output: one line per record, `--format` with %t topic, %p partition, %o offset, %k key,
 * %v value, %T timestamp, %h headers (k=v,...), %% and \n \t \\ escapes (default %v), ended by a
 * newline unless the format ends with its own; or --json: one JSON object per line with offset,
 * timestamp and headers. Keys, values and header
 * values print as UTF-8; a null key or value prints as nothing (JSON: null).
 */
import type { Command } from 'commander'
import { CorruptRecordError, errorFromCode } from '../errors.js'
import { ErrorCode, errorCodeName } from '../protocol/error-codes.js'
import { BatchAttribute, decodeRecordBatch, recordOffset, recordTimestamp, splitBatches } from '../protocol/record-batch.js'
import type { RecordHeader } from '../protocol/records.js'
import { metadataRequest } from './topics.js'
import { ApiKey, type KafkaWireClient } from '../kafka-client/kafka-wire-client.js'
import { withWireClient } from '../kafka-client/negotiated-client.js'
import { connectOptions, withBrokerLogin, type BrokerLoginOptions } from './broker-login.js'

const EARLIEST_TIMESTAMP = -2
const LATEST_TIMESTAMP = -1
const INITIAL_PARTITION_MAX_BYTES = 1024 * 1024
/** A batch bigger than this cannot be fetched: the broker's message.max.bytes is far below. */
const LARGEST_PARTITION_MAX_BYTES = 128 * 1024 * 1024
const FETCH_MAX_BYTES = 64 * 1024 * 1024
const DEFAULT_MAX_WAIT_MS = 500

const FETCH_BY_NAME_MAX_VERSION = 12

export type StartPosition = { from: 'beginning' } | { from: 'end' } | { from: 'offset'; offset: number }

export interface ConsumedRecord {
  topic: string
  partition: number
  offset: number
  timestamp: number
  key: Buffer | null
  value: Buffer | null
  headers: RecordHeader[]
}

export interface ConsumeOptions {
  topic: string
  /** Only this partition; undefined: all of the topic's partitions. */
  partition?: number
  start: StartPosition
  maxMessages?: number
  exitAtEnd?: boolean
  maxWaitMs?: number
  /** Called with each fetch answer's records, in offset order per partition; awaited. */
  onRecords(records: ConsumedRecord[]): void | Promise<void>
  /** Stops the loop after the current fetch. */
  signal?: AbortSignal
}

export class ConsumeCommandError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConsumeCommandError'
  }
}

async function topicPartitions(client: KafkaWireClient, topic: string): Promise<number[]> {
  const version = client.version(ApiKey.Metadata)
  const response = await client.request(ApiKey.Metadata, version, metadataRequest(version, [topic], false))
  const found = response.topics.find((t) => t.name === topic)
  const code = found?.errorCode ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
  if (code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) throw errorFromCode(code, `topic "${topic}" does not exist`)
  if (code !== ErrorCode.NONE || !found) throw new ConsumeCommandError(`Metadata for "${topic}": ${errorCodeName(code)}`)
  return found.partitions.map((p) => p.partitionIndex).sort((a, b) => a - b)
}

async function listOffsets(client: KafkaWireClient, topic: string, partitions: readonly number[], timestamp: number): Promise<Map<number, number>> {
  const response = await client.request(ApiKey.ListOffsets, client.version(ApiKey.ListOffsets), {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex, currentLeaderEpoch: -1, timestamp })) }],
  })
  const offsets = new Map<number, number>()
  for (const t of response.topics) {
    if (t.name !== topic) continue
    for (const p of t.partitions) {
      if (p.errorCode !== ErrorCode.NONE) throw new ConsumeCommandError(`ListOffsets for ${topic}-${p.partitionIndex}: ${errorCodeName(p.errorCode)}`)
      offsets.set(p.partitionIndex, p.offset)
    }
  }
  for (const p of partitions) if (!offsets.has(p)) throw new ConsumeCommandError(`ListOffsets gave no offset for ${topic}-${p}`)
  return offsets
}

interface PartitionCursor {
  partition: number
  position: number
  maxBytes: number
}

/** Fetches and hands over records until the end condition; resolves with the count consumed. */
export async function consumeRecords(client: KafkaWireClient, options: ConsumeOptions): Promise<number> {
  const { topic } = options
  const all = await topicPartitions(client, topic)
  if (options.partition !== undefined && !all.includes(options.partition)) {
    throw new ConsumeCommandError(`topic "${topic}" has no partition ${options.partition} (it has ${all.length})`)
  }
  const selected = options.partition === undefined ? all : [options.partition]
  const start = options.start
  const positions = start.from === 'offset'
    ? new Map(selected.map((p) => [p, start.offset]))
    : await listOffsets(client, topic, selected, start.from === 'beginning' ? EARLIEST_TIMESTAMP : LATEST_TIMESTAMP)
  const cursors = new Map<number, PartitionCursor>(selected.map((partition) => [partition, { partition, position: positions.get(partition)!, maxBytes: INITIAL_PARTITION_MAX_BYTES }]))
  // This command names topics; from v13 Fetch takes topic ids instead.
  const version = client.version(ApiKey.Fetch, { max: FETCH_BY_NAME_MAX_VERSION })
  const maxMessages = options.maxMessages ?? Infinity
  let consumed = 0

  while (cursors.size > 0 && consumed < maxMessages && !options.signal?.aborted) {
    const response = await client.request(ApiKey.Fetch, version, {
      replicaId: -1,
      maxWaitMs: options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS,
      minBytes: 1,
      maxBytes: FETCH_MAX_BYTES,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{
        topic,
        partitions: [...cursors.values()].map((c) => ({ partition: c.partition, currentLeaderEpoch: -1, fetchOffset: c.position, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: c.maxBytes })),
      }],
      forgottenTopicsData: [],
      rackId: '',
    }, { timeoutMs: (options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS) + 30_000 })
    if (response.errorCode !== ErrorCode.NONE) throw new ConsumeCommandError(`Fetch: ${errorCodeName(response.errorCode)}`)
    const out: ConsumedRecord[] = []
    for (const t of response.responses) {
      if (t.topic !== topic) continue
      for (const p of t.partitions) {
        const cursor = cursors.get(p.partitionIndex)
        if (!cursor) continue
        if (p.errorCode !== ErrorCode.NONE) {
          const detail = p.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE ? ` (offset ${cursor.position}; log start ${p.logStartOffset}, high watermark ${p.highWatermark})` : ''
          throw new ConsumeCommandError(`Fetch ${topic}-${p.partitionIndex}: ${errorCodeName(p.errorCode)}${detail}`)
        }
        consumed += takeRecords(topic, cursor, p.records, out, maxMessages - consumed)
        if (consumed >= maxMessages) break
        if (options.exitAtEnd && cursor.position >= p.highWatermark) cursors.delete(p.partitionIndex)
      }
    }
    if (out.length > 0) await options.onRecords(out)
  }
  return consumed
}

/** Decodes whole batches from a partition's record bytes into `out`; advances the cursor. */
function takeRecords(topic: string, cursor: PartitionCursor, records: Buffer | null, out: ConsumedRecord[], limit: number): number {
  if (!records || records.length === 0) return 0
  const { batches } = splitBatches(records)
  if (batches.length === 0) {
    // Only part of one batch fit (KIP-74 should prevent it): ask for more next time.
    if (cursor.maxBytes >= LARGEST_PARTITION_MAX_BYTES) throw new ConsumeCommandError(`${topic}-${cursor.partition}: batch at offset ${cursor.position} exceeds ${LARGEST_PARTITION_MAX_BYTES} bytes`)
    cursor.maxBytes *= 2
    return 0
  }
  let taken = 0
  for (const { offset } of batches) {
    let batch
    try {
      batch = decodeRecordBatch(records, offset)
    } catch (error) {
      throw new CorruptRecordError(`${topic}-${cursor.partition} near offset ${cursor.position}: ${(error as Error).message}`)
    }
    const { header } = batch
    const nextPosition = header.baseOffset + header.lastOffsetDelta + 1
    if (nextPosition <= cursor.position) continue
    if ((header.attributes & BatchAttribute.Control) === 0) {
      for (const record of batch.records) {
        const at = recordOffset(header, record)
        if (at < cursor.position) continue
        if (taken >= limit) return taken
        out.push({ topic, partition: cursor.partition, offset: at, timestamp: recordTimestamp(header, record), key: record.key, value: record.value, headers: record.headers })
        taken++
        cursor.position = at + 1
      }
    }
    cursor.position = nextPosition
  }
  return taken
}

function utf8(b: Buffer | null): string {
  return b === null ? '' : b.toString('utf8')
}

/** Renders one record with a --format string (tokens and escapes as in the file header). */
export function formatRecord(format: string, r: ConsumedRecord): string {
  return format.replace(/%[tpokvTh%]|\\[nt\\]/g, (token) => {
    switch (token) {
      case '%t': return r.topic
      case '%p': return String(r.partition)
      case '%o': return String(r.offset)
      case '%k': return utf8(r.key)
      case '%v': return utf8(r.value)
      case '%T': return String(r.timestamp)
      case '%h': return r.headers.map((h) => `${h.key}=${utf8(h.value)}`).join(',')
      case '%%': return '%'
      case '\\n': return '\n'
      case '\\t': return '\t'
      default: return '\\'
    }
  })
}

/** Every field non-empty and without a newline, so only the format's own text can end in one. */
const PROBE_RECORD: ConsumedRecord = {
  topic: 't', partition: 0, offset: 0, timestamp: 0, key: Buffer.from('k'), value: Buffer.from('v'), headers: [{ key: 'h', value: Buffer.from('v') }],
}

/**
 * What follows each formatted record: a newline, unless the format ends with one of its own
 * (`-F '%v\n'`, the kcat habit), which then replaces it instead of adding a blank line.
 * Decided once from the format itself, never from record contents.
 */
export function lineEnd(format: string): string {
  return formatRecord(format, PROBE_RECORD).endsWith('\n') ? '' : '\n'
}

export function recordToJson(r: ConsumedRecord): string {
  return JSON.stringify({
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key === null ? null : r.key.toString('utf8'),
    value: r.value === null ? null : r.value.toString('utf8'),
    headers: r.headers.map((h) => ({ key: h.key, value: h.value === null ? null : h.value.toString('utf8') })),
  })
}

/** Writes to stdout and waits while its buffer is full, so a slow reader slows the fetching. */
function writeStdout(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (process.stdout.write(text)) return resolve()
    const onDrain = (): void => {
      process.stdout.off('error', onError)
      resolve()
    }
    const onError = (error: Error): void => {
      process.stdout.off('drain', onDrain)
      reject(error)
    }
    process.stdout.once('drain', onDrain)
    process.stdout.once('error', onError)
  })
}

interface ConsumeCliOptions extends BrokerLoginOptions {
  partition?: string
  fromBeginning?: boolean
  offset?: string
  maxMessages?: string
  exitAtEnd?: boolean
  format: string
  json?: boolean
}

function nonNegativeInteger(value: string, what: string): number {
  const n = Number(value)
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new ConsumeCommandError(`${what} must be a non-negative integer, got "${value}"`)
  return n
}

export function register(program: Command): void {
  withBrokerLogin(program.command('consume <topic>'))
    .description('print records of a topic, one per line (plain Fetch, no consumer group)')
    .option('-p, --partition <n>', 'only this partition (default: all)')
    .option('--from-beginning', 'start at the log start (default: the end, only new records)')
    .option('-o, --offset <n>', 'start at this offset')
    .option('-c, --max-messages <n>', 'exit after this many records')
    .option('-e, --exit-at-end', 'exit once every partition is read up to its high watermark')
    .option('-F, --format <format>', 'line format: %t %p %o %k %v %T %h %% and \\n \\t escapes; a newline follows unless the format ends with \\n', '%v')
    .option('--json', 'one JSON object per record (topic, partition, offset, timestamp, key, value, headers)')
    .action(async (topic: string, options: ConsumeCliOptions) => {
      if (options.fromBeginning && options.offset !== undefined) throw new ConsumeCommandError('--from-beginning and --offset exclude each other')
      const start: StartPosition = options.offset !== undefined
        ? { from: 'offset', offset: nonNegativeInteger(options.offset, '--offset') }
        : options.fromBeginning ? { from: 'beginning' } : { from: 'end' }
      const render = options.json ? recordToJson : (r: ConsumedRecord) => formatRecord(options.format, r)
      const end = options.json ? '\n' : lineEnd(options.format)
      const stop = new AbortController()
      process.stdout.on('error', (error: NodeJS.ErrnoException) => {
        // The reader went away (`| head`): stop quietly instead of failing on every write.
        if (error.code === 'EPIPE') stop.abort()
      })
      await withWireClient(options.bootstrap, (client) => consumeRecords(client, {
        topic,
        partition: options.partition === undefined ? undefined : nonNegativeInteger(options.partition, '--partition'),
        start,
        maxMessages: options.maxMessages === undefined ? undefined : nonNegativeInteger(options.maxMessages, '--max-messages'),
        exitAtEnd: options.exitAtEnd,
        signal: stop.signal,
        onRecords: (records) => (stop.signal.aborted ? undefined : writeStdout(records.map((r) => render(r) + end).join(''))),
      }), connectOptions(options, 'ringlog-consume'))
    })
}
