/**
 * `produce`: records into one topic as fast as acknowledgements come back (or at a fixed
 * `rate`), in one of three ways:
 * - embedded: the `open()` producer, sends of one batch's worth of records (batch-size
 *   bytes) to partitions in turn, `inFlight` sends (default 64) in flight; the engine packs and compresses.
 *   Each repetition writes a fresh topic. This process is both broker and client: all its CPU
 *   is in the broker column.
 * - tcp, loadgen: the wire load generator (pre-encoded batches, pipelined requests) against
 *   --brokers or a broker it starts as a child process (CPU measured apart).
 * - tcp, kcat: librdkafka's producer from a pre-made file of records, as a cross-check
 *   (needs a record count; one kcat run per repetition, its start-up included).
 * Latency: per request (per send embedded), from send to acknowledgement.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Message } from '../../client/types.js'
import type { Producer } from '../../client/producer.js'
import { recordLatencyNs } from '../histogram.js'
import { LoadgenCluster, LoadProducer, buildRecordSets, type RecordSet } from '../loadgen/index.js'
import { DEFAULT_BENCH_PARAMS, parseBenchParams, type BenchParamInput, type BenchParams, type FlushPolicy, type RunContext, type RunOutcome, type Scenario } from '../scenario.js'
import { fileAppendReferenceFor } from './file-append.js'
import { externalBroker, startBenchBroker, type BenchBroker, type BrokerPlacement } from './bench-broker.js'
import { startCpuSplit } from './cpu-split.js'
import { createBenchTopic, openEmbeddedBenchLog, type EmbeddedBenchLog } from './embedded-log.js'
import { kcatProduce, writeKcatInput } from './kcat-client.js'
import { benchTopicName, describeParams } from './naming.js'

export type BenchClient = 'loadgen' | 'kcat'

export interface TcpScenarioOptions {
  /** Scenario name (default from the params). */
  name?: string
  /** Parent of temp dirs, default os.tmpdir(). */
  dir?: string
  /** Where to start a broker when params.brokers is empty (default 'child'). */
  brokerPlacement?: BrokerPlacement
  /** tcp client (default 'loadgen'). */
  client?: BenchClient
  /**
   * Starts a private cluster for params.cluster > 0 (the CLI passes one built on cluster/dev-cluster.ts;
   * bench/ itself does not load cluster/). Its address is one broker's; its CPU is all brokers'.
   */
  startCluster?: (options: { brokers: number; flush: FlushPolicy; dir?: string }) => Promise<BenchBroker>
  /**
   * Talk TLS: to a started broker on its SSL listener (throwaway certificate), or to --brokers
   * with these node:tls options (its CA in `ca`).
   */
  tls?: TlsConnectionOptions
}

export function toMessages(set: RecordSet, partition: number): Message[] {
  return set.records.map((r) => ({ key: r.key, value: r.value, partition }))
}

/** The broker (or cluster) a tcp scenario starts, or the one it was given. */
function startTarget(params: Readonly<BenchParams>, options: TcpScenarioOptions): Promise<BenchBroker> {
  if (params.cluster > 0) {
    if (options.tls) throw new RangeError('--tls does not apply to --cluster yet')
    if (!options.startCluster) throw new RangeError('--cluster needs a cluster launcher (run it through `ringlog bench`)')
    return options.startCluster({ brokers: params.cluster, flush: params.flush, dir: options.dir })
  }
  return startBenchBroker({ flush: params.flush, placement: options.brokerPlacement, dir: options.dir, partitions: params.partitions, tls: options.tls !== undefined })
}

