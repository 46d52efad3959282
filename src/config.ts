/**
 * The one configuration schema for ringlog (embedded `open()` and `ringlog serve` alike).
 * Precedence for the server: command-line flag > environment (RINGLOG_*) > config file (JSON) > default.
 */
import { availableParallelism } from 'node:os'
import { InvalidConfigError, InvalidRequestError } from './errors.js'
import { advertisedHostOf, resolveListeners, usesTls } from './security/listeners.js'
import { isSaslMechanism } from './security/sasl-authenticator.js'

/**
 * When an acknowledged append is on disk:
 * - 'always': acks wait for an fdatasync that covers them (group commit).
 * - { intervalMs }: acks come after the write to the page cache; an fdatasync runs every intervalMs.
 * - 'never': page cache only, the OS writes back when it likes (Kafka's default).
 */
export type FlushPolicy = 'always' | 'never' | { intervalMs: number }

/** Most partitions one topic may have (CreateTopics, auto-created topics, --partitions). */
export const MAX_PARTITIONS = 10_000
/** Segment positions are u32 in the offset index; Kafka caps segment.bytes at Int.MaxValue too. */
export const MAX_SEGMENT_BYTES = 0x7fffffff
/** The smallest segment.bytes accepted (one batch header and a record must fit). */
export const MIN_SEGMENT_BYTES = 128

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
  /** Partitions of `__consumer_offsets` when it is created (offsets.topic.num.partitions). */
  offsetsTopicNumPartitions: number
  /** Its replication factor; 0: min(3, live brokers) (offsets.topic.replication.factor). */
  offsetsTopicReplicationFactor: number
  /** Longest transaction.timeout.ms a transactional producer may ask for (transaction.max.timeout.ms). */
  transactionMaxTimeoutMs: number
  /** How often open transactions are checked for their timeout (transaction.abort.timed.out.transaction.cleanup.interval.ms). */
  transactionAbortCheckIntervalMs: number
  /** Partitions of `__transaction_state` when it is created (transaction.state.log.num.partitions). */
  transactionStateLogNumPartitions: number
  /** Its replication factor; 0: min(3, live brokers) (transaction.state.log.replication.factor). */
  transactionStateLogReplicationFactor: number
  // Operability (ringlog serve): metrics/health HTTP port and log verbosity.
  /** Port of the HTTP server with /metrics, /health and /ready on `host`; -1: off, 0: any free port. */
  metricsPort: number
  /** error | warn | info | debug | trace. */
  logLevel: string
  // Connection limits (hostile or broken clients; see src/broker/connection-limits.ts).
  /** Open client connections the broker accepts in all (max.connections); more are closed at accept. */
  maxConnections: number
  /** Open client connections from one address (max.connections.per.ip). */
  maxConnectionsPerIp: number
  /** A connection with no complete request and no response written for this long is closed (connections.max.idle.ms). */
  connectionsMaxIdleMs: number
  /** Bytes one connection may have in flight (requests held plus responses not yet written) before reading from it pauses. */
  connectionMaxInflightBytes: number
  /** A connection paused because its responses are not being read is closed after this long without draining. */
  connectionMaxStalledMs: number
  /** Bytes of partial (incomplete) request frames across all connections (queued.max.request.bytes). */
  queuedMaxRequestBytes: number
  /** Fetch sessions (KIP-227) the broker keeps at once; 0: none (max.incremental.fetch.session.cache.slots). */
  maxIncrementalFetchSessionCacheSlots: number
  // Background scrubber (storage/scrub.ts): re-checks the CRCs of closed segments.
  /** Time between the starts of two scrub passes (the first runs at start-up); 0: no scrubbing. */
  scrubIntervalMs: number
  /** Bytes the scrubber reads per second, across the node, in MB (10^6 bytes). */
  scrubRateMb: number
  // Cluster mode (issue 13): on when `etcd` is set; without it the broker runs single-node.
  /** etcd endpoints, `host:port[,host:port]`; '' = single-node. */
  etcd: string
  /** Cluster name: the etcd key prefix `/ringlog/<clusterName>/`. */
  clusterName: string
  /** Host other brokers and clients reach this broker at; '' = `host`. */
  advertisedHost: string
  /** A follower not caught up for this long leaves the ISR (replica.lag.time.max.ms). */
  replicaLagTimeMaxMs: number
  /** Bytes a follower asks per partition in one replica Fetch (replica.fetch.max.bytes; at least one batch is always returned). */
  replicaFetchMaxBytes: number
  /** Bytes a follower asks in all in one replica Fetch (replica.fetch.response.max.bytes). */
  replicaFetchResponseMaxBytes: number
  /** TTL of the broker's etcd lease: how long a dead broker keeps its leaderships. */
  leaseTtlSeconds: number
  /** Broker default of min.insync.replicas (a topic config overrides it). */
  minInsyncReplicas: number
  // Security (ringlog serve): listeners, TLS, SASL.
  /** `PROTOCOL://host:port` specs (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL); empty: one PLAINTEXT listener on host:port. */
  listeners: string[]
  /** `PROTOCOL://host:port` per listener protocol: the address Metadata names on that listener. */
  advertisedListeners: string[]
  /** Mechanisms SASL listeners accept: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512. */
  saslMechanisms: string[]
  /** PEM certificate chain and private key of SSL/SASL_SSL listeners ('' when there are none). */
  tlsCertFile: string
  tlsKeyFile: string
  /** PEM CA bundle: when set, TLS clients must present a certificate it signed (mTLS, principal User:<CN>). */
  tlsCaFile: string
  // Authorization (ACLs; see src/security/authorizer.ts).
  /** 'on': every request over the wire is checked against the ACLs in meta/acls.json; 'off' (default): no checks. */
  authorizer: string
  /** Principals (`User:admin`) that bypass the ACLs (super.users). */
  superUsers: string[]
  /** With the authorizer on: allow requests on resources that have no ACL at all (allow.everyone.if.no.acl.found). */
  allowEveryoneIfNoAclFound: boolean
  /** KIP-368: a SASL session lasts at most this long, then the client must re-authenticate (connections.max.reauth.ms); 0: forever. */
  connectionsMaxReauthMs: number
  // Inter-broker traffic (cluster mode): replica fetches, WriteTxnMarkers, scrub repairs.
  /** The listener (by its protocol name) other brokers reach this one on, and registered in etcd (inter.broker.listener.name); '': the first listener. */
  interBrokerListener: string
  /** `user:password` this broker logs in with on the other brokers' SASL inter-broker listener; '': no SASL. */
  interBrokerSasl: string
  /** PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (sasl.mechanism.inter.broker.protocol). */
  interBrokerSaslMechanism: string
  // Operability (appended)
  /** A group-commit fdatasync that takes at least this long is logged at warn ('slow fdatasync'); -1: never, 0: every one. */
  slowFdatasyncMs: number
}

