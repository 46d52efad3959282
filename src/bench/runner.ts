/**
 * Runs a scenario: setup, warm-up, N measured repetitions, teardown. Each repetition
 * yields its raw numbers (records, bytes, wall time, CPU, latency histogram, throughput
 * samples over time). Optionally alternates with a reference scenario (ABAB...) so that
 * ratios are taken between neighbours in time, which cancels most of the machine's drift
 * and background noise that absolute numbers suffer from.
 */
import { createLatencyHistogram, serializeHistogram, type SerializedHistogram } from './histogram.js'
import type { BenchParams, CpuSeconds, RunContext, Scenario } from './scenario.js'
import { median } from './stats.js'

export interface ThroughputSample {
  /** End of the sample window, ms since the repetition started. */
  tMs: number
  recordsPerSec: number
}

export interface RepetitionResult {
  records: number
  bytes: number
  durationNs: number
  cpu: CpuSeconds
  latency: SerializedHistogram
  /** Records/s per window (default 1 s; the last window may be shorter). */
  throughput: ThroughputSample[]
}

export interface ScenarioRunResult {
  name: string
  params: BenchParams
  repetitions: RepetitionResult[]
}

export interface ScenarioRunWithReference extends ScenarioRunResult {
  /** Present when the run alternated with the scenario's reference. */
  reference?: ScenarioRunResult
  /** Per pair: (subject records/s) / (reference records/s), pairs adjacent in time. */
  pairRatios?: number[]
  medianPairRatio?: number
}

export interface RunnerOptions {
  /** Measured repetitions, default 5 (the exact Mann-Whitney test needs >= 4 per side to reach p < 0.05). */
  repetitions?: number
  /** Discarded repetitions before measuring, default 1. */
  warmups?: number
  /** Alternate with `scenario.reference()` (ABAB...) and report per-pair ratios. */
  withReference?: boolean
  /** Live progress line on stderr; default: only when stderr is a TTY. */
  progress?: boolean
  /** Where the progress line goes, default process.stderr. */
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean }
  /** Throughput sample window, default 1000 ms. */
  sampleIntervalMs?: number
  /**
   * Called before every repetition (warm-ups and reference ones too), outside the timing:
   * the benchmark entry points pass `settlePageCache` (settle.ts). Default: nothing.
   */
  settle?: () => Promise<void>
}

export function recordsPerSecond(repetition: RepetitionResult): number {
  return repetition.durationNs > 0 ? (repetition.records * 1e9) / repetition.durationNs : 0
}

interface ProgressLine {
  update(label: string, records: number, ratePerSec: number): void
  clear(): void
}

function createProgressLine(enabled: boolean, stream: NodeJS.WritableStream): ProgressLine {
  let lastDrawNs = 0n
  let drawn = false
  return {
    update(label, records, ratePerSec) {
      if (!enabled) return
      const now = process.hrtime.bigint()
      // Redraw at most 5 times a second: the line must not cost measurable CPU.
      if (now - lastDrawNs < 200_000_000n) return
      lastDrawNs = now
      drawn = true
      stream.write(`\r\x1b[2K${label}  ${Math.round(records).toLocaleString('en-US')} records  ${Math.round(ratePerSec).toLocaleString('en-US')} rec/s`)
    },
    clear() {
      if (enabled && drawn) stream.write('\r\x1b[2K')
      drawn = false
    },
  }
}

