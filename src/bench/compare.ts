/**
 * Regression mode: compare a current report with a baseline report, scenario by scenario
 * (matched by name and params), over their repetitions' throughput. A regression is flagged
 * only when the difference is both significant (Mann-Whitney, p < alpha) and large (the
 * median slowdown exceeds the threshold): noise alone is rarely significant, and a
 * significant 1% change is not worth failing a build for.
 */
import type { BenchReport, ScenarioReport } from './report.js'
import { formatSignificant, formatTable } from './report.js'
import { recordsPerSecond } from './runner.js'
import { compareSamples, median } from './stats.js'

export type CompareMetric = 'recordsPerSec' | 'pairRatio'

export interface CompareOptions {
  /** Significance level, default 0.05. */
  alpha?: number
  /** Relative slowdown that counts, default 0.05 (5%). */
  threshold?: number
  /**
   * 'recordsPerSec' (default) compares absolute throughput; 'pairRatio' compares the
   * same-run ratios to the reference, which survives a change of machine or load.
   */
  metric?: CompareMetric
  /** Of the ratio's bootstrap interval, default 0.95. */
  confidence?: number
  /** Bootstrap seed, default 1. */
  seed?: number
}

export type Verdict = 'regression' | 'improvement' | 'unchanged' | 'too-few-repetitions' | 'only-in-baseline' | 'only-in-current' | 'no-metric'

export interface ScenarioComparison {
  name: string
  /** name + params, the matching key. */
  key: string
  verdict: Verdict
  baselineMedian: number | null
  currentMedian: number | null
  /** (current / baseline - 1) * 100 on medians; negative = slower. */
  changePct: number | null
  ciLowPct: number | null
  ciHighPct: number | null
  p: number | null
  u: number | null
  n: { baseline: number; current: number }
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>
    return `{${Object.keys(record).sort().map((k) => `${JSON.stringify(k)}:${stableStringify(record[k])}`).join(',')}}`
  }
  return JSON.stringify(value)
}

export function scenarioKey(scenario: Pick<ScenarioReport, 'name' | 'params'>): string {
  return `${scenario.name} ${stableStringify(scenario.params)}`
}

function samples(scenario: ScenarioReport, metric: CompareMetric): number[] {
  if (metric === 'pairRatio') return scenario.pairRatios ?? []
  return scenario.repetitions.map(recordsPerSecond)
}

function missing(name: string, key: string, verdict: Verdict, nBaseline: number, nCurrent: number): ScenarioComparison {
  return { name, key, verdict, baselineMedian: null, currentMedian: null, changePct: null, ciLowPct: null, ciHighPct: null, p: null, u: null, n: { baseline: nBaseline, current: nCurrent } }
}

function compareScenario(base: ScenarioReport, current: ScenarioReport, options: Required<CompareOptions>): ScenarioComparison {
  const key = scenarioKey(current)
  const a = samples(base, options.metric)
  const b = samples(current, options.metric)
  if (a.length === 0 || b.length === 0) return missing(current.name, key, 'no-metric', a.length, b.length)
  const result = compareSamples(a, b, { confidence: options.confidence, seed: options.seed })
  const significant = result.p < options.alpha
  let verdict: Verdict = 'unchanged'
  if (significant && result.ratio < 1 - options.threshold) verdict = 'regression'
  else if (significant && result.ratio > 1 + options.threshold) verdict = 'improvement'
  else if (result.minAchievableP >= options.alpha && result.method === 'exact') verdict = 'too-few-repetitions'
  return {
    name: current.name,
    key,
    verdict,
    baselineMedian: median(a),
    currentMedian: median(b),
    changePct: (result.ratio - 1) * 100,
    ciLowPct: (result.low - 1) * 100,
    ciHighPct: (result.high - 1) * 100,
    p: result.p,
    u: result.u,
    n: { baseline: a.length, current: b.length },
  }
}

/** One row per scenario present in either report, in the current report's order. */
export function compareReports(baseline: BenchReport, current: BenchReport, options: CompareOptions = {}): ScenarioComparison[] {
  const resolved: Required<CompareOptions> = {
    alpha: options.alpha ?? 0.05,
    threshold: options.threshold ?? 0.05,
    metric: options.metric ?? 'recordsPerSec',
    confidence: options.confidence ?? 0.95,
    seed: options.seed ?? 1,
  }
  const baseByKey = new Map(baseline.scenarios.map((s) => [scenarioKey(s), s]))
  const rows: ScenarioComparison[] = []
  const seen = new Set<string>()
  for (const scenario of current.scenarios) {
    const key = scenarioKey(scenario)
    seen.add(key)
    const base = baseByKey.get(key)
    rows.push(base ? compareScenario(base, scenario, resolved) : missing(scenario.name, key, 'only-in-current', 0, scenario.repetitions.length))
  }
  for (const [key, base] of baseByKey) {
    if (!seen.has(key)) rows.push(missing(base.name, key, 'only-in-baseline', base.repetitions.length, 0))
  }
  return rows
}

/** True when any scenario regressed: the CLI exits non-zero on it. */
export function hasRegression(rows: readonly ScenarioComparison[]): boolean {
  return rows.some((row) => row.verdict === 'regression')
}

function pct(value: number | null): string {
  if (value === null) return '-'
  return `${value >= 0 ? '+' : ''}${value.toFixed(1)}%`
}

export function formatComparisonTable(rows: readonly ScenarioComparison[], options: CompareOptions = {}): string {
  const metric = options.metric ?? 'recordsPerSec'
  const unit = metric === 'pairRatio' ? 'ratio' : 'rec/s'
  const header = ['scenario', `baseline ${unit}`, `current ${unit}`, 'change', `${Math.round((options.confidence ?? 0.95) * 100)}% CI`, 'p', 'n', 'verdict']
  const body = rows.map((row) => [
    row.name,
    row.baselineMedian === null ? '-' : metric === 'pairRatio' ? row.baselineMedian.toFixed(3) : Math.round(row.baselineMedian).toLocaleString('en-US'),
    row.currentMedian === null ? '-' : metric === 'pairRatio' ? row.currentMedian.toFixed(3) : Math.round(row.currentMedian).toLocaleString('en-US'),
    pct(row.changePct),
    row.ciLowPct === null ? '-' : `[${pct(row.ciLowPct)}, ${pct(row.ciHighPct)}]`,
    row.p === null ? '-' : formatSignificant(row.p),
    `${row.n.baseline}/${row.n.current}`,
    row.verdict,
  ])
  const rule = `regression = p < ${options.alpha ?? 0.05} and slowdown > ${((options.threshold ?? 0.05) * 100).toFixed(0)}% (Mann-Whitney U, two-sided; CI: bootstrap of the ratio of medians)`
  return `${formatTable(header, body)}\n${rule}`
}