/**
 * The flush policy of a storage log opened on its own (PartitionLog.open without `flush`:
 * tools and storage tests): page cache only, Kafka's own log default. A node never relies on
 * it: the engine passes the node's `flush` (default 'always', below) to every partition.
 */
export const STANDALONE_LOG_FLUSH: FlushPolicy = 'never'

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
  offsetsTopicNumPartitions: 50,
  offsetsTopicReplicationFactor: 0,
  transactionMaxTimeoutMs: 900_000,
  transactionAbortCheckIntervalMs: 10_000,
  transactionStateLogNumPartitions: 50,
  transactionStateLogReplicationFactor: 0,
  // Operability
  metricsPort: -1,
  logLevel: 'info',
  // Connection limits: generous enough for any real deployment (Kafka has no default cap; a client
  // pool rarely opens more than a few dozen per host), low enough that one host cannot take every
  // file descriptor of a default 65536 open-files limit.
  maxConnections: 10_000,
  maxConnectionsPerIp: 1_000,
  connectionsMaxIdleMs: 10 * 60 * 1000,
  connectionMaxInflightBytes: 64 * 1024 * 1024,
  connectionMaxStalledMs: 60_000,
  // Two maximal frames (socket.request.max.bytes) at once, plus slack: 8 partial 99 MiB frames no longer take 900 MB.
  queuedMaxRequestBytes: 256 * 1024 * 1024,
  maxIncrementalFetchSessionCacheSlots: 1000,
  // Scrubber: a pass a day at 20 MB/s (a 1 TB node is read once in about 14 hours).
  scrubIntervalMs: 24 * 3600 * 1000,
  scrubRateMb: 20,
  // Cluster mode
  etcd: '',
  clusterName: 'ringlog',
  advertisedHost: '',
  replicaLagTimeMaxMs: 30_000,
  replicaFetchMaxBytes: 1024 * 1024,
  replicaFetchResponseMaxBytes: 10 * 1024 * 1024,
  leaseTtlSeconds: 10,
  minInsyncReplicas: 1,
  // Security
  listeners: [],
  advertisedListeners: [],
  saslMechanisms: ['SCRAM-SHA-512', 'SCRAM-SHA-256', 'PLAIN'],
  tlsCertFile: '',
  tlsKeyFile: '',
  tlsCaFile: '',
  // Authorization
  authorizer: 'off',
  superUsers: [],
  allowEveryoneIfNoAclFound: false,
  interBrokerListener: '',
  interBrokerSasl: '',
  interBrokerSaslMechanism: 'SCRAM-SHA-512',
  connectionsMaxReauthMs: 0,
  // Operability (appended): a disk that needs a second for an fdatasync is worth a line.
  slowFdatasyncMs: 1000,
}

