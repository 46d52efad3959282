/**
 * The load generator's consumer: a Fetch loop per connection (one request in flight each,
 * covering that connection's partitions) that reads only batch headers to count records, so
 * consuming costs the generator next to nothing per record. A batch that starts before the
 * fetch offset (brokers return whole batches) counts only its records from the fetch offset
 * on; a partial batch at the end of a response is fetched again next time.
 *
 * `onBatch` sees every whole batch (e.g. to decode stamped values for end-to-end latency).
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import { batchSizeAt, BATCH_HEADER_SIZE, readInt64, LAST_OFFSET_DELTA_OFFSET, RECORD_COUNT_OFFSET } from '../../protocol/record-batch.js'
import { ApiKey, type KafkaWireClient } from '../../kafka-client/kafka-wire-client.js'
import { LoadgenError, type LoadgenCluster } from './cluster.js'

export interface LoadFetcherOptions {
  topic: string
  partitions: number
  /** Connections, default min(partitions, 2). Partition p is fetched over connection p % connections. */
  connections?: number
  /** Per partition, default 8 MiB. */
  partitionMaxBytes?: number
  /** Per response, default 32 MiB. */
  maxBytes?: number
  /** Long-poll wait when there is nothing new, default 100 ms. */
  maxWaitMs?: number
}

export interface FetchControl {
  /** First offset to read per partition (default 0 for each). */
  startOffsets?: readonly number[]
  /** Stop once every partition reached this offset (exclusive end), e.g. the end offsets after a pre-fill. */
  endOffsets?: readonly number[]
  /** Asked after every response with the records counted so far; false stops. */
  shouldContinue(recordsRead: number): boolean
  progress?(records: number, bytes: number): void
  /** Every whole batch at or past the fetch offset: its bytes are `buf[offset, offset + size)`. */
  onBatch?(buf: Buffer, offset: number, size: number, partition: number): void
}

export interface FetchResult {
  records: number
  /** Record batch bytes received. */
  bytes: number
  requests: number
  /** The offset each partition would be fetched from next. */
  nextOffsets: number[]
}

interface Lane {
  connection: KafkaWireClient
  partitions: number[]
}

export class LoadFetcher {
  private readonly version: number

  private constructor(cluster: LoadgenCluster, readonly options: Required<LoadFetcherOptions>, private readonly lanes: Lane[]) {
    // Fetches name topics; from v13 Fetch takes topic ids instead.
    this.version = Math.min(cluster.versionFor(ApiKey.Fetch), 12)
  }

  static async create(cluster: LoadgenCluster, options: LoadFetcherOptions): Promise<LoadFetcher> {
    const connections = Math.max(1, Math.min(options.connections ?? Math.min(options.partitions, 2), options.partitions))
    const resolved: Required<LoadFetcherOptions> = {
      topic: options.topic,
      partitions: options.partitions,
      connections,
      partitionMaxBytes: options.partitionMaxBytes ?? 8 << 20,
      maxBytes: options.maxBytes ?? 32 << 20,
      maxWaitMs: options.maxWaitMs ?? 100,
    }
    const layout = await cluster.ensureTopic(resolved.topic, { partitions: resolved.partitions, create: false })
    const opened = await cluster.openConnections(connections, layout.leaders[0])
    const lanes = opened.map((connection, c) => ({ connection, partitions: Array.from({ length: resolved.partitions }, (_, p) => p).filter((p) => p % connections === c) }))
    return new LoadFetcher(cluster, resolved, lanes)
  }

  async run(control: FetchControl): Promise<FetchResult> {
    const next = Array.from({ length: this.options.partitions }, (_, p) => control.startOffsets?.[p] ?? 0)
    const result: FetchResult = { records: 0, bytes: 0, requests: 0, nextOffsets: next }
    const end = control.endOffsets
    const partitionDone = (p: number): boolean => end !== undefined && next[p] >= end[p]
    let stop = false
    const loop = async (lane: Lane): Promise<void> => {
      while (!stop) {
        const wanted = lane.partitions.filter((p) => !partitionDone(p))
        if (wanted.length === 0) return
        const response = await lane.connection.request(ApiKey.Fetch, this.version, {
          replicaId: -1,
          maxWaitMs: this.options.maxWaitMs,
          minBytes: 1,
          maxBytes: this.options.maxBytes,
          isolationLevel: 0,
          sessionId: 0,
          sessionEpoch: -1,
          topics: [{ topic: this.options.topic, partitions: wanted.map((partition) => ({ partition, fetchOffset: next[partition], partitionMaxBytes: this.options.partitionMaxBytes, currentLeaderEpoch: -1, logStartOffset: -1 })) }],
          forgottenTopicsData: [],
          rackId: '',
        })
        result.requests++
        if (response.errorCode !== ErrorCode.NONE) throw new LoadgenError(`Fetch failed with error ${response.errorCode}`, response.errorCode)
        for (const topic of response.responses) {
          for (const data of topic.partitions) {
            if (data.errorCode !== ErrorCode.NONE) throw new LoadgenError(`Fetch ${topic.topic}-${data.partitionIndex} failed with error ${data.errorCode}`, data.errorCode)
            if (data.records && data.records.length > 0) this.countBatches(data.records, data.partitionIndex, next, result, control)
          }
        }
        if (!control.shouldContinue(result.records)) stop = true
      }
    }
    try {
      await Promise.all(this.lanes.map(loop))
    } finally {
      stop = true
    }
    return result
  }

  private countBatches(records: Buffer, partition: number, next: number[], result: FetchResult, control: FetchControl): void {
    let o = 0
    let counted = 0
    let bytes = 0
    while (o < records.length) {
      const size = batchSizeAt(records, o)
      if (size < BATCH_HEADER_SIZE || o + size > records.length) break
      const baseOffset = readInt64(records, o)
      const lastOffset = baseOffset + records.readInt32BE(o + LAST_OFFSET_DELTA_OFFSET)
      const fetchOffset = next[partition]
      if (lastOffset >= fetchOffset) {
        const count = baseOffset >= fetchOffset ? records.readInt32BE(o + RECORD_COUNT_OFFSET) : lastOffset - fetchOffset + 1
        counted += count
        bytes += size
        next[partition] = lastOffset + 1
        control.onBatch?.(records, o, size, partition)
      }
      o += size
    }
    if (counted > 0) {
      result.records += counted
      result.bytes += bytes
      control.progress?.(counted, bytes)
    }
  }
}
