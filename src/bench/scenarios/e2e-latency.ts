/**
 * `e2e-latency`: records offered at a fixed rate (`rate`, default 100k/s), each value
 * stamped with its due time (hrtime ns), consumed as they arrive; latency per record = time
 * it was consumed - time it was due (so a late producer is charged too). Producer and
 * consumer run in this process, so both read one clock. p50/p99/p999/max land in the
 * report's latency columns; throughput is the consumed rate (about `rate` when keeping up).
 * - embedded: `open()` producer (linger per params) and consumer (fresh topic and group per
 *   repetition, read from its beginning).
 * - tcp: the load generator's paced producer and its Fetch loop (from the end offsets at the
 *   start of the repetition). Consumers see a record once it is below the high watermark,
 *   i.e. durable per the flush policy.
 */
import { Buffer } from 'node:buffer'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Producer } from '../../client/producer.js'
import type { Message } from '../../client/types.js'
import { recordLatencyNs } from '../histogram.js'
import { forEachStamp, LoadFetcher, LoadProducer, recordsPerBatch, runPacer, type LoadgenCluster } from '../loadgen/index.js'
import { DEFAULT_BENCH_PARAMS, parseBenchParams, type BenchParamInput, type BenchParams, type RunContext, type RunOutcome, type Scenario } from '../scenario.js'
import type { BenchBroker } from './bench-broker.js'
import { startCpuSplit } from './cpu-split.js'
import { createBenchTopic, openEmbeddedBenchLog, type EmbeddedBenchLog } from './embedded-log.js'
import { benchTopicName, describeParams } from './naming.js'
import { openTcpTarget, type TcpScenarioOptions } from './produce.js'

export const DEFAULT_E2E_RATE = 100_000
/** How long consumers get, after the last record was offered, to read everything. */
const DRAIN_TIMEOUT_MS = 30_000

class DrainTimeoutError extends Error {
  constructor(consumed: number, produced: number) {
    super(`end-to-end run: consumed ${consumed} of ${produced} records within ${DRAIN_TIMEOUT_MS} ms of the last send`)
  }
}

// ---------------------------------------------------------------- embedded

interface EmbeddedE2eState {
  embedded: EmbeddedBenchLog
  producer: Producer
}

async function runEmbeddedE2e(context: RunContext, state: EmbeddedE2eState): Promise<RunOutcome> {
  const { params } = context
  const { log } = state.embedded
  const topic = benchTopicName('e2e')
  await createBenchTopic(log, topic, params.partitions)
  const consumer = log.consumer({ groupId: `${topic}-group`, maxWaitTimeInMs: 100, autoCommit: false })
  let consumed = 0
  let produced = 0
  let offeringDone = false
  let drained!: () => void
  const allConsumed = new Promise<void>((resolve) => { drained = resolve })
  const joined = new Promise<void>((resolve) => consumer.on('consumer.group_join', () => resolve()))
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const now = process.hrtime.bigint()
      for (const message of batch.messages) {
        if (message.value && message.value.length >= 8) recordLatencyNs(context.latency, now - message.value.readBigInt64BE(0))
      }
      consumed += batch.messages.length
      context.progress(batch.messages.length, batch.messages.length * params.recordSize)
      if (offeringDone && consumed >= produced) drained()
    },
  })
  try {
    await joined
    const filler = Buffer.alloc(params.recordSize, 0x61)
    const sends = new Set<Promise<unknown>>()
    let partition = 0
    let failure: unknown = null
    const startNs = process.hrtime.bigint()
    await runPacer({
      rate: params.rate ?? DEFAULT_E2E_RATE,
      lingerMs: params.lingerMs,
      maxBatch: recordsPerBatch(params.recordSize, params.batchSize),
      startNs,
      // The run's clock started before the topic and group were set up: pace on our own start.
      shouldContinue: (offered) => failure === null && (params.records !== null ? offered < params.records : Number(process.hrtime.bigint() - startNs) < (params.durationMs ?? 0) * 1e6),
      emit: (stamps) => {
        const messages: Message[] = stamps.map((stamp) => {
          const value = Buffer.allocUnsafe(params.recordSize)
          filler.copy(value)
          value.writeBigInt64BE(stamp, 0)
          return { value, partition: partition % params.partitions }
        })
        partition++
        produced += messages.length
        const send = state.producer.send({ topic, messages, acks: params.acks }).catch((error: unknown) => { failure ??= error })
        sends.add(send)
        void send.finally(() => sends.delete(send))
      },
    })
    while (sends.size > 0) await Promise.all([...sends])
    if (failure) throw failure
    offeringDone = true
    if (consumed >= produced) drained()
    const timeout = sleep(DRAIN_TIMEOUT_MS, 'timeout' as const)
    if ((await Promise.race([allConsumed, timeout])) === 'timeout') throw new DrainTimeoutError(consumed, produced)
    return { records: consumed, bytes: consumed * params.recordSize }
  } finally {
    await consumer.disconnect()
  }
}