/** Parses 'always', 'never' or a number of milliseconds. */
export function parseFlushPolicy(text: string): FlushPolicy {
  if (text === 'always' || text === 'never') return text
  const ms = Number(text)
  if (Number.isInteger(ms) && ms > 0) return { intervalMs: ms }
  throw new InvalidConfigError(`flush must be "always", "never" or a positive number of milliseconds, got "${text}"`)
}

export function describeFlushPolicy(flush: FlushPolicy): string {
  return typeof flush === 'string' ? flush : `${flush.intervalMs}ms`
}

type Kind = 'string' | 'number' | 'boolean' | 'flush' | 'list' | 'path'
const KINDS: Record<keyof RinglogConfig, Kind> = {
  dataDir: 'string', flush: 'flush', host: 'string', port: 'number', nodeId: 'number', clusterId: 'string',
  numPartitions: 'number', autoCreateTopics: 'boolean', maxWorkers: 'number', segmentBytes: 'number',
  segmentMs: 'number', retentionMs: 'number', retentionBytes: 'number', maxMessageBytes: 'number',
  socketRequestMaxBytes: 'number', groupInitialRebalanceDelayMs: 'number', groupMinSessionTimeoutMs: 'number',
  groupMaxSessionTimeoutMs: 'number', offsetsRetentionMinutes: 'number',
  offsetsTopicNumPartitions: 'number', offsetsTopicReplicationFactor: 'number',
  transactionMaxTimeoutMs: 'number', transactionAbortCheckIntervalMs: 'number',
  transactionStateLogNumPartitions: 'number', transactionStateLogReplicationFactor: 'number',
  // Operability
  metricsPort: 'number', logLevel: 'string',
  // Connection limits
  maxConnections: 'number', maxConnectionsPerIp: 'number', connectionsMaxIdleMs: 'number',
  connectionMaxInflightBytes: 'number', connectionMaxStalledMs: 'number', queuedMaxRequestBytes: 'number',
  maxIncrementalFetchSessionCacheSlots: 'number',
  // Scrubber
  scrubIntervalMs: 'number', scrubRateMb: 'number',
  // Cluster mode
  etcd: 'string', clusterName: 'string', advertisedHost: 'string', replicaLagTimeMaxMs: 'number',
  replicaFetchMaxBytes: 'number', replicaFetchResponseMaxBytes: 'number',
  leaseTtlSeconds: 'number', minInsyncReplicas: 'number',
  // Security
  listeners: 'list', advertisedListeners: 'list', saslMechanisms: 'list', tlsCertFile: 'path', tlsKeyFile: 'path', tlsCaFile: 'path',
  // Authorization
  authorizer: 'string', superUsers: 'list', allowEveryoneIfNoAclFound: 'boolean', connectionsMaxReauthMs: 'number',
  // Inter-broker traffic
  interBrokerListener: 'string', interBrokerSasl: 'string', interBrokerSaslMechanism: 'string',
  // Operability (appended)
  slowFdatasyncMs: 'number',
}