export async function openTcpTarget(params: Readonly<BenchParams>, options: TcpScenarioOptions): Promise<{ broker: BenchBroker; cluster: LoadgenCluster }> {
  if (params.brokers.length === 0 && params.replicationFactor > Math.max(1, params.cluster)) {
    throw new RangeError(`--replication-factor ${params.replicationFactor} needs at least that many brokers (--cluster)`)
  }
  const broker = params.brokers.length > 0 ? externalBroker(params.brokers[0], options.tls) : await startTarget(params, options)
  try {
    return { broker, cluster: await LoadgenCluster.connect(broker.address, undefined, broker.tls) }
  } catch (error) {
    await broker.close()
    throw error
  }
}

// ---------------------------------------------------------------- embedded

interface EmbeddedProduceState {
  embedded: EmbeddedBenchLog
  producer: Producer
  topic: string
  messageSets: Message[][]
}

async function runEmbeddedProduce(context: RunContext, state: EmbeddedProduceState): Promise<RunOutcome> {
  const { params } = context
  const { producer, topic, messageSets } = state
  let sent = 0
  let acked = 0
  let next = 0
  const recordSize = params.recordSize
  const lane = async (): Promise<void> => {
    while (context.shouldContinue(sent)) {
      const messages = messageSets[next++ % messageSets.length]
      sent += messages.length
      const started = process.hrtime.bigint()
      await producer.send({ topic, messages, acks: params.acks })
      recordLatencyNs(context.latency, process.hrtime.bigint() - started)
      acked += messages.length
      context.progress(messages.length, messages.length * recordSize)
    }
  }
  await Promise.all(Array.from({ length: params.inFlight }, lane))
  return { records: acked, bytes: acked * recordSize }
}

function embeddedProduceScenario(params: BenchParams, options: TcpScenarioOptions): Scenario<EmbeddedProduceState> {
  return {
    name: options.name ?? `produce ${describeParams(params)}`,
    params,
    cpuOwner: 'broker',
    async setup() {
      const embedded = await openEmbeddedBenchLog(params.flush, options.dir)
      try {
        const topic = benchTopicName('produce')
        await createBenchTopic(embedded.log, topic, params.partitions)
        const producer = embedded.log.producer({ acks: params.acks, compression: params.compression, lingerMs: Math.round(params.lingerMs), batchBytes: params.batchSize })
        const sets = buildRecordSets({ recordSize: params.recordSize, batchBytes: params.batchSize })
        // Each set goes to a fixed partition; sets cover partitions in turn.
        const messageSets = sets.map((set, i) => toMessages(set, i % params.partitions))
        return { embedded, producer, topic, messageSets }
      } catch (error) {
        await embedded.close()
        throw error
      }
    },
    // Each repetition appends to a fresh, empty topic and the previous one is deleted, as the
    // reference writes a fresh file each time: measured, appending to a log that grew by every
    // earlier repetition got slower each time (1.6-1.8x by the fourth, 3M records each), which
    // the reference never pays.
    async beforeRun(state) {
      // Deleted first, so the new topic's partitions go to the same (warm) worker threads.
      await state.embedded.log.admin().deleteTopics({ topics: [state.topic] })
      state.topic = benchTopicName('produce')
      await createBenchTopic(state.embedded.log, state.topic, params.partitions)
    },
    run: runEmbeddedProduce,
    async teardown(state) {
      await state.producer.disconnect().catch(() => undefined)
      await state.embedded.close()
    },
    reference: () => fileAppendReferenceFor(params, { dir: options.dir }),
  }
}

// ---------------------------------------------------------------- tcp, loadgen

interface TcpProduceState {
  broker: BenchBroker
  cluster: LoadgenCluster
  producer: LoadProducer
}

