/**
 * `ringlog bench [scenario...]`: runs benchmark scenarios (produce, consume, e2e-latency,
 * file-append; default produce) with the shared parameters (--in-flight and --rate take a
 * comma-separated list: a sweep, one row per value), prints a live progress line on
 * stderr and the table on stdout, and optionally writes the JSON report (--json), an SVG
 * plot (--plot) and a regression check against a baseline report (--baseline: exit code 1
 * when a scenario is significantly slower beyond --threshold). --current FILE compares a
 * saved report instead of running anything. A usage error, like any failure of a ringlog
 * command, is one `ringlog: <message>` line on stderr and exit code 1.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls'
import { type Command, Option } from 'commander'
import { errorLine } from './error-line.js'
import {
  assertValidReport, buildReport, compareReports, formatComparisonTable, formatReportTable, hasRegression, renderBenchSvg, runScenario, settlePageCache,
  BenchParamError, type BenchReport, type CompareMetric, type ScenarioRunWithReference,
} from '../bench/index.js'
import type { BrokerPlacement } from '../bench/scenarios/bench-broker.js'
import type { BenchClient } from '../bench/scenarios/produce.js'
import { isScenarioName, makeScenario, SCENARIO_NAMES } from '../bench/scenarios/registry.js'
import { withInjectedSlowdown } from '../bench/scenarios/slowdown.js'
import { startBenchCluster } from './bench-cluster.js'

export interface BenchCommandOptions {
  records?: string
  duration?: string
  reps?: string
  warmups?: string
  recordSize?: string
  partitions?: string
  acks?: string
  compression?: string
  flush?: string
  batchBytes?: string
  linger?: string
  inFlight?: string
  mode?: string
  brokers?: string
  rate?: string
  client?: string
  json?: string
  plot?: string
  baseline?: string
  current?: string
  threshold?: string
  alpha?: string
  metric?: string
  withReference?: boolean
  progress?: boolean
  /** Test-only: multiply every repetition's duration by this factor. */
  injectSlowdown?: string
  /** tcp over TLS: a started broker gets an SSL listener with a throwaway certificate; --brokers is reached with --tls-ca-file. */
  tls?: boolean
  tlsCaFile?: string
  /** child (default) | in-process | sink (the discarding sink: measures the load generator alone). */
  brokerPlacement?: string
  /** tcp: start a private cluster of this many brokers (etcd included) per scenario. */
  cluster?: string
  /** Replication factor of the bench topic; a comma-separated list sweeps. */
  replicationFactor?: string
}

/** Where the command writes; tests pass their own. */
export interface BenchIo {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream & { isTTY?: boolean }
  argv?: string[]
}

export class BenchUsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'BenchUsageError'
  }
}

const CPU_NOTE = [
  'cpu s/M = CPU seconds per million records. embedded rows: the whole process (engine threads and client) is in the broker column.',
  'tcp rows with a broker the bench started: broker process (all threads) and this client process apart; with --brokers the broker is not measured (0).',
  'Absolute numbers move with machine load (see "load" above): compare within one run (--with-reference) or runs on the same idle machine.',
].join('\n')

function parseFraction(name: string, raw: string): number {
  const text = raw.trim()
  const value = text.endsWith('%') ? Number(text.slice(0, -1)) / 100 : Number(text)
  if (!Number.isFinite(value) || value < 0 || value >= 1) throw new BenchUsageError(`${name} must be a fraction in [0, 1) or a percentage, got "${raw}"`)
  return value
}

function parseCount(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min) throw new BenchUsageError(`${name} must be an integer >= ${min}, got "${raw}"`)
  return value
}

function benchParamInput(options: BenchCommandOptions): Record<string, string | undefined> {
  return {
    records: options.records,
    duration: options.duration,
    recordSize: options.recordSize,
    partitions: options.partitions,
    acks: options.acks,
    compression: options.compression,
    flush: options.flush,
    batchSize: options.batchBytes,
    linger: options.linger,
    inFlight: options.inFlight,
    // --brokers and --tls only make sense over the wire: they imply tcp.
    mode: options.mode ?? (options.brokers || options.tls || options.tlsCaFile !== undefined ? 'tcp' : undefined),
    brokers: options.brokers,
    rate: options.rate,
    cluster: options.cluster,
  }
}

/** A flag's comma-separated values, each a row of a sweep; [undefined] when the flag is absent. */
function sweepValues(flag: string, raw: string | undefined): (string | undefined)[] {
  if (raw === undefined) return [undefined]
  const values = raw.split(',').map((value) => value.trim())
  if (values.some((value) => value.length === 0)) throw new BenchUsageError(`${flag} takes a value or a comma-separated list of them, got "${raw}"`)
  if (new Set(values).size !== values.length) throw new BenchUsageError(`${flag} lists a value twice: "${raw}"`)
  return values
}