/** Settings that take several values: a JSON array, a comma-separated string, or a repeated flag. */
export function isListSetting(key: keyof RinglogConfig): boolean {
  return KINDS[key] === 'list'
}

export const CONFIG_KEYS = Object.keys(KINDS) as (keyof RinglogConfig)[]

/** RINGLOG_DATA_DIR for dataDir, RINGLOG_MAX_MESSAGE_BYTES for maxMessageBytes, ... */
export function envName(key: keyof RinglogConfig): string {
  return 'RINGLOG_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase()
}

/** The accepted range of each numeric setting (inclusive). */
const RANGES: Partial<Record<keyof RinglogConfig, readonly [min: number, max: number]>> = {
  port: [0, 65535],
  nodeId: [0, 0x7fffffff],
  numPartitions: [1, MAX_PARTITIONS],
  maxWorkers: [1, 1024],
  segmentBytes: [MIN_SEGMENT_BYTES, MAX_SEGMENT_BYTES],
  segmentMs: [1, Number.MAX_SAFE_INTEGER],
  retentionMs: [-1, Number.MAX_SAFE_INTEGER],
  retentionBytes: [-1, Number.MAX_SAFE_INTEGER],
  maxMessageBytes: [0, MAX_SEGMENT_BYTES],
  socketRequestMaxBytes: [1, 0x7fffffff],
  groupInitialRebalanceDelayMs: [0, 0x7fffffff],
  groupMinSessionTimeoutMs: [0, 0x7fffffff],
  groupMaxSessionTimeoutMs: [0, 0x7fffffff],
  offsetsRetentionMinutes: [1, 0x7fffffff],
  offsetsTopicNumPartitions: [1, 1000],
  offsetsTopicReplicationFactor: [0, 1000],
  transactionMaxTimeoutMs: [1, 0x7fffffff],
  transactionAbortCheckIntervalMs: [1, 0x7fffffff],
  transactionStateLogNumPartitions: [1, 1000],
  transactionStateLogReplicationFactor: [0, 1000],
  // Connection limits
  maxConnections: [1, 10_000_000],
  maxConnectionsPerIp: [1, 10_000_000],
  connectionsMaxIdleMs: [1, 0x7fffffff],
  connectionMaxInflightBytes: [1024, Number.MAX_SAFE_INTEGER],
  connectionMaxStalledMs: [1, 0x7fffffff],
  queuedMaxRequestBytes: [1024, Number.MAX_SAFE_INTEGER],
  maxIncrementalFetchSessionCacheSlots: [0, 1_000_000],
  // Scrubber: at most a year between passes; 1-10,000 MB/s.
  scrubIntervalMs: [0, 365 * 24 * 3600 * 1000],
  scrubRateMb: [1, 10_000],
  // Cluster mode
  replicaLagTimeMaxMs: [1, 0x7fffffff],
  replicaFetchMaxBytes: [1024, 0x7fffffff],
  replicaFetchResponseMaxBytes: [1024, 0x7fffffff],
  leaseTtlSeconds: [1, 3600],
  minInsyncReplicas: [1, 1000],
  connectionsMaxReauthMs: [0, 0x7fffffff],
  slowFdatasyncMs: [-1, 0x7fffffff],
}

/** String settings whose empty value means "off" or "same as another setting" (cluster mode). */
const EMPTY_ALLOWED = new Set<keyof RinglogConfig>(['etcd', 'advertisedHost', 'interBrokerListener', 'interBrokerSasl'])

/**
 * One layer of settings and how to name a key of it in an error: the flag, the environment
 * variable or the config-file key the user has to fix.
 */
export interface ConfigLayer {
  values: Partial<Record<string, unknown>> | undefined
  name(key: string): string
}

