/**
 * The load generator's producer: Produce requests pipelined on one or several connections.
 *
 * As fast as possible (`run`): every in-flight slot owns a pre-encoded request frame (one
 * template batch for one partition); sending it only patches the correlation id. A slot is
 * sent again once its response arrived (acks 1/-1) or its bytes were handed to the kernel
 * (acks 0, which gets no response), so a frame is never modified while the socket holds it.
 * A record limit is rounded up to whole batches.
 *
 * At a fixed rate (`runPaced`): records become due every 1/rate s; they are packed into a
 * batch (each value stamped with its due time, for end-to-end latency) that goes out when full
 * or when its oldest record waited linger.ms. The latency the producer itself records is per
 * request, send to acknowledgement; a stalled broker delays the due times' batches, so the
 * stamps (due time, not send time) charge the wait to the system, not hide it.
 */
import type { RecordableHistogram } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { ErrorCode } from '../../protocol/error-codes.js'
import { responseHeaderVersion } from '../../protocol/headers.js'
import { Reader } from '../../protocol/primitives.js'
import { ApiKey, encodeRequestFrame, type KafkaWireClient } from '../../kafka-client/kafka-wire-client.js'
import { recordLatencyNs } from '../histogram.js'
import type { Acks, Compression as CompressionName } from '../scenario.js'
import { buildBatchTemplates, recordsPerBatch, StampedBatchEncoder, type BatchTemplate } from './batch-templates.js'
import { LoadgenError, PRODUCE_API, type LoadgenCluster } from './cluster.js'
import { runPacer } from './pacer.js'

export interface LoadProducerOptions {
  topic: string
  partitions: number
  acks: Acks
  compression: CompressionName
  /** Value bytes per record, default 100. */
  recordSize?: number
  /** Uncompressed batch size the records are packed to, default 16384. */
  batchBytes?: number
  /** Connections to the leader, default min(partitions, 2). Partition p goes over connection p % connections. */
  connections?: number
  /** Produce requests in flight per connection, default 16. */
  maxInFlight?: number
  /** Produce timeoutMs, default 30000. */
  timeoutMs?: number
  /** Distinct pre-encoded batches, default 16. */
  templates?: number
  /** Create the topic with `partitions` partitions if missing, default true. */
  createTopic?: boolean
  /** Topic configs when it is created (e.g. {"message.timestamp.type": "CreateTime"}). */
  topicConfigs?: Record<string, string>
  /** Replication factor when the topic is created, default 1. */
  replicationFactor?: number
}

export interface ProduceControl {
  /** Asked before each send with the records sent so far; false stops sending (in-flight requests still finish). */
  shouldContinue(recordsSent: number): boolean
  /** Called per acknowledged request (acks 0: per written request). */
  progress?(records: number, bytes: number): void
  /** Per request: send to acknowledgement (acks 0: to written), ns. */
  latency?: RecordableHistogram
}

export interface PacedProduceControl extends ProduceControl {
  /** Offered load, records/s. */
  rate: number
  /** A partial batch goes out once its oldest record waited this long (ms). */
  lingerMs: number
  /** hrtime ns the schedule starts at (default: when runPaced is called). */
  startNs?: bigint
}

export interface ProduceResult {
  /** Records acknowledged (acks 0: written to the socket). */
  records: number
  /** Value bytes of those records. */
  bytes: number
  requests: number
  /** Sum of CRC-32Cs of the values acknowledged (see addValueChecksum), mod 2^32. */
  valueChecksum: number
}

interface Slot {
  frame: Buffer
  records: number
  payloadBytes: number
  valueChecksum: number
  busy: boolean
  sentAtNs: bigint
}

interface Lane {
  connection: KafkaWireClient
  slots: Slot[]
  partitions: number[]
  /** Next slot index to consider. */
  cursor: number
  busy: number
}

export class LoadProducer {
  private readonly produceVersion: number
  private readonly responseHeaderVersion: 0 | 1
  private stamped: StampedBatchEncoder | null = null

  private constructor(
    private readonly cluster: LoadgenCluster,
    readonly options: Required<Omit<LoadProducerOptions, 'topicConfigs' | 'replicationFactor'>>,
    private readonly lanes: Lane[],
    readonly templates: BatchTemplate[],
  ) {
    this.produceVersion = cluster.versionFor(ApiKey.Produce)
    this.responseHeaderVersion = responseHeaderVersion(PRODUCE_API.apiKey, this.produceVersion)
  }