async function runOnce<State>(scenario: Scenario<State>, state: State, repetition: number, label: string, line: ProgressLine, sampleIntervalMs: number, settle: (() => Promise<void>) | undefined): Promise<RepetitionResult> {
  const params = scenario.params
  const latency = createLatencyHistogram()
  const throughput: ThroughputSample[] = []
  const windowNs = BigInt(Math.round(sampleIntervalMs * 1e6))
  const deadlineNs = params.durationMs === null ? null : BigInt(Math.round(params.durationMs * 1e6))
  const recordLimit = params.records
  let records = 0
  let windowRecords = 0
  let windowStartNs = 0n

  if (scenario.beforeRun) await scenario.beforeRun(state)
  if (settle) await settle()
  const cpuBefore = process.cpuUsage()
  const startNs = process.hrtime.bigint()
  windowStartNs = startNs
  const context: RunContext = {
    params,
    latency,
    startNs,
    repetition,
    progress(recordsDelta) {
      records += recordsDelta
      windowRecords += recordsDelta
      const now = process.hrtime.bigint()
      if (now - windowStartNs >= windowNs) {
        const elapsed = Number(now - windowStartNs)
        throughput.push({ tMs: Number(now - startNs) / 1e6, recordsPerSec: (windowRecords * 1e9) / elapsed })
        windowRecords = 0
        windowStartNs = now
      }
      line.update(label, records, (records * 1e9) / Math.max(1, Number(now - startNs)))
    },
    shouldContinue(recordsDone) {
      if (recordLimit !== null && recordsDone >= recordLimit) return false
      return deadlineNs === null || process.hrtime.bigint() - startNs < deadlineNs
    },
  }
  const outcome = await scenario.run(context, state)
  const endNs = process.hrtime.bigint()
  const cpuDelta = process.cpuUsage(cpuBefore)
  if (windowRecords > 0 || throughput.length === 0) {
    const elapsed = Math.max(1, Number(endNs - windowStartNs))
    throughput.push({ tMs: Number(endNs - startNs) / 1e6, recordsPerSec: (windowRecords * 1e9) / elapsed })
  }
  const processCpu = (cpuDelta.user + cpuDelta.system) / 1e6
  const cpu = outcome.cpu ?? (scenario.cpuOwner === 'broker' ? { broker: processCpu, client: 0 } : { broker: 0, client: processCpu })
  return {
    records: outcome.records,
    bytes: outcome.bytes,
    durationNs: Number(endNs - startNs),
    cpu,
    latency: serializeHistogram(latency),
    throughput,
  }
}

interface Prepared {
  scenario: Scenario
  state: unknown
}

async function prepare(scenario: Scenario): Promise<Prepared> {
  const state = scenario.setup ? await scenario.setup() : undefined
  return { scenario, state }
}

async function release(prepared: Prepared | undefined): Promise<void> {
  if (prepared?.scenario.teardown) await prepared.scenario.teardown(prepared.state)
}

/** Runs `scenario` (and, if asked, its reference in alternation); always tears down what it set up. */
export async function runScenario(scenario: Scenario, options: RunnerOptions = {}): Promise<ScenarioRunWithReference> {
  const repetitions = options.repetitions ?? 5
  const warmups = options.warmups ?? 1
  const sampleIntervalMs = options.sampleIntervalMs ?? 1000
  if (!Number.isInteger(repetitions) || repetitions < 1) throw new RangeError(`repetitions must be >= 1, got ${repetitions}`)
  const stream = options.progressStream ?? process.stderr
  const line = createProgressLine(options.progress ?? Boolean(stream.isTTY), stream)
  const referenceScenario = options.withReference ? scenario.reference?.() : undefined
  if (options.withReference && !referenceScenario) throw new RangeError(`scenario ${scenario.name} has no reference scenario`)

  let subject: Prepared | undefined
  let reference: Prepared | undefined
  try {
    subject = await prepare(scenario)
    if (referenceScenario) reference = await prepare(referenceScenario)
    const order: Prepared[] = reference ? [subject, reference] : [subject]
    for (let w = 0; w < warmups; w++) {
      for (const p of order) await runOnce(p.scenario, p.state, -1, `${p.scenario.name} warm-up`, line, sampleIntervalMs, options.settle)
    }
    const results = new Map<Prepared, RepetitionResult[]>(order.map((p) => [p, []]))
    for (let r = 0; r < repetitions; r++) {
      for (const p of order) {
        const label = `${p.scenario.name} rep ${r + 1}/${repetitions}`
        results.get(p)!.push(await runOnce(p.scenario, p.state, r, label, line, sampleIntervalMs, options.settle))
      }
    }
    line.clear()
    const subjectReps = results.get(subject)!
    const run: ScenarioRunWithReference = { name: scenario.name, params: { ...scenario.params }, repetitions: subjectReps }
    if (reference) {
      const referenceReps = results.get(reference)!
      const ratios = subjectReps.map((rep, i) => recordsPerSecond(rep) / recordsPerSecond(referenceReps[i]))
      run.reference = { name: reference.scenario.name, params: { ...reference.scenario.params }, repetitions: referenceReps }
      run.pairRatios = ratios
      run.medianPairRatio = median(ratios)
    }
    return run
  } finally {
    line.clear()
    try {
      await release(reference)
    } finally {
      await release(subject)
    }
  }
}
