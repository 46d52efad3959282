/**
 * A tiny Kafka-speaking TCP sink, to measure the load generator alone (no log, no disk) and
 * to test it without a broker. It answers ApiVersions v0, Metadata (itself as the only
 * broker and leader), CreateTopics, ListOffsets and Produce, counting records from batch
 * headers only. With `retain` it also keeps what it was sent (offsets stamped) and serves
 * Fetch from memory, so records can be read back; without it, Produce payloads are dropped.
 * It checks no CRC and enforces nothing: it is a test double, not a broker.
 */
import { Buffer } from 'node:buffer'
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { ErrorCode } from '../../protocol/error-codes.js'
import { FrameDecoder } from '../../protocol/frame.js'
import { decodeRequestHeader, encodeResponseHeader, responseHeaderVersion } from '../../protocol/headers.js'
import { API_CODECS, type ApiCodec } from '../../protocol/messages/index.js'
import type { FetchRequest, FetchResponse } from '../../protocol/messages/fetch.js'
import type { ListOffsetsRequest, ListOffsetsResponse } from '../../protocol/messages/list-offsets.js'
import type { MetadataRequest, MetadataResponse } from '../../protocol/messages/metadata.js'
import type { CreateTopicsRequest, CreateTopicsResponse } from '../../protocol/messages/create-topics.js'
import type { ProduceRequest, ProduceResponse } from '../../protocol/messages/produce.js'
import { Reader, Writer, ZERO_UUID, type EncodeInput } from '../../protocol/primitives.js'
import { batchSizeAt, BATCH_HEADER_SIZE, setBaseOffset, RECORD_COUNT_OFFSET, LAST_OFFSET_DELTA_OFFSET } from '../../protocol/record-batch.js'
import { API_VERSIONS_API, CREATE_TOPICS_API, FETCH_API, LIST_OFFSETS_API, METADATA_API, PRODUCE_API } from './cluster.js'

export interface LoadgenSinkOptions {
  host?: string
  /** 0 (default) picks a free port. */
  port?: number
  /** Keep produced batches and serve Fetch (default false: drop them). */
  retain?: boolean
}

export interface LoadgenSinkStats {
  produceRequests: number
  records: number
  bytes: number
}

interface StoredBatch {
  baseOffset: number
  lastOffset: number
  bytes: Buffer
}

interface SinkPartition {
  nextOffset: number
  batches: StoredBatch[]
}

const SUPPORTED: readonly ApiCodec<never, never>[] = [PRODUCE_API, FETCH_API, LIST_OFFSETS_API, METADATA_API, API_VERSIONS_API, CREATE_TOPICS_API] as unknown as ApiCodec<never, never>[]

export class LoadgenSink {
  readonly stats: LoadgenSinkStats = { produceRequests: 0, records: 0, bytes: 0 }
  private readonly topics = new Map<string, SinkPartition[]>()
  private readonly sockets = new Set<Socket>()
  private readonly writer = new Writer(64 * 1024)

  private constructor(private readonly server: Server, readonly host: string, readonly port: number, private readonly retain: boolean) {}

  static start(options: LoadgenSinkOptions = {}): Promise<LoadgenSink> {
    const host = options.host ?? '127.0.0.1'
    return new Promise((resolve, reject) => {
      const server = createServer()
      server.once('error', reject)
      server.listen(options.port ?? 0, host, () => {
        const sink = new LoadgenSink(server, host, (server.address() as AddressInfo).port, options.retain ?? false)
        server.on('connection', (socket) => sink.accept(socket))
        resolve(sink)
      })
    })
  }