  /** Ensures the topic, opens the connections and pre-encodes one request frame per in-flight slot. */
  static async create(cluster: LoadgenCluster, options: LoadProducerOptions): Promise<LoadProducer> {
    const resolved: Required<Omit<LoadProducerOptions, 'topicConfigs' | 'replicationFactor'>> = {
      topic: options.topic,
      partitions: options.partitions,
      acks: options.acks,
      compression: options.compression,
      recordSize: options.recordSize ?? 100,
      batchBytes: options.batchBytes ?? 16384,
      connections: Math.max(1, Math.min(options.connections ?? Math.min(options.partitions, 2), options.partitions)),
      maxInFlight: Math.max(1, options.maxInFlight ?? 16),
      timeoutMs: options.timeoutMs ?? 30_000,
      templates: Math.max(1, options.templates ?? 16),
      createTopic: options.createTopic ?? true,
    }
    const layout = await cluster.ensureTopic(resolved.topic, { partitions: resolved.partitions, create: resolved.createTopic, configs: options.topicConfigs, replicationFactor: options.replicationFactor })
    if (layout.leaders.length < resolved.partitions) throw new LoadgenError(`topic ${resolved.topic} has ${layout.leaders.length} partitions, ${resolved.partitions} asked`)
    const templates = buildBatchTemplates({ recordSize: resolved.recordSize, batchBytes: resolved.batchBytes, compression: resolved.compression, templates: resolved.templates })
    // Leaders on several brokers (a cluster): one connection per partition, to its own leader.
    const leadersDiffer = new Set(layout.leaders.map((a) => `${a.host}:${a.port}`)).size > 1
    if (leadersDiffer) resolved.connections = resolved.partitions
    const connections = leadersDiffer
      ? (await Promise.all(layout.leaders.slice(0, resolved.partitions).map((leader) => cluster.openConnections(1, leader)))).flat()
      : await cluster.openConnections(resolved.connections, layout.leaders[0])
    const lanes: Lane[] = connections.map((connection, c) => ({
      connection,
      slots: [],
      partitions: Array.from({ length: resolved.partitions }, (_, p) => p).filter((p) => p % resolved.connections === c),
      cursor: 0,
      busy: 0,
    }))
    const producer = new LoadProducer(cluster, resolved, lanes, templates)
    let templateIndex = 0
    for (const lane of lanes) {
      for (let i = 0; i < resolved.maxInFlight; i++) {
        const template = templates[templateIndex++ % templates.length]
        const partition = lane.partitions[i % lane.partitions.length]
        lane.slots.push({ frame: producer.encodeFrame(partition, template.batch), records: template.records, payloadBytes: template.payloadBytes, valueChecksum: template.valueChecksum, busy: false, sentAtNs: 0n })
      }
    }
    return producer
  }

  get recordsPerBatch(): number {
    return recordsPerBatch(this.options.recordSize, this.options.batchBytes)
  }

  /** A whole request frame (size prefix, header with correlation id 0, body) carrying `batch` for `partition`. */
  private encodeFrame(partition: number, batch: Buffer): Buffer {
    const body = {
      transactionalId: null,
      acks: this.options.acks,
      timeoutMs: this.options.timeoutMs,
      topicData: [{ name: this.options.topic, partitionData: [{ index: partition, records: batch }] }],
    }
    // Room for the header and topic name up front: the frame is encoded without regrowing.
    return encodeRequestFrame(ApiKey.Produce, this.produceVersion, 0, this.cluster.clientId, body, batch.length + 1024)
  }

  /** Sends as fast as the broker acknowledges, until `control.shouldContinue` says stop. */
  run(control: ProduceControl): Promise<ProduceResult> {
    const result: ProduceResult = { records: 0, bytes: 0, requests: 0, valueChecksum: 0 }
    let sent = 0
    let stopping = false
    let failure: Error | null = null
    const acks = this.options.acks
    return new Promise<ProduceResult>((resolve, reject) => {
      const finishIfIdle = (): void => {
        if (!stopping || this.lanes.some((l) => l.busy > 0)) return
        if (failure) reject(failure)
        else resolve(result)
      }
      const complete = (lane: Lane, slot: Slot): void => {
        slot.busy = false
        lane.busy--
        result.records += slot.records
        result.bytes += slot.payloadBytes
        result.requests++
        result.valueChecksum = (result.valueChecksum + slot.valueChecksum) >>> 0
        if (control.latency) recordLatencyNs(control.latency, process.hrtime.bigint() - slot.sentAtNs)
        control.progress?.(slot.records, slot.payloadBytes)
      }
      const fail = (lane: Lane, slot: Slot, error: Error): void => {
        slot.busy = false
        lane.busy--
        failure ??= error
        stopping = true
        finishIfIdle()
      }
      const fill = (lane: Lane): void => {
        if (stopping) return finishIfIdle()
        lane.connection.cork()
        try {
          while (lane.busy < lane.slots.length) {
            if (!control.shouldContinue(sent)) {
              stopping = true
              break
            }
            let slot = lane.slots[lane.cursor]
            while (slot.busy) {
              lane.cursor = (lane.cursor + 1) % lane.slots.length
              slot = lane.slots[lane.cursor]
            }
            lane.cursor = (lane.cursor + 1) % lane.slots.length
            slot.busy = true
            lane.busy++
            sent += slot.records
            slot.sentAtNs = process.hrtime.bigint()
            const correlationId = lane.connection.allocateCorrelationId()
            if (acks === 0) {
              lane.connection.sendFrame(slot.frame, correlationId, this.responseHeaderVersion, null, (error) => {
                if (error) return fail(lane, slot, error)
                complete(lane, slot)
                fill(lane)
              })
            } else {
              lane.connection.sendFrame(slot.frame, correlationId, this.responseHeaderVersion, (error, response, bodyOffset) => {
                if (error) return fail(lane, slot, error)
                const errorCode = this.responseError(response!, bodyOffset)
                if (errorCode !== null) return fail(lane, slot, errorCode)
                complete(lane, slot)
                fill(lane)
              })
            }
          }
        } finally {
          lane.connection.uncork()
        }
        finishIfIdle()
      }
      for (const lane of this.lanes) fill(lane)
    })
  }