/** Plain layers (embedded `open()`, tests): a setting is named by its key. */
const byKey = (key: string): string => key

function coerce(key: keyof RinglogConfig, value: unknown, name: string): unknown {
  const kind = KINDS[key]
  if (kind === 'flush') {
    if (typeof value === 'object' && value !== null) {
      const ms = (value as { intervalMs?: unknown }).intervalMs
      if (typeof ms === 'number' && Number.isInteger(ms) && ms > 0) return { intervalMs: ms }
      throw new InvalidConfigError(`${name} must be "always", "never" or { intervalMs } with a positive integer, got ${JSON.stringify(value)}`)
    }
    try {
      return parseFlushPolicy(String(value))
    } catch {
      throw new InvalidConfigError(`${name} must be "always", "never" or a positive number of milliseconds, got "${String(value)}"`)
    }
  }
  if (kind === 'number') {
    const n = typeof value === 'string' && value.trim() === '' ? Number.NaN : Number(value)
    if (typeof value === 'boolean' || !Number.isFinite(n)) throw new InvalidConfigError(`${name} must be a number, got "${String(value)}"`)
    const range = RANGES[key]
    if (range && (!Number.isSafeInteger(n) || n < range[0] || n > range[1])) {
      throw new InvalidConfigError(`${name} must be an integer from ${range[0]} to ${range[1]}, got ${String(value)}`)
    }
    return n
  }
  if (kind === 'list') {
    const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : undefined
    if (!items || items.some((item) => typeof item !== 'string')) throw new InvalidConfigError(`${name} must be a list of strings, got ${JSON.stringify(value)}`)
    return (items as string[]).map((item) => item.trim()).filter((item) => item !== '')
  }
  if (kind === 'path') {
    if (typeof value !== 'string') throw new InvalidConfigError(`${name} must be a file path, got ${JSON.stringify(value)}`)
    return value
  }
  if (kind === 'boolean') {
    if (typeof value === 'boolean') return value
    if (value === 'true' || value === '1') return true
    if (value === 'false' || value === '0') return false
    throw new InvalidConfigError(`${name} must be true or false, got "${String(value)}"`)
  }
  if (typeof value === 'string' && value === '' && EMPTY_ALLOWED.has(key)) return value
  if (typeof value !== 'string' || value === '') throw new InvalidConfigError(`${name} must be a non-empty string, got ${JSON.stringify(value)}`)
  return value
}

/**
 * Layers of partial settings, lowest precedence first, each coerced and range-checked
 * before anything acts on them (no data dir is created for an invalid config). Errors are
 * InvalidConfigError naming the flag, variable or key that holds the bad value.
 */
export function resolveConfigLayers(layers: readonly ConfigLayer[]): RinglogConfig {
  const config: Record<string, unknown> = { ...DEFAULT_CONFIG }
  const names = new Map<string, string>()
  for (const layer of layers) {
    if (!layer.values) continue
    for (const [key, value] of Object.entries(layer.values)) {
      if (value === undefined) continue
      // An unknown key is a malformed call (InvalidRequestError, as before); a bad value of a known one is InvalidConfigError.
      if (!(key in KINDS)) throw new InvalidRequestError(`unknown setting ${layer.name(key)}`)
      config[key] = coerce(key as keyof RinglogConfig, value, layer.name(key))
      names.set(key, layer.name(key))
    }
  }
  if ((config.groupMinSessionTimeoutMs as number) > (config.groupMaxSessionTimeoutMs as number)) {
    const min = names.get('groupMinSessionTimeoutMs') ?? 'groupMinSessionTimeoutMs'
    const max = names.get('groupMaxSessionTimeoutMs') ?? 'groupMaxSessionTimeoutMs'
    throw new InvalidConfigError(`${min} (${String(config.groupMinSessionTimeoutMs)}) must not exceed ${max} (${String(config.groupMaxSessionTimeoutMs)})`)
  }
  if ((config.maxConnectionsPerIp as number) > (config.maxConnections as number)) {
    const perIp = names.get('maxConnectionsPerIp') ?? 'maxConnectionsPerIp'
    const all = names.get('maxConnections') ?? 'maxConnections'
    throw new InvalidConfigError(`${perIp} (${String(config.maxConnectionsPerIp)}) must not exceed ${all} (${String(config.maxConnections)})`)
  }
  checkSecurity(config as unknown as RinglogConfig, (key) => names.get(key) ?? key)
  return config as unknown as RinglogConfig
}

