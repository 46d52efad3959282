/**
 * `ringlog produce <topic>`: one record per input line (stdin or --file), like
 * kafka-console-producer / `kcat -P`.
 *
 * Lines are split into key and value at the first --key-separator (a line without it gets a
 * null key), packed per partition into RecordBatch v2 batches (encodeRecordBatch, optional
 * gzip/lz4), and sent as Produce requests holding at most one batch per partition (Kafka's
 * rule for v3+), up to MAX_IN_FLIGHT requests pipelined on one connection. Requests are
 * written in the order their batches were closed, and the broker appends a connection's
 * requests in order, so lines keep their order within a partition.
 *
 * Partitions: --partition N for all records; else a keyed record goes to murmur2(key) like
 * Kafka's Java client, and keyless records stick to one partition until its batch is sent
 * (KIP-480), as src/client/partitioner.ts does. A batch is closed when it reaches --batch-bytes
 * or has waited --linger-ms (so a slow interactive stdin still gets its lines sent).
 *
 * Prints how many records were acknowledged; partition errors make the exit code 1, and the
 * failure line names them. With --acks 0 nothing is acknowledged: the count is of records
 * written to the socket.
 */
import { Buffer } from 'node:buffer'
import { open } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import type { Command } from 'commander'
import { partitionForKey, StickyPartitioner } from '../client/partitioner.js'
import { errorFromCode } from '../errors.js'
import { Compression } from '../protocol/compression.js'
import { ErrorCode, errorCodeName } from '../protocol/error-codes.js'
import { encodeRecordBatch } from '../protocol/record-batch.js'
import type { RecordHeader, RecordInput } from '../protocol/records.js'
import { metadataRequest, parseKeyValues } from './topics.js'
import { ApiKey, type KafkaWireClient } from '../kafka-client/kafka-wire-client.js'
import { withBrokerConnections } from '../kafka-client/negotiated-client.js'
import { connectOptions, withBrokerLogin, type BrokerLoginOptions } from './broker-login.js'

const MAX_IN_FLIGHT = 5
const DEFAULT_BATCH_BYTES = 64 * 1024
const DEFAULT_LINGER_MS = 20
/** Rough per-record framing (length, attributes, deltas, key/value lengths) for batch sizing. */
const RECORD_OVERHEAD_BYTES = 16
const METADATA_ATTEMPTS = 50
const METADATA_RETRY_MS = 100

export type Acks = -1 | 0 | 1

export interface ProduceLinesOptions {
  topic: string
  /** Splits each line into key and value at its first occurrence; undefined: no keys. */
  keySeparator?: string
  /** Every record to this partition; undefined: the partitioner chooses. */
  partition?: number
  acks?: Acks
  /** Compression codec (Compression.none, gzip, snappy, lz4 or zstd). */
  compression?: number
  headers?: readonly RecordHeader[]
  batchBytes?: number
  lingerMs?: number
  timeoutMs?: number
  /**
   * A connection to a partition leader's address: each batch goes to its partition's leader (a
   * cluster). Without it every batch goes to `client`, which must lead them all (one broker).
   */
  clientAt?: (address: string) => Promise<KafkaWireClient>
}

export interface ProduceSummary {
  /** Records acknowledged (acks 1/-1) or written to the socket (acks 0). */
  produced: number
  failed: number
  /** One line per failed partition batch or request. */
  errors: string[]
}

export class ProduceCommandError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ProduceCommandError'
  }
}

/**
 * Each partition's leader address (undefined: none known), by partition index, so also the
 * partition count; Metadata may auto-create the topic, which takes a retry or two.
 */
