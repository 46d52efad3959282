/**
 * `ringlog serve`: runs the Kafka wire-protocol broker until SIGTERM/SIGINT.
 * Every setting comes from a flag, a RINGLOG_* environment variable, a JSON config file
 * (--config or RINGLOG_CONFIG) or its default, in that order of precedence.
 */
import { existsSync, readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { CONFIG_KEYS, configFromEnv, describeFlushPolicy, envName, isListSetting, resolveConfigLayers, DEFAULT_CONFIG, type RinglogConfig } from '../config.js'
import { BrokerServer } from '../broker/server.js'
import { createLogger, isLogLevel, LOG_LEVELS, type BrokerLogger } from '../broker/logger.js'
import { InvalidConfigError } from '../errors.js'
import { MetricsServer } from '../metrics/metrics-server.js'
import { errorMessage } from './error-line.js'
import { SECURITY_PROTOCOLS } from '../security/listeners.js'
import { AclStore } from '../security/acl-store.js'
import { CredentialStore } from '../security/credential-store.js'
import type { SharedSecurityStore } from '../security/shared-security-store.js'

const DESCRIPTIONS: Record<keyof RinglogConfig, string> = {
  dataDir: 'directory for logs and metadata',
  flush: 'when an ack means durable: always | never | <ms> (see below)',
  host: 'address to listen on (0.0.0.0: all; Metadata then advertises the address each client used)',
  port: 'TCP port (0: any free port)',
  nodeId: 'broker id reported in Metadata',
  clusterId: 'cluster id reported in Metadata',
  numPartitions: 'partitions of auto-created topics and CreateTopics with -1',
  autoCreateTopics: 'create unknown topics on first Metadata request (true|false)',
  maxWorkers: 'cap on partition worker threads (partitions beyond it share threads)',
  segmentBytes: 'segment file size before rolling (segment.bytes)',
  segmentMs: 'segment age before rolling (segment.ms)',
  retentionMs: 'delete closed segments older than this (retention.ms)',
  retentionBytes: 'delete closed segments beyond this size per partition, -1 = off (retention.bytes)',
  maxMessageBytes: 'largest record batch accepted (message.max.bytes)',
  socketRequestMaxBytes: 'largest request frame accepted (socket.request.max.bytes)',
  groupInitialRebalanceDelayMs: 'group.initial.rebalance.delay.ms',
  groupMinSessionTimeoutMs: 'group.min.session.timeout.ms',
  groupMaxSessionTimeoutMs: 'group.max.session.timeout.ms',
  offsetsRetentionMinutes: 'offsets.retention.minutes',
  offsetsTopicNumPartitions: 'partitions of __consumer_offsets when it is created (offsets.topic.num.partitions)',
  offsetsTopicReplicationFactor: 'replication factor of __consumer_offsets; 0 = min(3, live brokers) (offsets.topic.replication.factor)',
  transactionMaxTimeoutMs: 'longest transaction timeout a producer may ask for (transaction.max.timeout.ms)',
  transactionAbortCheckIntervalMs: 'how often timed-out transactions are aborted (transaction.abort.timed.out.transaction.cleanup.interval.ms)',
  transactionStateLogNumPartitions: 'partitions of __transaction_state when it is created (transaction.state.log.num.partitions)',
  transactionStateLogReplicationFactor: 'replication factor of __transaction_state; 0 = min(3, live brokers) (transaction.state.log.replication.factor)',
  metricsPort: 'HTTP port for /metrics (Prometheus), /health and /ready on --host; -1 = off, 0 = any free port',
  logLevel: 'error | warn | info | debug | trace (JSON lines on stderr; readable lines when stderr is a terminal)',
  // Connection limits
  maxConnections: 'client connections accepted in all; more are closed at accept (max.connections)',
  maxConnectionsPerIp: 'client connections accepted from one address (max.connections.per.ip)',
  connectionsMaxIdleMs: 'close a connection with no complete request and no response written for this long (connections.max.idle.ms)',
  connectionMaxInflightBytes: 'bytes one connection may have in flight (requests held + responses unwritten) before reading from it pauses',
  connectionMaxStalledMs: 'close a connection whose unread responses keep it paused this long',
  queuedMaxRequestBytes: 'bytes of partial request frames buffered across all connections (queued.max.request.bytes)',
  maxIncrementalFetchSessionCacheSlots: 'fetch sessions (KIP-227 incremental fetch) kept at once; 0 = none (max.incremental.fetch.session.cache.slots)',
  scrubIntervalMs: 'start a background CRC re-check of closed segments this often (first at start-up); 0 = off',
  scrubRateMb: 'the scrubber reads at most this many MB (10^6 bytes) a second, across all partitions',
  // Cluster mode
  etcd: 'cluster mode: etcd endpoints host:port[,host:port] (empty: single-node)',
  clusterName: 'cluster mode: cluster name (etcd key prefix /ringlog/<name>/)',
  advertisedHost: 'cluster mode: host other brokers and clients reach this broker at (empty: --host)',
  replicaLagTimeMaxMs: 'cluster mode: a follower not caught up this long leaves the ISR (replica.lag.time.max.ms)',
  replicaFetchMaxBytes: 'cluster mode: bytes a follower fetches per partition per request (replica.fetch.max.bytes)',
  replicaFetchResponseMaxBytes: 'cluster mode: bytes a follower fetches per request in all (replica.fetch.response.max.bytes)',
  leaseTtlSeconds: 'cluster mode: etcd lease TTL of the broker registration',
  minInsyncReplicas: 'cluster mode: broker default of min.insync.replicas',
  // Security
  listeners: 'PROTOCOL://host:port, repeatable (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL); none: PLAINTEXT on --host/--port',
  advertisedListeners: 'PROTOCOL://host:port Metadata names on the listener of that protocol, repeatable',
  saslMechanisms: 'comma-separated: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (credentials: ringlog users add)',
  tlsCertFile: 'PEM certificate (chain) of SSL/SASL_SSL listeners; re-read on SIGHUP',
  tlsKeyFile: 'PEM private key of SSL/SASL_SSL listeners; re-read on SIGHUP',
  tlsCaFile: 'PEM CA: TLS clients must present a certificate it signed (mTLS; principal User:<CN>)',
  // Authorization
  authorizer: 'on | off: check every request against the ACLs (ringlog acls add; CreateAcls)',
  superUsers: 'principals that bypass the ACLs, comma-separated or repeated (User:admin)',
  allowEveryoneIfNoAclFound: 'with --authorizer on: allow requests on a resource that has no ACL at all (true|false)',
  connectionsMaxReauthMs: 'SASL sessions expire after this long and clients re-authenticate (KIP-368); 0 = never',
  interBrokerListener: 'cluster mode: the listener (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL) brokers replicate over, registered in etcd; empty: the first',
  interBrokerSasl: 'cluster mode: user:password this broker logs in with on the inter-broker listener (SASL_*); the user needs CLUSTER_ACTION or --super-users',
  interBrokerSaslMechanism: 'cluster mode: SASL mechanism of --inter-broker-sasl: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512',
  slowFdatasyncMs: 'log a group-commit fdatasync at warn when it takes at least this many ms (-1: never, 0: every one)',
}

/** Flag names differ from the camel-case key only where Kafka users expect a shorter one. */
const FLAG_NAMES: Partial<Record<keyof RinglogConfig, string>> = { numPartitions: 'partitions', listeners: 'listener', advertisedListeners: 'advertised-listener' }

function flagName(key: keyof RinglogConfig): string {
  return FLAG_NAMES[key] ?? key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())
}