function readReport(path: string): BenchReport {
  const document: unknown = JSON.parse(readFileSync(path, 'utf8'))
  assertValidReport(document)
  return document
}

/** Runs `ringlog bench`; resolves with the exit code (0 ok, 1 regression flagged or usage error). */
export async function runBenchCommand(scenarioNames: readonly string[], options: BenchCommandOptions, io: BenchIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let report: BenchReport
  try {
    const threshold = parseFraction('--threshold', options.threshold ?? '5%')
    const alpha = parseFraction('--alpha', options.alpha ?? '0.05')
    const metric = (options.metric ?? 'recordsPerSec') as CompareMetric
    if (metric !== 'recordsPerSec' && metric !== 'pairRatio') throw new BenchUsageError('--metric must be recordsPerSec or pairRatio')
    if (options.current) {
      if (!options.baseline) throw new BenchUsageError('--current compares a saved report: give --baseline too')
      report = readReport(options.current)
    } else {
      report = await runScenarios(scenarioNames, options, io)
    }
    io.stdout.write(`${formatReportTable(report)}\n${CPU_NOTE}\n`)
    if (options.json && !options.current) {
      writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`)
      io.stdout.write(`report: ${options.json}\n`)
    }
    if (options.plot) {
      writeFileSync(options.plot, renderBenchSvg(report))
      io.stdout.write(`plot: ${options.plot}\n`)
    }
    if (options.baseline) {
      const baseline = readReport(options.baseline)
      const compareOptions = { alpha, threshold, metric }
      const rows = compareReports(baseline, report, compareOptions)
      io.stdout.write(`\nagainst ${options.baseline}:\n${formatComparisonTable(rows, compareOptions)}\n`)
      if (hasRegression(rows)) {
        io.stderr.write(`ringlog: regression flagged against ${options.baseline}\n`)
        return 1
      }
    }
    return 0
  } catch (error) {
    if (error instanceof BenchUsageError || error instanceof BenchParamError || error instanceof RangeError) {
      io.stderr.write(errorLine(error))
      return 1
    }
    throw error
  }
}

async function runScenarios(scenarioNames: readonly string[], options: BenchCommandOptions, io: BenchIo): Promise<BenchReport> {
  const names = scenarioNames.length > 0 ? scenarioNames : ['produce']
  for (const name of names) if (!isScenarioName(name)) throw new BenchUsageError(`unknown scenario "${name}" (known: ${SCENARIO_NAMES.join(', ')})`)
  const repetitions = parseCount('--reps', options.reps, 5, 1)
  const warmups = parseCount('--warmups', options.warmups, 1, 0)
  const client = (options.client ?? 'loadgen') as BenchClient
  if (client !== 'loadgen' && client !== 'kcat') throw new BenchUsageError('--client must be loadgen or kcat')
  const placement = (options.brokerPlacement ?? 'child') as BrokerPlacement
  if (placement !== 'child' && placement !== 'in-process' && placement !== 'sink') throw new BenchUsageError('--broker-placement must be child, in-process or sink')
  const slowdown = options.injectSlowdown === undefined ? 1 : Number(options.injectSlowdown)
  if (!(slowdown >= 1)) throw new BenchUsageError(`--inject-slowdown must be a factor >= 1, got "${options.injectSlowdown}"`)
  const input = benchParamInput(options)
  const tls = benchTls(options)
  // A sweep: every scenario once per listed --in-flight and --rate value (each row named by them).
  const inFlights = sweepValues('--in-flight', options.inFlight)
  const rates = sweepValues('--rate', options.rate)
  const replicationFactors = sweepValues('--replication-factor', options.replicationFactor)
  // Build every scenario first, so a bad parameter fails before anything runs.
  const scenarios = names.flatMap((name) => inFlights.flatMap((inFlight) => rates.flatMap((rate) => replicationFactors.map((replicationFactor) => {
    const scenario = makeScenario(name as (typeof SCENARIO_NAMES)[number], { ...input, inFlight, rate, replicationFactor }, { client, brokerPlacement: placement, startCluster: startBenchCluster, tls })
    return slowdown > 1 ? withInjectedSlowdown(scenario, slowdown) : scenario
  }))))
  // A swept value the scenario does not use (--in-flight outside embedded produce) would repeat a row.
  const seen = new Set<string>()
  for (const { name } of scenarios) {
    if (seen.has(name)) throw new BenchUsageError(`"${name}" would run twice: a swept --in-flight or --rate does not apply to it`)
    seen.add(name)
  }
  const runs: ScenarioRunWithReference[] = []
  for (const scenario of scenarios) {
    runs.push(await runScenario(scenario, { repetitions, warmups, withReference: options.withReference ?? false, progress: options.progress, progressStream: io.stderr, settle: settlePageCache }))
  }
  return buildReport(runs, { argv: io.argv })
}

/** The client's TLS options for --tls / --tls-ca-file (undefined: plaintext). */
function benchTls(options: BenchCommandOptions): TlsConnectionOptions | undefined {
  if (!options.tls && options.tlsCaFile === undefined) return undefined
  if (options.tlsCaFile === undefined) return {}
  try {
    return { ca: readFileSync(options.tlsCaFile) }
  } catch (error) {
    throw new BenchUsageError(`--tls-ca-file: cannot read ${options.tlsCaFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
}

/** Adds `bench` to the ringlog program. */
export function register(program: Command): void {
  program
    .command('bench')
    .description(`run benchmark scenarios (${SCENARIO_NAMES.join(', ')}; default produce) and report medians, CPU and latency`)
    .argument('[scenario...]', 'scenarios to run, in order')
    .option('--records <n>', 'records per repetition (k/M suffixes; default 1M unless --duration)')
    .option('--duration <time>', 'length of each repetition (e.g. 5s); with --records, whichever ends first')
    .option('--reps <n>', 'measured repetitions', '5')
    .option('--warmups <n>', 'discarded repetitions first', '1')
    .option('--record-size <bytes>', 'value bytes per record', '100')
    .option('--partitions <n>', 'partitions of the topic', '1')
    .option('--acks <acks>', 'all|-1, 1 or 0', 'all')
    .option('--compression <codec>', 'none|lz4|gzip', 'none')
    .option('--flush <policy>', 'broker flush policy: always|never|<ms>', 'never')
    .option('--batch-bytes <bytes>', 'producer batch size', '16384')
    .option('--linger <ms>', 'producer linger (paced and embedded runs)', '5')
    .option('--in-flight <n>', 'embedded produce: sends in flight at once (fills the group commit); a list (1,4,16,64) sweeps', '64')
    .option('--mode <mode>', 'embedded|tcp (tcp when --brokers is given)')
    .option('--brokers <host:port>', 'an existing broker for tcp mode (default: start one as a child process)')
    .option('--rate <records/s>', 'fixed offered load (e2e-latency default 100000; produce: paced when given); a list (50k,100k,200k) sweeps')
    .option('--client <client>', 'tcp client: loadgen|kcat', 'loadgen')
    .option('--tls', 'tcp over TLS: the started broker gets only an SSL listener (a throwaway openssl certificate); with --brokers, that broker\'s SSL listener')
    .option('--tls-ca-file <pem>', 'with --brokers --tls: the CA of the broker\'s certificate (default: the system CAs)')
    .option('--cluster <n>', 'tcp: start a private cluster (etcd + n brokers, cluster/dev-cluster.ts) per scenario instead of one broker')
    .option('--replication-factor <n>', 'replication factor of the bench topic (needs --cluster >= n); a list (1,3) sweeps', '1')
    .option('--json <file>', 'write the JSON report')
    .option('--plot <file.svg>', 'write an SVG plot')
    .option('--baseline <file.json>', 'compare with this report; exit 1 on a flagged regression')
    .option('--current <file.json>', 'with --baseline: compare this saved report instead of running')
    .option('--threshold <pct>', 'slowdown that counts as a regression', '5%')
    .option('--alpha <p>', 'significance level of the comparison', '0.05')
    .option('--metric <metric>', 'recordsPerSec|pairRatio (pairRatio needs --with-reference in both runs)', 'recordsPerSec')
    .option('--with-reference', 'alternate with the naive file-append reference and report ratios')
    .option('--progress', 'force the live progress line (default: when stderr is a terminal)')
    .addOption(new Option('--inject-slowdown <factor>', 'test only: stretch every repetition by this factor').hideHelp())
    .option('--broker-placement <where>', 'tcp without --brokers: child (a `ringlog serve` process), in-process, or sink (a discarding Kafka sink: measures the load generator alone)')
    .action(async (scenarios: string[], options: BenchCommandOptions) => {
      const code = await runBenchCommand(scenarios, options, { stdout: process.stdout, stderr: process.stderr, argv: process.argv.slice() })
      process.exitCode = code
    })
}

/** The same as `register`, under the name the bench harness documents. */
export const registerBenchCommand = register