export async function topicLeaders(client: KafkaWireClient, topic: string, allowAutoCreate: boolean): Promise<(string | undefined)[]> {
  const version = client.version(ApiKey.Metadata)
  for (let attempt = 0; attempt < METADATA_ATTEMPTS; attempt++) {
    const response = await client.request(ApiKey.Metadata, version, metadataRequest(version, [topic], allowAutoCreate))
    const found = response.topics.find((t) => t.name === topic)
    const code = found?.errorCode ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    if (code === ErrorCode.NONE && found && found.partitions.length > 0) {
      const addresses = new Map(response.brokers.map((b) => [b.nodeId, `${b.host}:${b.port}`]))
      const leaders: (string | undefined)[] = new Array(found.partitions.length).fill(undefined)
      for (const p of found.partitions) if (p.partitionIndex < leaders.length) leaders[p.partitionIndex] = addresses.get(p.leaderId)
      return leaders
    }
    if (code !== ErrorCode.LEADER_NOT_AVAILABLE && code !== ErrorCode.NONE) {
      throw errorFromCode(code, code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION ? `topic "${topic}" does not exist` : `Metadata for "${topic}": ${errorCodeName(code)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, METADATA_RETRY_MS))
  }
  throw new ProduceCommandError(`topic "${topic}" has no partitions available`)
}

interface OpenBatch {
  records: RecordInput[]
  bytes: number
  hasKeyless: boolean
}

/**
 * Produces one record per line. Resolves when every request was answered (or, acks 0, written);
 * connection failures and partition errors are counted in the summary, not thrown.
 */
export async function produceLines(client: KafkaWireClient, lines: AsyncIterable<string>, options: ProduceLinesOptions): Promise<ProduceSummary> {
  const { topic } = options
  const acks: Acks = options.acks ?? -1
  const compression = options.compression ?? Compression.none
  const batchBytes = options.batchBytes ?? DEFAULT_BATCH_BYTES
  const lingerMs = options.lingerMs ?? DEFAULT_LINGER_MS
  const timeoutMs = options.timeoutMs ?? 30_000
  const headers = options.headers ?? []
  const headerBytes = headers.reduce((sum, h) => sum + Buffer.byteLength(h.key) + (h.value?.length ?? 0) + 2, 0)
  const leaders = await topicLeaders(client, topic, true)
  const partitions = leaders.length
  if (options.partition !== undefined && (options.partition < 0 || options.partition >= partitions)) {
    throw new ProduceCommandError(`topic "${topic}" has partitions 0-${partitions - 1}, not ${options.partition}`)
  }
  const sticky = new StickyPartitioner()
  const open = new Map<number, OpenBatch>()
  const summary: ProduceSummary = { produced: 0, failed: 0, errors: [] }
  const inFlight = new Set<Promise<void>>()
  // Closed batches are sent through one chain, so requests hit the socket in closing order.
  let sendChain: Promise<void> = Promise.resolve()
  let lingerTimer: NodeJS.Timeout | undefined

  const fail = (count: number, message: string): void => {
    summary.failed += count
    summary.errors.push(message)
  }

  const sendBatches = async (closed: [number, RecordInput[]][]): Promise<void> => {
    while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight)
    const counts = new Map<number, number>()
    const partitionData: { index: number; records: Buffer }[] = []
    for (const [index, records] of closed) {
      try {
        partitionData.push({ index, records: encodeRecordBatch({ records, compression }) })
        counts.set(index, records.length)
      } catch (error) {
        fail(records.length, `partition ${index}: cannot encode batch: ${(error as Error).message}`)
      }
    }
    // One request per leader, each on that leader's connection (opened in closing order, so a
    // partition's requests reach its leader in order).
    const byTarget = new Map<string | undefined, { index: number; records: Buffer }[]>()
    for (const data of partitionData) {
      const target = options.clientAt ? leaders[data.index] : undefined
      const group = byTarget.get(target)
      if (group) group.push(data)
      else byTarget.set(target, [data])
    }
    for (const [target, data] of byTarget) {
      let connection: KafkaWireClient
      try {
        connection = target !== undefined && options.clientAt ? await options.clientAt(target) : client
      } catch (error) {
        for (const d of data) fail(counts.get(d.index) ?? 0, `partition ${d.index}: cannot connect to its leader ${target}: ${(error as Error).message}`)
        continue
      }
      sendRequest(connection, data, new Map(data.map((d) => [d.index, counts.get(d.index) ?? 0])))
    }
  }

  /** One Produce request of these partitions' batches on `connection`; its outcome goes into the summary. */
  const sendRequest = (connection: KafkaWireClient, partitionData: { index: number; records: Buffer }[], counts: Map<number, number>): void => {
    const body = { transactionalId: null, acks, timeoutMs, topicData: [{ name: topic, partitionData }] }
    const total = [...counts.values()].reduce((a, b) => a + b, 0)
    let done: Promise<void>
    if (acks === 0) {
      done = connection.send(ApiKey.Produce, connection.version(ApiKey.Produce), body).then(
        () => { summary.produced += total },
        (error: Error) => fail(total, `Produce failed: ${error.message}`),
      )
    } else {
      done = connection.request(ApiKey.Produce, connection.version(ApiKey.Produce), body, { timeoutMs: timeoutMs + 5000 }).then(
        (response) => {
          const answered = new Set<number>()
          for (const t of response.responses) {
            if (t.name !== topic) continue
            for (const p of t.partitionResponses) {
              const count = counts.get(p.index)
              if (count === undefined || answered.has(p.index)) continue
              answered.add(p.index)
              if (p.errorCode === ErrorCode.NONE) summary.produced += count
              else fail(count, `partition ${p.index}: ${errorCodeName(p.errorCode)}${p.errorMessage ? ` (${p.errorMessage})` : ''}`)
            }
          }
          for (const [index, count] of counts) if (!answered.has(index)) fail(count, `partition ${index}: no answer in the Produce response`)
        },
        (error: Error) => fail(total, `Produce failed: ${error.message}`),
      )
    }
    inFlight.add(done)
    void done.finally(() => inFlight.delete(done))
  }

  /** Closes the open batches of `which` (all if undefined) and queues them for sending. */
  const flush = (which?: number): Promise<void> => {
    const closed: [number, RecordInput[]][] = []
    for (const [index, batch] of open) {
      if (which !== undefined && index !== which) continue
      closed.push([index, batch.records])
      open.delete(index)
      if (batch.hasKeyless) sticky.batchSent(topic, partitions)
    }
    if (open.size === 0 && lingerTimer) {
      clearTimeout(lingerTimer)
      lingerTimer = undefined
    }
    if (closed.length === 0) return sendChain
    sendChain = sendChain.then(() => sendBatches(closed))
    return sendChain
  }

  for await (const line of lines) {
    let key: string | null = null
    let value = line
    if (options.keySeparator !== undefined) {
      const at = line.indexOf(options.keySeparator)
      if (at >= 0) {
        key = line.slice(0, at)
        value = line.slice(at + options.keySeparator.length)
      }
    }
    const keyBytes = key === null ? null : Buffer.from(key)
    const partition = options.partition
      ?? (keyBytes !== null ? partitionForKey(keyBytes, partitions) : sticky.partition(topic, partitions))
    let batch = open.get(partition)
    if (!batch) {
      batch = { records: [], bytes: 0, hasKeyless: false }
      open.set(partition, batch)
    }
    batch.records.push({ key: keyBytes, value, headers: headers.length > 0 ? [...headers] : undefined, timestamp: Date.now() })
    batch.bytes += (keyBytes?.length ?? 0) + Buffer.byteLength(value) + headerBytes + RECORD_OVERHEAD_BYTES
    if (keyBytes === null) batch.hasKeyless = true
    if (batch.bytes >= batchBytes) {
      // Waiting here is the backpressure: no more lines are read while requests are full.
      await flush(partition)
    } else if (!lingerTimer) {
      lingerTimer = setTimeout(() => {
        lingerTimer = undefined
        void flush()
      }, lingerMs)
    }
  }
  await flush()
  await sendChain
  await Promise.all(inFlight)
  return summary
}

/**
 * Lines of a stream (\n or \r\n); a final line without a newline counts, a final newline adds
 * none. A read error ends the lines and is thrown after them.
 */
export async function* readLines(input: Readable): AsyncGenerator<string> {
  let failure: Error | undefined
  const lines = createInterface({ input, crlfDelay: Infinity })
  input.once('error', (error: Error) => {
    failure = error
    lines.close()
  })
  for await (const line of lines) yield line
  if (failure) throw failure
}

const ACKS: Record<string, Acks> = { all: -1, '-1': -1, '1': 1, '0': 0 }
const COMPRESSIONS: Record<string, number> = { none: Compression.none, gzip: Compression.gzip, snappy: Compression.snappy, lz4: Compression.lz4, zstd: Compression.zstd }

interface ProduceCliOptions extends BrokerLoginOptions {
  keySeparator?: string
  partition?: string
  acks: string
  compression: string
  header?: string[]
  file?: string
  batchBytes?: string
  lingerMs?: string
}

/** Shown failed batches, at most; the rest are counted. */
const SHOWN_ERRORS = 3

/** The one line a failed produce ends with: how many records failed and why (distinct reasons first). */
export function failureMessage(summary: ProduceSummary): string {
  const reasons = [...new Set(summary.errors)]
  const shown = reasons.slice(0, SHOWN_ERRORS).join('; ')
  const more = reasons.length > SHOWN_ERRORS ? `; and ${reasons.length - SHOWN_ERRORS} more` : ''
  return `${summary.failed} record${summary.failed === 1 ? '' : 's'} not produced: ${shown}${more}`
}

function nonNegativeInteger(value: string, what: string): number {
  const n = Number(value)
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new ProduceCommandError(`${what} must be a non-negative integer, got "${value}"`)
  return n
}

export function register(program: Command): void {
  withBrokerLogin(program.command('produce <topic>'))
    .description('produce one record per line of stdin (or --file)')
    .option('-K, --key-separator <sep>', 'split each line into key and value at the first <sep> (no <sep> in a line: null key)')
    .option('-p, --partition <n>', 'produce every record to this partition')
    .option('--acks <acks>', 'all | 1 | 0', 'all')
    .option('-z, --compression <codec>', 'none | gzip | snappy | lz4 | zstd', 'none')
    .option('-H, --header <key=value>', 'header added to every record (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('-f, --file <path>', 'read lines from this file instead of stdin')
    .option('--batch-bytes <n>', `close a partition's batch at about this many bytes (default ${DEFAULT_BATCH_BYTES})`)
    .option('--linger-ms <n>', `send a batch after at most this long (default ${DEFAULT_LINGER_MS})`)
    .action(async (topic: string, options: ProduceCliOptions) => {
      const acks = ACKS[options.acks]
      if (acks === undefined) throw new ProduceCommandError(`--acks must be all, 1 or 0, got "${options.acks}"`)
      const compression = COMPRESSIONS[options.compression]
      if (compression === undefined) throw new ProduceCommandError(`--compression must be none, gzip, snappy, lz4 or zstd, got "${options.compression}"`)
      if (options.keySeparator === '') throw new ProduceCommandError('--key-separator must not be empty')
      const headers = Object.entries(parseKeyValues(options.header ?? [], '--header')).map(([key, value]) => ({ key, value: Buffer.from(value) }))
      // Opened up front so a missing file is a plain error before anything connects.
      const input = options.file ? (await open(options.file, 'r')).createReadStream() : process.stdin
      // Each partition's batches go to its leader (a cluster), over connections closed when the command ends.
      const summary = await withBrokerConnections(options.bootstrap, (client, clientAt) => produceLines(client, readLines(input), {
        clientAt,
        topic,
        keySeparator: options.keySeparator,
        partition: options.partition === undefined ? undefined : nonNegativeInteger(options.partition, '--partition'),
        acks,
        compression,
        headers,
        batchBytes: options.batchBytes === undefined ? undefined : Math.max(1, nonNegativeInteger(options.batchBytes, '--batch-bytes')),
        lingerMs: options.lingerMs === undefined ? undefined : nonNegativeInteger(options.lingerMs, '--linger-ms'),
      }), connectOptions(options, 'ringlog-produce'))
      const verb = acks === 0 ? 'sent (acks=0, unconfirmed)' : 'produced'
      process.stdout.write(`${verb} ${summary.produced} record${summary.produced === 1 ? '' : 's'} to ${topic}\n`)
      if (summary.failed > 0) throw new ProduceCommandError(failureMessage(summary))
    })
}