/** Commander's camel-case attribute for a flag. */
function attributeName(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
}

const FLUSH_HELP = `
Flush policy (what an acknowledged produce means):
  always   acks=-1/all is answered after an fdatasync covering the batch (group commit: one
           fdatasync covers every append that arrived while the previous one ran); acks=1 is
           answered once the batch is in the log (page cache). Consumers see a batch once it
           is durable (high watermark).
  never    appends stay in the page cache; the OS writes them back when it likes (Kafka's
           default). A machine crash can lose acknowledged data; a process crash cannot.
  <ms>     acks are answered after the write; an fdatasync runs every <ms> milliseconds, so a
           machine crash loses at most about that much.

Environment: every option also reads RINGLOG_<NAME> (e.g. ${envName('dataDir')}, ${envName('flush')},
${envName('numPartitions')}); RINGLOG_CONFIG names a JSON config file with the same keys as
the options in camel case (e.g. {"dataDir": "/var/lib/ringlog", "flush": "always"}).
Precedence: flag > environment > config file > default.
SIGTERM/SIGINT: stop accepting, answer in-flight requests, flush, exit 0.`

export function register(program: Command): void {
  const serve = program
    .command('serve')
    .description('run the Kafka wire-protocol broker')
    .option('-c, --config <file>', 'JSON config file (env RINGLOG_CONFIG)')
  for (const key of CONFIG_KEYS) {
    const flag = flagName(key)
    const fallback = DEFAULT_CONFIG[key]
    const shown = key === 'flush' ? describeFlushPolicy(DEFAULT_CONFIG.flush) : String(fallback)
    if (isListSetting(key)) {
      // Repeatable, and each use may itself be comma-separated.
      serve.option(`--${flag} <value>`, `${DESCRIPTIONS[key]} [env ${envName(key)}; default ${shown || 'none'}]`, (value: string, previous: string[] | undefined) => [...(previous ?? []), value])
      continue
    }
    serve.option(`--${flag} <value>`, `${DESCRIPTIONS[key]} [env ${envName(key)}; default ${shown}]`)
  }
  serve.addHelpText('after', FLUSH_HELP)
  serve.action(async (options: Record<string, string | string[] | undefined>) => {
    await runServe(options)
  })
}

