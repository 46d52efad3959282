/**
 * The machinery the tinybench micro-benchmarks share: their command line, repeating a tinybench
 * suite `runs` times, per-figure medians over the runs, same-run throughput ratios, and printing
 * the readable tables and the JSON report. Each bench keeps only its inputs and tasks.
 */
import { parseArgs } from 'node:util'
import { Bench } from 'tinybench'
import { formatTable } from '../../src/bench/report.js'
import { median } from '../../src/bench/stats.js'

export interface MicroArgs {
  runs: number
  timeMs: number
  jsonOnly: boolean
}

/** `[--runs 3] [--time 300] [--json-only]`: at least 1 run, at least 50 ms per task. */
export function parseMicroArgs(): MicroArgs {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      time: { type: 'string', default: '300' },
      'json-only': { type: 'boolean', default: false },
    },
  })
  return { runs: Math.max(1, Number(values.runs)), timeMs: Math.max(50, Number(values.time)), jsonOnly: values['json-only'] }
}

/** One task's figures in one run, or their medians over the runs. */
export interface TaskFigures {
  opsPerSec: number
  p50Us: number
  p99Us: number
}

export interface SuiteRunsOptions extends MicroArgs {
  /** Adds the tasks to a fresh Bench; called once per run. */
  register: (bench: Bench) => void
}

export interface SuiteRuns {
  /** One map per run, task name to figures, in the order the tasks were added. */
  perRun: Map<string, TaskFigures>[]
  /** Per task, the median of each figure over the runs. */
  medians: Record<string, TaskFigures>
}

async function runOnce(timeMs: number, register: (bench: Bench) => void): Promise<Map<string, TaskFigures>> {
  const bench = new Bench({ time: timeMs, warmupTime: 50 })
  register(bench)
  await bench.run()
  const out = new Map<string, TaskFigures>()
  for (const task of bench.tasks) {
    const r = task.result
    if (r.state !== 'completed') throw new Error(`task ${task.name} ended ${r.state}`)
    out.set(task.name, { opsPerSec: r.throughput.mean, p50Us: r.latency.p50 * 1000, p99Us: r.latency.p99 * 1000 })
  }
  return out
}

/** Runs the suite `runs` times (progress on stderr unless `jsonOnly`) and takes the medians. */
export async function runSuites(options: SuiteRunsOptions): Promise<SuiteRuns> {
  const perRun: Map<string, TaskFigures>[] = []
  for (let i = 0; i < options.runs; i++) {
    if (!options.jsonOnly) console.error(`run ${i + 1}/${options.runs} ...`)
    perRun.push(await runOnce(options.timeMs, options.register))
  }
  const medians: Record<string, TaskFigures> = {}
  for (const name of perRun[0].keys()) {
    const figures = perRun.map((run) => figuresOf(run, name))
    medians[name] = {
      opsPerSec: median(figures.map((f) => f.opsPerSec)),
      p50Us: median(figures.map((f) => f.p50Us)),
      p99Us: median(figures.map((f) => f.p99Us)),
    }
  }
  return { perRun, medians }
}

function figuresOf(run: Map<string, TaskFigures>, name: string): TaskFigures {
  const figures = run.get(name)
  if (!figures) throw new Error(`no task named ${name} in the run`)
  return figures
}

/** Throughput of task `a` over task `b` within each run (same conditions), then the median over runs. */
export function ratio(suite: SuiteRuns, a: string, b: string): number {
  return median(suite.perRun.map((run) => figuresOf(run, a).opsPerSec / figuresOf(run, b).opsPerSec))
}

export interface PrintOptions {
  jsonOnly: boolean
  title: string
  /** The per-task table: its header and already formatted rows. */
  header: readonly string[]
  rows: readonly (readonly string[])[]
  ratios: Record<string, number>
  report: object
}

/** The readable tables (unless `jsonOnly`), then the JSON report on stdout. */
export function printReport(options: PrintOptions): void {
  if (!options.jsonOnly) {
    console.log(`\n${options.title}`)
    console.log(formatTable(options.header, options.rows))
    console.log(formatTable(['ratio', 'value'], Object.entries(options.ratios).map(([name, value]) => [name, value.toFixed(2)])))
  }
  console.log(JSON.stringify(options.report, null, 2))
}
