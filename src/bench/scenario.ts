/**
 * What a benchmark scenario is, and the parameters every scenario understands.
 * A scenario (produce, consume, end-to-end, the file-append baseline ...) implements
 * `Scenario`; the runner owns timing, CPU, progress and repetitions, so a scenario only
 * does the work and reports what it did through its context.
 */
import type { RecordableHistogram } from 'node:perf_hooks'

export type Acks = -1 | 0 | 1
export type Compression = 'none' | 'gzip' | 'lz4'
/** 'always' = fdatasync before acking, a number = at most this many ms between syncs, 'never' = page cache only. */
export type FlushPolicy = 'always' | 'never' | number
export type BenchMode = 'embedded' | 'tcp'

export interface BenchParams {
  recordSize: number
  partitions: number
  acks: Acks
  compression: Compression
  flush: FlushPolicy
  batchSize: number
  lingerMs: number
  /** Embedded produce: sends kept in flight at once (a durable pipeline needs enough to fill a group commit). */
  inFlight: number
  mode: BenchMode
  /** host:port list for mode 'tcp' (empty: the scenario starts its own broker). */
  brokers: string[]
  /** Offered load in records/s for fixed-rate latency runs; null = as fast as possible. */
  rate: number | null
  /** Each repetition stops after this long, or after `records`, whichever comes first. */
  durationMs: number | null
  records: number | null
  /** tcp without --brokers: start a private cluster (etcd + this many brokers) instead of one plain broker; 0 = no cluster. */
  cluster: number
  /** Replication factor of the topic the bench creates. */
  replicationFactor: number
}

export const DEFAULT_BENCH_PARAMS: Readonly<BenchParams> = Object.freeze({
  recordSize: 100,
  partitions: 1,
  acks: -1,
  compression: 'none',
  flush: 'never',
  batchSize: 16384,
  lingerMs: 5,
  inFlight: 64,
  mode: 'embedded',
  brokers: [],
  rate: null,
  durationMs: null,
  records: 1_000_000,
  cluster: 0,
  replicationFactor: 1,
}) as Readonly<BenchParams>

/** A bad benchmark parameter (command-line usage error, not a broker error). */
export class BenchParamError extends RangeError {
  constructor(message: string) {
    super(message)
    this.name = 'BenchParamError'
  }
}

export type BenchParamInput = string | Readonly<Record<string, string | number | boolean | readonly string[] | null | undefined>>

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1000, kb: 1000, kib: 1024, m: 1e6, mb: 1e6, mib: 1 << 20, g: 1e9, gb: 1e9, gib: 1 << 30 }
const TIME_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 }

function parseScaled(key: string, raw: string, units: Record<string, number>, defaultUnit: string): number {
  const match = /^\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-z]*)\s*$/i.exec(raw)
  const unit = match ? (match[2] === '' ? defaultUnit : match[2].toLowerCase()) : ''
  if (!match || !(unit in units)) throw new BenchParamError(`${key}: cannot parse "${raw}"`)
  return Number(match[1]) * units[unit]
}

function positiveInteger(key: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0 || Math.round(value) !== value) throw new BenchParamError(`${key} must be a positive integer, got ${value}`)
  return value
}

function nonNegative(key: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new BenchParamError(`${key} must be >= 0, got ${value}`)
  return value
}

function oneOf<T extends string>(key: string, raw: string, allowed: readonly T[]): T {
  const value = raw.toLowerCase() as T
  if (!allowed.includes(value)) throw new BenchParamError(`${key} must be one of ${allowed.join(', ')}, got "${raw}"`)
  return value
}

/** Accepts kebab-case, snake_case or camelCase keys and a few familiar aliases. */
function canonicalKey(key: string): keyof BenchParams {
  const camel = key.trim().replace(/[-_]([a-z])/g, (_, c: string) => c.toUpperCase())
  const aliases: Record<string, keyof BenchParams> = {
    size: 'recordSize', linger: 'lingerMs', duration: 'durationMs', count: 'records', recordCount: 'records',
    numRecords: 'records', batch: 'batchSize', broker: 'brokers', bootstrapServers: 'brokers', compressionType: 'compression',
  }
  const canonical = aliases[camel] ?? camel
  if (!(canonical in DEFAULT_BENCH_PARAMS)) throw new BenchParamError(`unknown benchmark parameter "${key}"`)
  return canonical as keyof BenchParams
}

