#!/usr/bin/env node
// The standard short benchmark suite (`npm run bench`, which builds first): runs every
// scenario in SUITE through the compiled harness in dist/bench/, prints the table, writes
// the JSON report to bench/results/ and, when asked, an SVG plot and a regression check
// against a baseline report (exit code 1 on a flagged regression, 2 on a usage error).
//
//   node bench/run.mjs [--reps 5] [--warmups 1] [--filter durable] [--params record-size=1KiB,records=200k]
//                      [--with-reference] [--plot out.svg] [--out file.json]
//                      [--compare baseline.json [--alpha 0.05] [--threshold 0.05] [--metric recordsPerSec|pairRatio]]
//
// Absolute numbers depend on the machine and on whatever else runs on it; compare runs from
// the same machine, or use --with-reference and --metric pairRatio.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const here = dirname(fileURLToPath(import.meta.url))
const bench = await import(resolve(here, '../dist/bench/index.js')).catch((error) => {
  console.error(`cannot load the compiled harness (run \`npm run build\` first): ${error.message}`)
  process.exit(2)
})

/** The scenario's own defaults with the command line's --params over them (a duration there replaces the record count). */
const params = (defaults, overrides) => bench.parseBenchParams(overrides, bench.parseBenchParams(defaults))

/**
 * The suite. Add a scenario by adding an entry: `make(overrides)` gets the --params string
 * (may be empty) and returns a Scenario (see src/bench/scenario.ts).
 */
const registry = await import(resolve(here, '../dist/bench/scenarios/registry.js'))
const scenario = (name, defaults) => ({ make: (overrides) => registry.makeScenario(name, params(defaults, overrides)) })
const SUITE = [
  { make: (overrides) => bench.fileAppendScenario(params('records=2M,flush=never', overrides)) },
  { make: (overrides) => bench.fileAppendScenario(params('records=300k,flush=always', overrides)) },
  // Embedded (`open()` in this process) and tcp (the wire load generator against a broker
  // started as a child process, CPU measured apart).
  scenario('produce', 'mode=embedded,records=1M,flush=never,acks=all'),
  scenario('produce', 'mode=embedded,records=300k,flush=always,acks=all'),
  scenario('produce', 'mode=embedded,records=300k,flush=always,acks=all,compression=lz4'),
  scenario('consume', 'mode=embedded,records=1M,flush=never'),
  scenario('produce', 'mode=tcp,records=1M,flush=never,acks=1'),
  scenario('produce', 'mode=tcp,records=1M,flush=always,acks=all'),
  scenario('consume', 'mode=tcp,records=2M,flush=never'),
]

function usage(message) {
  console.error(message)
  process.exit(2)
}

let args
try {
  args = parseArgs({
    options: {
      reps: { type: 'string', default: '5' },
      warmups: { type: 'string', default: '1' },
      filter: { type: 'string' },
      params: { type: 'string', default: '' },
      'with-reference': { type: 'boolean', default: false },
      progress: { type: 'boolean' },
      plot: { type: 'string' },
      out: { type: 'string' },
      compare: { type: 'string' },
      alpha: { type: 'string', default: '0.05' },
      threshold: { type: 'string', default: '0.05' },
      metric: { type: 'string', default: 'recordsPerSec' },
    },
    strict: true,
  }).values
} catch (error) {
  usage(error.message)
}

const repetitions = Number(args.reps)
const warmups = Number(args.warmups)
if (!Number.isInteger(repetitions) || repetitions < 1) usage(`--reps must be a positive integer, got ${args.reps}`)
if (!Number.isInteger(warmups) || warmups < 0) usage(`--warmups must be >= 0, got ${args.warmups}`)
if (args.metric !== 'recordsPerSec' && args.metric !== 'pairRatio') usage(`--metric must be recordsPerSec or pairRatio`)

let scenarios
try {
  scenarios = SUITE.map((entry) => entry.make(args.params)).filter((s) => !args.filter || s.name.includes(args.filter))
} catch (error) {
  usage(error.message)
}
if (scenarios.length === 0) usage(`no scenario matches --filter ${args.filter}`)

const runs = []
for (const scenario of scenarios) {
  // settle: the page cache is written back before each repetition (see src/bench/settle.ts).
  runs.push(await bench.runScenario(scenario, { repetitions, warmups, withReference: args['with-reference'], progress: args.progress, settle: bench.settlePageCache }))
}
const report = bench.buildReport(runs)
console.log(bench.formatReportTable(report))

const outFile = args.out ?? join(here, 'results', `bench-${report.createdAt.replace(/[:.]/g, '-')}.json`)
mkdirSync(dirname(outFile), { recursive: true })
writeFileSync(outFile, `${JSON.stringify(report, null, 2)}\n`)
console.log(`\nreport: ${outFile}`)

if (args.plot) {
  writeFileSync(args.plot, bench.renderBenchSvg(report))
  console.log(`plot: ${args.plot}`)
}

if (args.compare) {
  const baseline = JSON.parse(readFileSync(args.compare, 'utf8'))
  bench.assertValidReport(baseline)
  const options = { alpha: Number(args.alpha), threshold: Number(args.threshold), metric: args.metric }
  const rows = bench.compareReports(baseline, report, options)
  console.log(`\nagainst ${args.compare}:\n${bench.formatComparisonTable(rows, options)}`)
  if (bench.hasRegression(rows)) {
    console.error('regression flagged')
    process.exitCode = 1
  }
}