/** The JSON object in a config file; InvalidConfigError (with the path) when it cannot be read or parsed. */
function readConfigFile(path: string): Record<string, unknown> {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'))
  } catch (error) {
    throw new InvalidConfigError(`config file ${path}: ${error instanceof Error ? error.message : String(error)}`)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidConfigError(`config file ${path} must hold a JSON object`)
  return parsed as Record<string, unknown>
}

/**
 * Resolves the config from flags, environment and file, as the help text describes, and
 * range-checks it; an error names the flag, variable or file key that holds the bad value.
 */
export function serveConfig(options: Record<string, string | string[] | undefined>, env: NodeJS.ProcessEnv): RinglogConfig {
  const configFile = (options.config as string | undefined) ?? env.RINGLOG_CONFIG
  const flagLayer: Record<string, unknown> = {}
  for (const key of CONFIG_KEYS) {
    const value = options[attributeName(flagName(key))]
    if (value !== undefined) flagLayer[key] = Array.isArray(value) ? value.join(',') : value
  }
  return resolveConfigLayers([
    { values: configFile ? readConfigFile(configFile) : undefined, name: (key) => `${key} in config file ${configFile ?? ''}` },
    { values: configFromEnv(env), name: (key) => envName(key as keyof RinglogConfig) },
    { values: flagLayer, name: (key) => `--${flagName(key as keyof RinglogConfig)}` },
  ])
}

/** Says what could not be used: the listening address or the data dir. */
function startFailure(error: unknown, config: RinglogConfig): unknown {
  if (!(error instanceof Error)) return error
  const { code, syscall, path } = error as NodeJS.ErrnoException
  if (syscall === 'listen') {
    return new Error(`cannot listen on ${config.host}:${config.port}: ${code === 'EADDRINUSE' ? 'address already in use' : errorMessage(error)}`)
  }
  if (path !== undefined) return new Error(`cannot use data dir ${config.dataDir}: ${errorMessage(error)}`)
  return error
}

