/**
 * Benchmark results as a JSON document (versioned: `schemaVersion`, described field by field
 * in report-schema.ts) and as a fixed-width table for people. The JSON keeps every
 * repetition's raw numbers so a later comparison (compare.ts) can test them, not just medians.
 * MB means 10^6 bytes. CPU is user + system seconds.
 */
import { cpus, arch, platform, release, totalmem, loadavg } from 'node:os'
import { mergeSerializedHistograms, serializedPercentilesMs, type LatencyPercentilesMs } from './histogram.js'
import { recordsPerSecond, type RepetitionResult, type ScenarioRunResult, type ScenarioRunWithReference } from './runner.js'
import { mean, median, stddev } from './stats.js'

export const REPORT_SCHEMA_VERSION = 1

export interface MachineInfo {
  cpus: number
  cpuModel: string
  memoryBytes: number
  node: string
  os: { platform: string; release: string; arch: string }
  /** 1-minute load average when the report was made: a busy machine explains noisy numbers. */
  loadAverage1m: number
}

export interface Spread {
  median: number
  mean: number
  stddev: number
  min: number
  max: number
}

export interface ScenarioSummary {
  repetitions: number
  recordsPerSec: Spread
  mbPerSec: Spread
  /** Medians over repetitions of CPU seconds per 10^6 records. */
  cpuSecondsPerMillionRecords: { broker: number; client: number }
  /** From all repetitions' latency histograms merged. */
  latencyMs: LatencyPercentilesMs
}

export interface ScenarioRunReport extends ScenarioRunResult {
  summary: ScenarioSummary
}

export interface ScenarioReport extends ScenarioRunReport {
  reference?: ScenarioRunReport
  pairRatios?: number[]
  medianPairRatio?: number
}

export interface BenchReport {
  schemaVersion: typeof REPORT_SCHEMA_VERSION
  kind: 'ringlog-bench'
  createdAt: string
  command: { argv: string[]; cwd: string }
  machine: MachineInfo
  scenarios: ScenarioReport[]
}

export function machineInfo(): MachineInfo {
  const list = cpus()
  return {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    memoryBytes: totalmem(),
    node: process.version,
    os: { platform: platform(), release: release(), arch: arch() },
    loadAverage1m: loadavg()[0],
  }
}

function spread(xs: readonly number[]): Spread {
  return { median: median(xs), mean: mean(xs), stddev: stddev(xs), min: Math.min(...xs), max: Math.max(...xs) }
}

function cpuPerMillion(repetitions: readonly RepetitionResult[], side: 'broker' | 'client'): number {
  return median(repetitions.map((r) => (r.records > 0 ? (r.cpu[side] * 1e6) / r.records : 0)))
}

export function summarize(repetitions: readonly RepetitionResult[]): ScenarioSummary {
  if (repetitions.length === 0) throw new RangeError('cannot summarize zero repetitions')
  return {
    repetitions: repetitions.length,
    recordsPerSec: spread(repetitions.map(recordsPerSecond)),
    mbPerSec: spread(repetitions.map((r) => (r.durationNs > 0 ? (r.bytes * 1e3) / r.durationNs : 0))),
    cpuSecondsPerMillionRecords: { broker: cpuPerMillion(repetitions, 'broker'), client: cpuPerMillion(repetitions, 'client') },
    latencyMs: serializedPercentilesMs(mergeSerializedHistograms(repetitions.map((r) => r.latency))),
  }
}

function withSummary(run: ScenarioRunResult): ScenarioRunReport {
  return { name: run.name, params: run.params, repetitions: run.repetitions, summary: summarize(run.repetitions) }
}

export interface BuildReportOptions {
  argv?: string[]
  cwd?: string
  createdAt?: Date
}

export function buildReport(runs: readonly ScenarioRunWithReference[], options: BuildReportOptions = {}): BenchReport {
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    kind: 'ringlog-bench',
    createdAt: (options.createdAt ?? new Date()).toISOString(),
    command: { argv: options.argv ?? process.argv.slice(), cwd: options.cwd ?? process.cwd() },
    machine: machineInfo(),
    scenarios: runs.map((run) => {
      const report: ScenarioReport = withSummary(run)
      if (run.reference) report.reference = withSummary(run.reference)
      if (run.pairRatios) report.pairRatios = run.pairRatios
      if (run.medianPairRatio !== undefined) report.medianPairRatio = run.medianPairRatio
      return report
    }),
  }
}

/** Three significant digits, no exponent for everyday magnitudes. */
export function formatSignificant(value: number): string {
  if (!Number.isFinite(value)) return String(value)
  if (value === 0) return '0'
  const magnitude = Math.floor(Math.log10(Math.abs(value)))
  const decimals = Math.max(0, 2 - magnitude)
  return value.toFixed(Math.min(decimals, 6))
}

function formatInteger(value: number): string {
  return Math.round(value).toLocaleString('en-US')
}

/** Fixed-width table: first column left-aligned, numbers right-aligned. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ').trimEnd()
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

function summaryRow(name: string, summary: ScenarioSummary, vsReference: string): string[] {
  const rate = summary.recordsPerSec
  const cv = rate.mean > 0 ? (rate.stddev / rate.mean) * 100 : 0
  const lat = summary.latencyMs
  return [
    name,
    String(summary.repetitions),
    formatInteger(rate.median),
    `${cv.toFixed(1)}%`,
    summary.mbPerSec.median.toFixed(1),
    formatSignificant(summary.cpuSecondsPerMillionRecords.broker),
    formatSignificant(summary.cpuSecondsPerMillionRecords.client),
    lat.count > 0 ? formatSignificant(lat.p50) : '-',
    lat.count > 0 ? formatSignificant(lat.p99) : '-',
    lat.count > 0 ? formatSignificant(lat.p999) : '-',
    lat.count > 0 ? formatSignificant(lat.max) : '-',
    vsReference,
  ]
}

export const SUMMARY_TABLE_HEADER: readonly string[] = [
  'scenario', 'reps', 'records/s', '±cv', 'MB/s', 'cpu s/M brk', 'cpu s/M cli', 'p50 ms', 'p99 ms', 'p999 ms', 'max ms', 'vs ref',
]

/** The readable table of a report: one row per scenario (and per reference), medians of repetitions. */
export function formatReportTable(report: BenchReport): string {
  const rows: string[][] = []
  for (const scenario of report.scenarios) {
    const vs = scenario.medianPairRatio !== undefined ? `${scenario.medianPairRatio.toFixed(3)}x` : ''
    rows.push(summaryRow(scenario.name, scenario.summary, vs))
    if (scenario.reference) rows.push(summaryRow(`  ${scenario.reference.name}`, scenario.reference.summary, '1x'))
  }
  const m = report.machine
  const footer = `${m.cpus} x ${m.cpuModel}, ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB, node ${m.node}, ${m.os.platform} ${m.os.release}, load ${m.loadAverage1m.toFixed(2)}; medians of repetitions; vs ref = median of per-pair ratios (records/s) against the reference run alternately in the same run`
  return `${formatTable(SUMMARY_TABLE_HEADER, rows)}\n${footer}`
}
