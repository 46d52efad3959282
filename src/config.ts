/**
 * The one configuration schema for ringlog (embedded `open()` and `ringlog serve` alike).
 * Precedence for the server: command-line flag > environment (RINGLOG_*) > config file (JSON) > default.
 */
import { availableParallelism } from 'node:os'
import { InvalidRequestError } from './errors.js'

/**
 * When an acknowledged append is on disk:
 * - 'always': acks wait for an fdatasync that covers them (group commit).
 * - { intervalMs }: acks come after the write to the page cache; an fdatasync runs every intervalMs.
 * - 'never': page cache only, the OS writes back when it likes (Kafka's default).
 */
export type FlushPolicy = 'always' | 'never' | { intervalMs: number }

export interface RinglogConfig {
  dataDir: string
  flush: FlushPolicy
  host: string
  port: number
  /** Node id this broker reports in Metadata. */
  nodeId: number
  clusterId: string
  /** Partitions of auto-created topics (and `ringlog serve --partitions`). */
  numPartitions: number
  autoCreateTopics: boolean
  /** Cap on partition worker threads; partitions beyond it share workers (never owners). */
  maxWorkers: number
  segmentBytes: number
  segmentMs: number
  retentionMs: number
  /** -1: no size limit. */
  retentionBytes: number
  /** Largest record batch accepted (Kafka's message.max.bytes). */
  maxMessageBytes: number
  /** Largest request frame accepted (Kafka's socket.request.max.bytes). */
  socketRequestMaxBytes: number
  groupInitialRebalanceDelayMs: number
  groupMinSessionTimeoutMs: number
  groupMaxSessionTimeoutMs: number
  offsetsRetentionMinutes: number
  // Operability (ringlog serve): metrics/health HTTP port and log verbosity.
  /** Port of the HTTP server with /metrics, /health and /ready on `host`; -1: off, 0: any free port. */
  metricsPort: number
  /** error | warn | info | debug | trace. */
  logLevel: string
}

export const DEFAULT_CONFIG: Readonly<RinglogConfig> = {
  dataDir: './ringlog-data',
  flush: 'always',
  host: '127.0.0.1',
  port: 9092,
  nodeId: 0,
  clusterId: 'ringlog-cluster',
  numPartitions: 1,
  autoCreateTopics: true,
  maxWorkers: Math.max(1, availableParallelism()),
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * 24 * 3600 * 1000,
  retentionMs: 168 * 3600 * 1000,
  retentionBytes: -1,
  maxMessageBytes: 1048588,
  socketRequestMaxBytes: 100 * 1024 * 1024,
  groupInitialRebalanceDelayMs: 3000,
  groupMinSessionTimeoutMs: 6000,
  groupMaxSessionTimeoutMs: 1_800_000,
  offsetsRetentionMinutes: 7 * 24 * 60,
  // Operability
  metricsPort: -1,
  logLevel: 'info',
}

/** Parses 'always', 'never' or a number of milliseconds. */
export function parseFlushPolicy(text: string): FlushPolicy {
  if (text === 'always' || text === 'never') return text
  const ms = Number(text)
  if (Number.isInteger(ms) && ms > 0) return { intervalMs: ms }
  throw new InvalidRequestError(`flush must be "always", "never" or a positive number of milliseconds, got "${text}"`)
}

export function describeFlushPolicy(flush: FlushPolicy): string {
  return typeof flush === 'string' ? flush : `${flush.intervalMs}ms`
}

type Kind = 'string' | 'number' | 'boolean' | 'flush'
const KINDS: Record<keyof RinglogConfig, Kind> = {
  dataDir: 'string', flush: 'flush', host: 'string', port: 'number', nodeId: 'number', clusterId: 'string',
  numPartitions: 'number', autoCreateTopics: 'boolean', maxWorkers: 'number', segmentBytes: 'number',
  segmentMs: 'number', retentionMs: 'number', retentionBytes: 'number', maxMessageBytes: 'number',
  socketRequestMaxBytes: 'number', groupInitialRebalanceDelayMs: 'number', groupMinSessionTimeoutMs: 'number',
  groupMaxSessionTimeoutMs: 'number', offsetsRetentionMinutes: 'number',
  // Operability
  metricsPort: 'number', logLevel: 'string',
}

export const CONFIG_KEYS = Object.keys(KINDS) as (keyof RinglogConfig)[]

/** RINGLOG_DATA_DIR for dataDir, RINGLOG_MAX_MESSAGE_BYTES for maxMessageBytes, ... */
export function envName(key: keyof RinglogConfig): string {
  return 'RINGLOG_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase()
}

function coerce(key: keyof RinglogConfig, value: unknown): unknown {
  const kind = KINDS[key]
  if (kind === 'flush') return typeof value === 'object' && value !== null ? value : parseFlushPolicy(String(value))
  if (kind === 'number') {
    const n = Number(value)
    if (!Number.isFinite(n)) throw new InvalidRequestError(`${key} must be a number, got "${String(value)}"`)
    return n
  }
  if (kind === 'boolean') {
    if (typeof value === 'boolean') return value
    if (value === 'true' || value === '1') return true
    if (value === 'false' || value === '0') return false
    throw new InvalidRequestError(`${key} must be true or false, got "${String(value)}"`)
  }
  return String(value)
}

/** Layers of partial settings, lowest precedence first; unknown keys are rejected. */
export function resolveConfig(...layers: (Partial<Record<string, unknown>> | undefined)[]): RinglogConfig {
  const config: Record<string, unknown> = { ...DEFAULT_CONFIG }
  for (const layer of layers) {
    if (!layer) continue
    for (const [key, value] of Object.entries(layer)) {
      if (value === undefined) continue
      if (!(key in KINDS)) throw new InvalidRequestError(`unknown setting "${key}"`)
      config[key] = coerce(key as keyof RinglogConfig, value)
    }
  }
  return config as unknown as RinglogConfig
}

/** The RINGLOG_* variables present in `env`, as a settings layer. */
export function configFromEnv(env: NodeJS.ProcessEnv): Partial<Record<string, unknown>> {
  const layer: Record<string, unknown> = {}
  for (const key of CONFIG_KEYS) {
    const value = env[envName(key)]
    if (value !== undefined) layer[key] = value
  }
  return layer
}
