/**
 * `consume`: reads back records written during setup (the pre-fill: `records`, or 2 M when
 * only a duration is given), so they come from the page cache. Every repetition reads from
 * offset 0 until it has read `records` (or the duration ends, or the pre-fill runs out).
 * - embedded: an `open()` consumer in a fresh group per repetition (fromBeginning,
 *   eachBatch), which decodes every message as an application would. One process: all CPU in
 *   the broker column.
 * - tcp, loadgen: Fetch requests that count records from batch headers only.
 * - tcp, kcat: `kcat -C -e -c N` (its start-up included).
 * The pre-fill is written with acks=1 and the scenario's compression and record size.
 */
import type { Producer } from '../../client/producer.js'
import { LoadFetcher, LoadProducer, buildRecordSets, type LoadgenCluster } from '../loadgen/index.js'
import { DEFAULT_BENCH_PARAMS, parseBenchParams, type BenchParamInput, type BenchParams, type RunContext, type RunOutcome, type Scenario } from '../scenario.js'
import { fileAppendReferenceFor } from './file-append.js'
import type { BenchBroker } from './bench-broker.js'
import { startCpuSplit } from './cpu-split.js'
import { createBenchTopic, openEmbeddedBenchLog, type EmbeddedBenchLog } from './embedded-log.js'
import { kcatConsume } from './kcat-client.js'
import { benchTopicName, describeParams } from './naming.js'
import { openTcpTarget, toMessages, type TcpScenarioOptions } from './produce.js'

const DEFAULT_PREFILL = 2_000_000

function prefillCount(params: Readonly<BenchParams>): number {
  return params.records ?? DEFAULT_PREFILL
}

// ---------------------------------------------------------------- embedded

interface EmbeddedConsumeState {
  embedded: EmbeddedBenchLog
  topic: string
  prefilled: number
  groups: number
}

async function prefillEmbedded(producer: Producer, topic: string, params: Readonly<BenchParams>, count: number): Promise<number> {
  const sets = buildRecordSets({ recordSize: params.recordSize, batchBytes: params.batchSize })
  let sent = 0
  let next = 0
  const lane = async (): Promise<void> => {
    while (sent < count) {
      const messages = toMessages(sets[next % sets.length], next % params.partitions)
      next++
      sent += messages.length
      await producer.send({ topic, messages, acks: 1 })
    }
  }
  await Promise.all(Array.from({ length: 8 }, lane))
  await producer.flush()
  return sent
}

async function runEmbeddedConsume(context: RunContext, state: EmbeddedConsumeState): Promise<RunOutcome> {
  const { params } = context
  const target = Math.min(params.records ?? Infinity, state.prefilled)
  const consumer = state.embedded.log.consumer({ groupId: `bench-consume-${process.pid}-${++state.groups}`, maxWaitTimeInMs: 100, maxBytesPerPartition: 8 << 20, autoCommit: false })
  let records = 0
  let bytes = 0
  let finish!: () => void
  const done = new Promise<void>((resolve) => { finish = resolve })
  await consumer.subscribe({ topic: state.topic, fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      let batchBytes = 0
      for (const message of batch.messages) batchBytes += message.value?.length ?? 0
      records += batch.messages.length
      bytes += batchBytes
      context.progress(batch.messages.length, batchBytes)
      if (records >= target || !context.shouldContinue(records)) finish()
    },
  })
  await done
  await consumer.disconnect()
  return { records, bytes }
}