function tcpProduceScenario(params: BenchParams, options: TcpScenarioOptions): Scenario<TcpProduceState> {
  const target = options.brokerPlacement === 'sink' && params.brokers.length === 0 ? ' to-sink' : ''
  return {
    name: options.name ?? `produce ${describeParams(params)}${target}`,
    params,
    cpuOwner: 'client',
    async setup() {
      const { broker, cluster } = await openTcpTarget(params, options)
      try {
        const producer = await LoadProducer.create(cluster, {
          topic: benchTopicName('produce'), partitions: params.partitions, acks: params.acks, compression: params.compression,
          recordSize: params.recordSize, batchBytes: params.batchSize, replicationFactor: params.replicationFactor,
        })
        return { broker, cluster, producer }
      } catch (error) {
        await cluster.close()
        await broker.close()
        throw error
      }
    },
    async run(context, state) {
      const stop = startCpuSplit(state.broker)
      const control = {
        shouldContinue: (n: number) => context.shouldContinue(n),
        progress: (records: number, bytes: number) => context.progress(records, bytes),
        latency: context.latency,
      }
      const result = params.rate === null
        ? await state.producer.run(control)
        : await state.producer.runPaced({ ...control, rate: params.rate, lingerMs: params.lingerMs, startNs: context.startNs })
      return { records: result.records, bytes: result.bytes, cpu: stop() }
    },
    async teardown(state) {
      await state.cluster.close()
      await state.broker.close()
    },
    reference: () => fileAppendReferenceFor(params, { dir: options.dir }),
  }
}

// ---------------------------------------------------------------- tcp, kcat

interface KcatProduceState {
  broker: BenchBroker
  cluster: LoadgenCluster
  dir: string
  input: string
  records: number
}

function kcatProduceScenario(params: BenchParams, options: TcpScenarioOptions): Scenario<KcatProduceState> {
  if (params.records === null) throw new RangeError('--client kcat needs a record count (--records), not only a duration')
  const records = params.records
  return {
    name: options.name ?? `produce ${describeParams(params, { client: 'kcat' })}`,
    params,
    cpuOwner: 'client',
    async setup() {
      const dir = mkdtempSync(join(options.dir ?? tmpdir(), 'ringlog-bench-kcat-'))
      const input = join(dir, 'records.txt')
      await writeKcatInput(input, records, params.recordSize)
      const { broker, cluster } = await openTcpTarget(params, options)
      return { broker, cluster, dir, input, records }
    },
    async run(context, state) {
      // A fresh topic per repetition: the record count is then checked exactly from its end offsets.
      const topic = benchTopicName('kcat-produce')
      await state.cluster.ensureTopic(topic, { partitions: params.partitions })
      const brokerBefore = state.broker.cpuSeconds()
      const result = await kcatProduce(state.broker.address, topic, state.input, params)
      const brokerAfter = state.broker.cpuSeconds()
      const ends = await state.cluster.endOffsets(topic, params.partitions)
      const stored = ends.reduce((a, b) => a + b, 0)
      if (stored !== state.records) throw new Error(`kcat produced ${state.records} records but the broker holds ${stored}`)
      context.progress(stored, stored * params.recordSize)
      const cpu = brokerBefore !== null && brokerAfter !== null ? { broker: brokerAfter - brokerBefore, client: result.cpuSeconds } : undefined
      return { records: stored, bytes: stored * params.recordSize, cpu }
    },
    async teardown(state) {
      await state.cluster.close()
      await state.broker.close()
      rmSync(state.dir, { recursive: true, force: true })
    },
    reference: () => fileAppendReferenceFor(params, { dir: options.dir }),
  }
}

/** The produce scenario for `params` (mode embedded|tcp; tcp client loadgen|kcat). */
export function produceScenario(input: BenchParamInput = {}, options: TcpScenarioOptions = {}): Scenario {
  const params = parseBenchParams(input, DEFAULT_BENCH_PARAMS)
  if (params.mode === 'embedded') {
    if (options.client === 'kcat') throw new RangeError('--client kcat needs --mode tcp')
    if (params.cluster > 0) throw new RangeError('--cluster needs --mode tcp')
    return embeddedProduceScenario(params, options) as Scenario
  }
  return (options.client === 'kcat' ? kcatProduceScenario(params, options) : tcpProduceScenario(params, options)) as Scenario
}