  get address(): string {
    return `${this.host}:${this.port}`
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket)
    socket.setNoDelay(true)
    const decoder = new FrameDecoder()
    socket.on('close', () => this.sockets.delete(socket))
    socket.on('error', () => socket.destroy())
    socket.on('data', (chunk: Buffer) => {
      let frames: Buffer[]
      try {
        frames = decoder.push(chunk)
      } catch {
        socket.destroy()
        return
      }
      if (frames.length > 1) socket.cork()
      try {
        for (const frame of frames) this.onRequest(socket, frame)
      } catch {
        socket.destroy()
      } finally {
        if (frames.length > 1) socket.uncork()
      }
    })
  }

  private onRequest(socket: Socket, frame: Buffer): void {
    const r = new Reader(frame)
    const header = decodeRequestHeader(r)
    const { apiKey, apiVersion: version, correlationId } = header
    if (apiKey === API_VERSIONS_API.apiKey) {
      // Unknown versions get a v0 answer with UNSUPPORTED_VERSION, as Kafka does.
      const supported = version <= API_VERSIONS_API.maxVersion
      this.reply(socket, API_VERSIONS_API, supported ? version : 0, correlationId, {
        errorCode: supported ? ErrorCode.NONE : ErrorCode.UNSUPPORTED_VERSION,
        apiKeys: SUPPORTED.map((api) => ({ apiKey: api.apiKey, minVersion: api.minVersion, maxVersion: api.maxVersion })),
      })
      return
    }
    const api = API_CODECS.get(apiKey)
    if (!api || !SUPPORTED.some((s) => s.apiKey === apiKey) || version < api.minVersion || version > api.maxVersion) {
      socket.destroy()
      return
    }
    switch (apiKey) {
      case PRODUCE_API.apiKey: return this.produce(socket, version, correlationId, PRODUCE_API.decodeRequest(r, version))
      case FETCH_API.apiKey: return this.reply(socket, FETCH_API, version, correlationId, this.fetch(FETCH_API.decodeRequest(r, version)))
      case LIST_OFFSETS_API.apiKey: return this.reply(socket, LIST_OFFSETS_API, version, correlationId, this.listOffsets(LIST_OFFSETS_API.decodeRequest(r, version)))
      case METADATA_API.apiKey: return this.reply(socket, METADATA_API, version, correlationId, this.metadata(METADATA_API.decodeRequest(r, version)))
      case CREATE_TOPICS_API.apiKey: return this.reply(socket, CREATE_TOPICS_API, version, correlationId, this.createTopics(CREATE_TOPICS_API.decodeRequest(r, version)))
    }
  }

  private reply<Req, Res>(socket: Socket, api: ApiCodec<Req, Res>, version: number, correlationId: number, body: EncodeInput<Res>): void {
    const w = this.writer
    w.reset()
    w.int32(0)
    encodeResponseHeader(w, responseHeaderVersion(api.apiKey, version), correlationId)
    api.encodeResponse(w, version, body)
    w.setInt32(0, w.length - 4)
    socket.write(Buffer.from(w.finish()))
  }

  private produce(socket: Socket, version: number, correlationId: number, request: ProduceRequest): void {
    this.stats.produceRequests++
    const responses = request.topicData.map((topic) => ({
      name: topic.name,
      partitionResponses: topic.partitionData.map((data) => {
        const partition = this.topics.get(topic.name)?.[data.index]
        if (!partition) return { index: data.index, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, baseOffset: -1 }
        const baseOffset = partition.nextOffset
        const records = data.records ?? Buffer.alloc(0)
        let o = 0
        while (o < records.length) {
          const size = batchSizeAt(records, o)
          if (size < BATCH_HEADER_SIZE || o + size > records.length) break
          const count = records.readInt32BE(o + RECORD_COUNT_OFFSET)
          if (this.retain) {
            const copy = Buffer.from(records.subarray(o, o + size))
            setBaseOffset(copy, 0, partition.nextOffset)
            partition.batches.push({ baseOffset: partition.nextOffset, lastOffset: partition.nextOffset + copy.readInt32BE(LAST_OFFSET_DELTA_OFFSET), bytes: copy })
            partition.nextOffset += copy.readInt32BE(LAST_OFFSET_DELTA_OFFSET) + 1
          } else {
            partition.nextOffset += count
          }
          this.stats.records += count
          this.stats.bytes += size
          o += size
        }
        return { index: data.index, errorCode: ErrorCode.NONE, baseOffset, logAppendTimeMs: -1, logStartOffset: 0 }
      }),
    }))
    if (request.acks === 0) return
    this.reply<ProduceRequest, ProduceResponse>(socket, PRODUCE_API, version, correlationId, { responses, throttleTimeMs: 0 })
  }

  private fetch(request: FetchRequest): EncodeInput<FetchResponse> {
    return {
      errorCode: ErrorCode.NONE,
      sessionId: 0,
      responses: request.topics.map((topic) => ({
        topic: topic.topic,
        partitions: topic.partitions.map((p) => {
          const partition = this.topics.get(topic.topic)?.[p.partition]
          if (!partition) return { partitionIndex: p.partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, highWatermark: -1, records: null }
          const parts: Buffer[] = []
          let bytes = 0
          // First batch whose last offset reaches the fetch offset; then whole batches up to the limit (at least one).
          let lo = 0
          let hi = partition.batches.length
          while (lo < hi) {
            const mid = (lo + hi) >>> 1
            if (partition.batches[mid].lastOffset < p.fetchOffset) lo = mid + 1
            else hi = mid
          }
          for (let i = lo; i < partition.batches.length; i++) {
            const b = partition.batches[i].bytes
            if (parts.length > 0 && bytes + b.length > p.partitionMaxBytes) break
            parts.push(b)
            bytes += b.length
          }
          return { partitionIndex: p.partition, errorCode: ErrorCode.NONE, highWatermark: partition.nextOffset, lastStableOffset: partition.nextOffset, logStartOffset: 0, abortedTransactions: null, records: Buffer.concat(parts, bytes) }
        }),
      })),
    }
  }

  private listOffsets(request: ListOffsetsRequest): EncodeInput<ListOffsetsResponse> {
    return {
      topics: request.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((p) => {
          const partition = this.topics.get(topic.name)?.[p.partitionIndex]
          if (!partition) return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }
          return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE, timestamp: -1, offset: p.timestamp === -2 ? 0 : partition.nextOffset }
        }),
      })),
    }
  }

  private metadata(request: MetadataRequest): EncodeInput<MetadataResponse> {
    const names = request.topics === null || request.topics.length === 0 ? [...this.topics.keys()] : request.topics.map((t) => t.name ?? '')
    return {
      brokers: [{ nodeId: 0, host: this.host, port: this.port, rack: null }],
      clusterId: 'loadgen-sink',
      controllerId: 0,
      topics: names.map((name) => {
        const partitions = this.topics.get(name)
        if (!partitions) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name, topicId: ZERO_UUID, partitions: [] }
        return {
          errorCode: ErrorCode.NONE,
          name,
          topicId: ZERO_UUID,
          partitions: partitions.map((_, partitionIndex) => ({ errorCode: ErrorCode.NONE, partitionIndex, leaderId: 0, leaderEpoch: 0, replicaNodes: [0], isrNodes: [0], offlineReplicas: [] })),
        }
      }),
    }
  }

  private createTopics(request: CreateTopicsRequest): EncodeInput<CreateTopicsResponse> {
    return {
      topics: request.topics.map((topic) => {
        if (this.topics.has(topic.name)) return { name: topic.name, errorCode: ErrorCode.TOPIC_ALREADY_EXISTS, errorMessage: 'exists' }
        const count = topic.numPartitions > 0 ? topic.numPartitions : 1
        this.topics.set(topic.name, Array.from({ length: count }, () => ({ nextOffset: 0, batches: [] })))
        return { name: topic.name, errorCode: ErrorCode.NONE, errorMessage: null, numPartitions: count, replicationFactor: 1 }
      }),
    }
  }
}