async function runServe(options: Record<string, string | string[] | undefined>): Promise<void> {
  const config = serveConfig(options, process.env)
  if (!isLogLevel(config.logLevel)) throw new InvalidConfigError(`logLevel must be one of ${LOG_LEVELS.join(', ')}, got "${config.logLevel}"`)
  const logger = createLogger({ level: config.logLevel })
  // Up first, so /health answers and /ready says 503 while recovery runs.
  const ops = config.metricsPort >= 0 ? await MetricsServer.start({ host: config.host, port: config.metricsPort }) : undefined
  const sharedSecurity = config.etcd !== '' ? await openClusterSecurity(config, logger) : undefined
  const broker = await BrokerServer.start(config, { logger, metrics: ops !== undefined, sharedSecurity }).catch(async (error: unknown) => {
    await sharedSecurity?.close()
    throw startFailure(error, config)
  })
  const { host, port } = broker.address()
  await logStartup(broker, logger, config)
  // The signal handlers go in before the lines below: a parent that stops the broker as soon as
  // it reads "listening" must find SIGTERM handled (before them the default action kills the process).
  // SIGHUP: new TLS handshakes use the re-read certificate files; SASL sees users added offline.
  process.on('SIGHUP', () => {
    try {
      broker.reloadSecurity()
      logger.info('SIGHUP: reloaded TLS certificates and SASL credentials')
    } catch (error) {
      logger.error(`SIGHUP: reload failed, keeping the previous certificates and credentials: ${errorMessage(error)}`)
    }
  })
  let stopping = false
  const shutdown = (signal: string): void => {
    if (stopping) {
      process.stderr.write(`ringlog: ${signal} again, exiting without waiting\n`)
      process.exit(1)
    }
    stopping = true
    ops?.setReady(false)
    logger.info(`${signal}: shutting down`)
    broker.stop().then(() => sharedSecurity?.close()).then(() => ops?.close()).then(
      () => {
        logger.info('stopped cleanly')
        // Parked long-poll waits hold timers until their deadline; nothing is left to do.
        process.exit(0)
      },
      (error: unknown) => {
        logger.error(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`)
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
  if (ops) {
    ops.serve(broker.metrics!)
    ops.setReady(true)
    process.stdout.write(`ringlog metrics on http://${host}:${ops.port}/metrics (also /health, /ready)\n`)
  }
  process.stdout.write(`ringlog listening on ${host}:${port} (data dir ${broker.context.config.dataDir}, flush ${describeFlushPolicy(config.flush)}, node ${config.nodeId})\n`)
  for (const protocol of SECURITY_PROTOCOLS) {
    const address = config.listeners.length > 0 ? broker.listenerAddress(protocol) : undefined
    if (address) process.stdout.write(`ringlog ${protocol} listener on ${address.host}:${address.port}\n`)
  }
}

/**
 * Cluster mode: the users and ACLs every broker shares, from etcd. etcd is the only source:
 * credentials or ACLs left in this broker's own meta/ files are not read (one warning says so;
 * `ringlog users add --etcd` / `ringlog acls add --etcd` put them into the cluster).
 */
async function openClusterSecurity(config: RinglogConfig, logger: BrokerLogger): Promise<SharedSecurityStore> {
  const { WatchedSecurityMetadata } = await import('../cluster/security-metadata-watch.js')
  const local = [CredentialStore.pathIn(config.dataDir), AclStore.pathIn(config.dataDir)].filter((path) => existsSync(path))
  if (local.length > 0) {
    logger.warn(`cluster mode: users and ACLs come from etcd (/ringlog/${config.clusterName}/security/); ignoring ${local.join(' and ')}`)
  }
  return WatchedSecurityMetadata.open({
    endpoints: config.etcd, cluster: config.clusterName,
    log: (level, message) => logger[level](message),
  })
}

/** The start line and the recovery summary (info). */
async function logStartup(broker: BrokerServer, logger: BrokerLogger, config: RinglogConfig): Promise<void> {
  const stats = await broker.context.engine.stats()
  const recovered = stats.perPartition.filter((p) => p.recovered)
  // Kafka warns for each log it truncates; a cut tail is data a client may have sent.
  for (const p of recovered) {
    if (p.recovery.truncatedBytes === 0) continue
    logger.warn('recovery truncated a partition', {
      topic: p.topic, partition: p.partition, truncatedBytes: p.recovery.truncatedBytes, segmentsScanned: p.recovery.segmentsScanned,
      logEndOffset: p.logEndOffset, reason: p.recovery.corruption,
    })
  }
  logger.info('recovery finished', {
    partitions: stats.partitions, recovered: recovered.length, recoveredByPool: stats.recoveredByPool,
    segmentsScanned: recovered.reduce((n, p) => n + p.recovery.segmentsScanned, 0),
    truncatedBytes: recovered.reduce((n, p) => n + p.recovery.truncatedBytes, 0),
    recoveredPartitions: recovered.length > 0 ? recovered.map((p) => `${p.topic}-${p.partition}`).join(',') : undefined,
  })
  const { host, port } = broker.address()
  logger.info('started', { host, port, dataDir: broker.context.config.dataDir, flush: describeFlushPolicy(config.flush), nodeId: config.nodeId, workers: stats.workers, topics: broker.context.topics.list().length })
}