function embeddedE2eScenario(params: BenchParams, options: TcpScenarioOptions): Scenario<EmbeddedE2eState> {
  return {
    name: options.name ?? `e2e-latency ${describeParams(params)}`,
    params,
    cpuOwner: 'broker',
    async setup() {
      const embedded = await openEmbeddedBenchLog(params.flush, options.dir)
      const producer = embedded.log.producer({ acks: params.acks, compression: params.compression, lingerMs: 0, batchBytes: params.batchSize })
      return { embedded, producer }
    },
    run: runEmbeddedE2e,
    async teardown(state) {
      await state.producer.disconnect().catch(() => undefined)
      await state.embedded.close()
    },
  }
}

// ---------------------------------------------------------------- tcp

interface TcpE2eState {
  broker: BenchBroker
  cluster: LoadgenCluster
  topic: string
  producer: LoadProducer
  fetcher: LoadFetcher
}

async function runTcpE2e(context: RunContext, state: TcpE2eState): Promise<RunOutcome> {
  const { params } = context
  const stopCpu = startCpuSplit(state.broker)
  const startOffsets = await state.cluster.endOffsets(state.topic, params.partitions)
  let consumed = 0
  let produced = -1
  let drainDeadline = Infinity
  const fetching = state.fetcher.run({
    startOffsets,
    shouldContinue: () => {
      if (produced >= 0 && consumed >= produced) return false
      if (Date.now() > drainDeadline) throw new DrainTimeoutError(consumed, produced)
      return true
    },
    onBatch: (buf, offset) => {
      const now = process.hrtime.bigint()
      let n = 0
      forEachStamp(buf, offset, (stamp) => {
        recordLatencyNs(context.latency, now - stamp)
        n++
      })
      consumed += n
      context.progress(n, n * params.recordSize)
    },
  })
  // A fetch failure must not wait for the producer to finish.
  fetching.catch(() => undefined)
  const startNs = process.hrtime.bigint()
  const result = await state.producer.runPaced({
    rate: params.rate ?? DEFAULT_E2E_RATE,
    lingerMs: params.lingerMs,
    startNs,
    shouldContinue: (offered) => params.records !== null ? offered < params.records : Number(process.hrtime.bigint() - startNs) < (params.durationMs ?? 0) * 1e6,
  })
  produced = result.records
  drainDeadline = Date.now() + DRAIN_TIMEOUT_MS
  await fetching
  return { records: consumed, bytes: consumed * params.recordSize, cpu: stopCpu() }
}

function tcpE2eScenario(params: BenchParams, options: TcpScenarioOptions): Scenario<TcpE2eState> {
  if (options.client === 'kcat') throw new RangeError('e2e-latency has no kcat mode (kcat cannot stamp or read the stamps)')
  return {
    name: options.name ?? `e2e-latency ${describeParams(params)}`,
    params,
    cpuOwner: 'client',
    async setup() {
      const { broker, cluster } = await openTcpTarget(params, options)
      try {
        const topic = benchTopicName('e2e')
        const producer = await LoadProducer.create(cluster, { topic, partitions: params.partitions, acks: params.acks, compression: params.compression, recordSize: params.recordSize, batchBytes: params.batchSize })
        const fetcher = await LoadFetcher.create(cluster, { topic, partitions: params.partitions, maxWaitMs: 100 })
        return { broker, cluster, topic, producer, fetcher }
      } catch (error) {
        await cluster.close()
        await broker.close()
        throw error
      }
    },
    run: runTcpE2e,
    async teardown(state) {
      await state.cluster.close()
      await state.broker.close()
    },
  }
}

/**
 * The end-to-end latency scenario; `rate` defaults to 100k records/s. The run offers
 * `records` records (or offers for `duration`), then waits until all were consumed.
 */
export function e2eLatencyScenario(input: BenchParamInput = {}, options: TcpScenarioOptions = {}): Scenario {
  const parsed = parseBenchParams(input, DEFAULT_BENCH_PARAMS)
  const params: BenchParams = { ...parsed, rate: parsed.rate ?? DEFAULT_E2E_RATE }
  return (params.mode === 'embedded' ? embeddedE2eScenario(params, options) : tcpE2eScenario(params, options)) as Scenario
}