function embeddedConsumeScenario(params: BenchParams, options: TcpScenarioOptions): Scenario<EmbeddedConsumeState> {
  return {
    name: options.name ?? `consume ${describeParams(params, { acks: false })}`,
    params,
    cpuOwner: 'broker',
    async setup() {
      const embedded = await openEmbeddedBenchLog(params.flush, options.dir)
      try {
        const topic = benchTopicName('consume')
        await createBenchTopic(embedded.log, topic, params.partitions)
        const producer = embedded.log.producer({ acks: 1, compression: params.compression, batchBytes: params.batchSize })
        const prefilled = await prefillEmbedded(producer, topic, params, prefillCount(params))
        await producer.disconnect()
        return { embedded, topic, prefilled, groups: 0 }
      } catch (error) {
        await embedded.close()
        throw error
      }
    },
    run: runEmbeddedConsume,
    teardown: (state) => state.embedded.close(),
    reference: () => fileAppendReferenceFor(params, { dir: options.dir }),
  }
}

// ---------------------------------------------------------------- tcp

interface TcpConsumeState {
  broker: BenchBroker
  cluster: LoadgenCluster
  topic: string
  endOffsets: number[]
  prefilled: number
  fetcher: LoadFetcher | null
}

async function setupTcpConsume(params: BenchParams, options: TcpScenarioOptions, withFetcher: boolean): Promise<TcpConsumeState> {
  const { broker, cluster } = await openTcpTarget(params, options)
  try {
    const topic = benchTopicName('consume')
    const producer = await LoadProducer.create(cluster, { topic, partitions: params.partitions, acks: 1, compression: params.compression, recordSize: params.recordSize, batchBytes: params.batchSize })
    const target = prefillCount(params)
    await producer.run({ shouldContinue: (sent) => sent < target })
    const endOffsets = await cluster.endOffsets(topic, params.partitions)
    const fetcher = withFetcher ? await LoadFetcher.create(cluster, { topic, partitions: params.partitions }) : null
    return { broker, cluster, topic, endOffsets, prefilled: endOffsets.reduce((a, b) => a + b, 0), fetcher }
  } catch (error) {
    await cluster.close()
    await broker.close()
    throw error
  }
}

function tcpConsumeScenario(params: BenchParams, options: TcpScenarioOptions): Scenario<TcpConsumeState> {
  const kcat = options.client === 'kcat'
  return {
    name: options.name ?? `consume ${describeParams(params, { acks: false, client: options.client })}`,
    params,
    cpuOwner: 'client',
    setup: () => setupTcpConsume(params, options, !kcat),
    async run(context, state) {
      if (kcat) {
        const count = Math.min(params.records ?? Infinity, state.prefilled)
        const brokerBefore = state.broker.cpuSeconds()
        const result = await kcatConsume(state.broker.address, state.topic, count)
        const brokerAfter = state.broker.cpuSeconds()
        if (result.lines !== count) throw new Error(`kcat read ${result.lines} records, expected ${count}`)
        context.progress(count, count * params.recordSize)
        const cpu = brokerBefore !== null && brokerAfter !== null ? { broker: brokerAfter - brokerBefore, client: result.cpuSeconds } : undefined
        return { records: count, bytes: count * params.recordSize, cpu }
      }
      const stop = startCpuSplit(state.broker)
      const result = await state.fetcher!.run({
        endOffsets: state.endOffsets,
        shouldContinue: (n) => context.shouldContinue(n),
        // MB/s counts value payload, as the other scenarios do (not batch framing).
        progress: (records) => context.progress(records, records * params.recordSize),
      })
      return { records: result.records, bytes: result.records * params.recordSize, cpu: stop() }
    },
    async teardown(state) {
      await state.cluster.close()
      await state.broker.close()
    },
    reference: () => fileAppendReferenceFor(params, { dir: options.dir }),
  }
}

/** The consume scenario for `params` (mode embedded|tcp; tcp client loadgen|kcat). */
export function consumeScenario(input: BenchParamInput = {}, options: TcpScenarioOptions = {}): Scenario {
  const params = parseBenchParams(input, DEFAULT_BENCH_PARAMS)
  if (params.mode === 'embedded') {
    if (options.client === 'kcat') throw new RangeError('--client kcat needs --mode tcp')
    return embeddedConsumeScenario(params, options) as Scenario
  }
  return tcpConsumeScenario(params, options) as Scenario
}