  /**
   * Offers `control.rate` records/s regardless of how fast the broker answers (up to
   * maxInFlight requests per connection; beyond that, batches queue in the generator and
   * their records' latency grows, as it should).
   */
  async runPaced(control: PacedProduceControl): Promise<ProduceResult> {
    this.stamped ??= new StampedBatchEncoder(this.options.recordSize, this.options.compression)
    const encoder = this.stamped
    const result: ProduceResult = { records: 0, bytes: 0, requests: 0, valueChecksum: 0 }
    const queue: { frame: Buffer; records: number; lane: Lane }[] = []
    let partitionCursor = 0
    let failure: Error | null = null
    let inFlight = 0

    const pump = (): void => {
      for (let q = 0; q < queue.length;) {
        const item = queue[q]
        if (item.lane.busy >= this.options.maxInFlight) { q++; continue }
        queue.splice(q, 1)
        inFlight++
        this.sendOnce(item.lane, item.frame, item.records, control, result, (error) => {
          inFlight--
          if (error) failure ??= error
          pump()
        })
      }
    }
    await runPacer({
      rate: control.rate,
      lingerMs: control.lingerMs,
      maxBatch: this.recordsPerBatch,
      startNs: control.startNs,
      shouldContinue: (offered) => failure === null && control.shouldContinue(offered),
      emit: (stamps) => {
        const partition = partitionCursor++ % this.options.partitions
        const lane = this.lanes[partition % this.lanes.length]
        queue.push({ frame: this.encodeFrame(partition, encoder.encode(stamps)), records: stamps.length, lane })
        pump()
      },
    })
    while ((queue.length > 0 || inFlight > 0) && failure === null) await sleep(1)
    while (inFlight > 0) await sleep(1)
    if (failure) throw failure
    return result
  }

  private sendOnce(lane: Lane, frame: Buffer, records: number, control: ProduceControl, result: ProduceResult, done: (error: Error | null) => void): void {
    const sentAt = process.hrtime.bigint()
    lane.busy++
    const onAcked = (): void => {
      lane.busy--
      result.records += records
      result.bytes += records * this.options.recordSize
      result.requests++
      if (control.latency) recordLatencyNs(control.latency, process.hrtime.bigint() - sentAt)
      control.progress?.(records, records * this.options.recordSize)
      done(null)
    }
    const correlationId = lane.connection.allocateCorrelationId()
    if (this.options.acks === 0) {
      lane.connection.sendFrame(frame, correlationId, this.responseHeaderVersion, null, (error) => {
        if (error) { lane.busy--; return done(error) }
        onAcked()
      })
      return
    }
    lane.connection.sendFrame(frame, correlationId, this.responseHeaderVersion, (error, response, bodyOffset) => {
      const failure = error ?? this.responseError(response!, bodyOffset)
      if (failure) { lane.busy--; return done(failure) }
      onAcked()
    })
  }

  /** The first partition error in a Produce response, or null. */
  private responseError(response: Buffer, bodyOffset: number): LoadgenError | null {
    let decoded
    try {
      decoded = PRODUCE_API.decodeResponse(new Reader(response, bodyOffset), this.produceVersion)
    } catch (error) {
      return new LoadgenError(`undecodable Produce response: ${(error as Error).message}`)
    }
    for (const topic of decoded.responses) {
      for (const p of topic.partitionResponses) {
        if (p.errorCode !== ErrorCode.NONE) return new LoadgenError(`Produce to ${topic.name}-${p.index} failed with error ${p.errorCode}${p.errorMessage ? `: ${p.errorMessage}` : ''}`, p.errorCode)
      }
    }
    return null
  }
}