/** Listener specs parse, SASL mechanisms are known, TLS listeners have a certificate and key. */
function checkSecurity(config: RinglogConfig, name: (key: keyof RinglogConfig) => string): void {
  const listeners = resolveListeners(config, { listeners: name('listeners'), advertisedListeners: name('advertisedListeners') })
  for (const mechanism of config.saslMechanisms) {
    if (!isSaslMechanism(mechanism)) throw new InvalidConfigError(`${name('saslMechanisms')}: ${mechanism} is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`)
  }
  const tls = listeners.find((l) => usesTls(l.protocol))
  if (tls && (config.tlsCertFile === '' || config.tlsKeyFile === '')) {
    throw new InvalidConfigError(`the ${tls.protocol} listener needs ${name('tlsCertFile')} and ${name('tlsKeyFile')}`)
  }
  if (listeners.some((l) => l.protocol.startsWith('SASL_')) && config.saslMechanisms.length === 0) {
    throw new InvalidConfigError(`${name('saslMechanisms')} must name at least one mechanism for a SASL listener`)
  }
  if (config.authorizer !== 'on' && config.authorizer !== 'off') throw new InvalidConfigError(`${name('authorizer')} must be on or off, got "${config.authorizer}"`)
  for (const principal of config.superUsers) {
    if (!/^[^:]+:.+$/.test(principal)) throw new InvalidConfigError(`${name('superUsers')}: "${principal}" is not a principal like User:admin`)
  }
  checkInterBroker(config, listeners, name)
  // In a cluster every listener's address goes into etcd for the other brokers' clients: a wildcard cannot be reached.
  const unreachable = config.etcd !== '' ? listeners.find((l) => advertisedHostOf(l, config) === undefined) : undefined
  if (unreachable) {
    throw new InvalidConfigError(`the ${unreachable.protocol} listener binds ${unreachable.host || '0.0.0.0'}, which other brokers and clients cannot reach: give ${name('advertisedListeners')} ${unreachable.protocol}://host:port or ${name('advertisedHost')}`)
  }
}

/** The inter-broker listener exists; a SASL one comes with this broker's login (it could not replicate without it). */
function checkInterBroker(config: RinglogConfig, listeners: readonly { protocol: string }[], name: (key: keyof RinglogConfig) => string): void {
  if (config.interBrokerListener !== '' && !listeners.some((l) => l.protocol === config.interBrokerListener)) {
    throw new InvalidConfigError(`${name('interBrokerListener')}: no ${config.interBrokerListener} listener (listeners: ${listeners.map((l) => l.protocol).join(', ')})`)
  }
  if (!isSaslMechanism(config.interBrokerSaslMechanism)) {
    throw new InvalidConfigError(`${name('interBrokerSaslMechanism')}: ${config.interBrokerSaslMechanism} is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`)
  }
  if (config.interBrokerSasl !== '' && config.interBrokerSasl.indexOf(':') <= 0) {
    throw new InvalidConfigError(`${name('interBrokerSasl')} must be user:password`)
  }
  const protocol = config.interBrokerListener !== '' ? config.interBrokerListener : listeners[0]?.protocol
  if (config.etcd !== '' && protocol?.startsWith('SASL_') && config.interBrokerSasl === '') {
    throw new InvalidConfigError(`the inter-broker listener ${protocol} needs this broker's login: ${name('interBrokerSasl')} user:password (a user the brokers share, named in superUsers or granted CLUSTER_ACTION)`)
  }
}

/** Layers of partial settings, lowest precedence first; unknown keys and out-of-range values are rejected. */
export function resolveConfig(...layers: (Partial<Record<string, unknown>> | undefined)[]): RinglogConfig {
  return resolveConfigLayers(layers.map((values) => ({ values, name: byKey })))
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