function assign(params: BenchParams, key: keyof BenchParams, raw: string): void {
  switch (key) {
    case 'recordSize': params.recordSize = positiveInteger(key, parseScaled(key, raw, SIZE_UNITS, '')); break
    case 'batchSize': params.batchSize = positiveInteger(key, parseScaled(key, raw, SIZE_UNITS, '')); break
    case 'partitions': params.partitions = positiveInteger(key, Number(raw)); break
    case 'acks': {
      const acks = raw.toLowerCase() === 'all' ? -1 : Number(raw)
      if (acks !== -1 && acks !== 0 && acks !== 1) throw new BenchParamError(`acks must be all, -1, 0 or 1, got "${raw}"`)
      params.acks = acks
      break
    }
    case 'compression': params.compression = oneOf(key, raw, ['none', 'gzip', 'lz4'] as const); break
    case 'flush': {
      const lower = raw.toLowerCase()
      params.flush = lower === 'always' || lower === 'never' ? lower : nonNegative(key, parseScaled(key, raw, TIME_UNITS, 'ms'))
      break
    }
    case 'lingerMs': params.lingerMs = nonNegative(key, parseScaled(key, raw, TIME_UNITS, 'ms')); break
    case 'inFlight': params.inFlight = positiveInteger(key, Number(raw)); break
    case 'mode': params.mode = oneOf(key, raw, ['embedded', 'tcp'] as const); break
    case 'brokers': params.brokers = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0); break
    case 'rate': params.rate = raw === '' || raw.toLowerCase() === 'max' ? null : positiveNumber(key, parseScaled(key, raw, SIZE_UNITS, '')); break
    case 'durationMs': params.durationMs = raw === '' ? null : positiveNumber(key, parseScaled(key, raw, TIME_UNITS, 'ms')); break
    case 'records': params.records = raw === '' ? null : positiveInteger(key, parseScaled(key, raw, SIZE_UNITS, '')); break
    case 'cluster': params.cluster = raw === '' ? 0 : nonNegative(key, Number(raw)) === 0 ? 0 : positiveInteger(key, Number(raw)); break
    case 'replicationFactor': params.replicationFactor = positiveInteger(key, Number(raw)); break
  }
}

function positiveNumber(key: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new BenchParamError(`${key} must be > 0, got ${value}`)
  return value
}

/**
 * Parses benchmark parameters over `base` (default DEFAULT_BENCH_PARAMS). Input is either
 * "key=value,key=value" (e.g. "record-size=1KiB,acks=all,flush=10ms,duration=5s,rate=50k,
 * brokers=h1:9092;h2:9092" — brokers separated by ';' inside this form), or an object such as
 * parsed command-line options. Sizes accept k/KiB/MiB suffixes, durations ms/s/m/h.
 * When a duration is given without a record count, the default record count is dropped.
 */
export function parseBenchParams(input: BenchParamInput, base: Readonly<BenchParams> = DEFAULT_BENCH_PARAMS): BenchParams {
  const params: BenchParams = { ...base, brokers: [...base.brokers] }
  const entries: Array<[string, string]> = []
  if (typeof input === 'string') {
    for (const part of input.split(',')) {
      if (part.trim() === '') continue
      const eq = part.indexOf('=')
      if (eq < 0) throw new BenchParamError(`expected key=value, got "${part}"`)
      entries.push([part.slice(0, eq), part.slice(eq + 1).trim().replaceAll(';', ',')])
    }
  } else {
    for (const [key, value] of Object.entries(input)) {
      if (value === undefined) continue
      entries.push([key, value === null ? '' : Array.isArray(value) ? value.join(',') : String(value)])
    }
  }
  const keys = new Set<keyof BenchParams>()
  for (const [rawKey, raw] of entries) {
    const key = canonicalKey(rawKey)
    keys.add(key)
    assign(params, key, raw)
  }
  if (keys.has('durationMs') && !keys.has('records') && params.durationMs !== null) params.records = null
  if (params.durationMs === null && params.records === null) throw new BenchParamError('give a duration or a record count')
  if (params.mode === 'tcp' && params.brokers.some((b) => !/^[^:\s]+:\d+$/.test(b))) throw new BenchParamError(`brokers must be host:port, got ${params.brokers.join(',')}`)
  return params
}

/** What a repetition hands to the scenario. */
export interface RunContext {
  readonly params: Readonly<BenchParams>
  /** Record latencies in ns (see histogram.ts `recordLatencyNs`). */
  readonly latency: RecordableHistogram
  /** Report work as it happens (per batch, not per record): feeds throughput-over-time and the progress line. */
  progress(recordsDelta: number, bytesDelta: number): void
  /** False once the record count is reached or the duration has elapsed; cheap enough to call per batch. */
  shouldContinue(recordsDone: number): boolean
  /** process.hrtime.bigint() when the measured run started. */
  readonly startNs: bigint
  /** 0-based repetition index; -1 for warm-up. */
  readonly repetition: number
}

export interface CpuSeconds {
  broker: number
  client: number
}

export interface RunOutcome {
  records: number
  bytes: number
  /** Own CPU split, e.g. from a broker process's /proc stat. Absent: the runner measures this process. */
  cpu?: CpuSeconds
}

export interface Scenario<State = unknown> {
  /** Unique within a suite: comparisons match scenarios by name and params. */
  readonly name: string
  readonly params: Readonly<BenchParams>
  /**
   * Who this process's CPU time belongs to when `run` reports no split: 'broker' when the
   * process does the log's work (embedded engine, file-append), 'client' when it only drives
   * a broker elsewhere. Default 'client'.
   */
  readonly cpuOwner?: 'broker' | 'client'
  /** Once before warm-up (create data dirs, start a broker, create topics). */
  setup?(): Promise<State> | State
  /** Before each repetition (warm-ups included), outside its timing: e.g. a fresh topic. */
  beforeRun?(state: State): Promise<void> | void
  /** One measured repetition. */
  run(context: RunContext, state: State): Promise<RunOutcome> | RunOutcome
  /** Once after the last repetition, also after a failure. */
  teardown?(state: State): Promise<void> | void
  /** The scenario to alternate with for same-run ratios (e.g. file-append with matching record size and durability). */
  reference?(): Scenario
}
