/**
 * `startBroker()`: a real Kafka wire-protocol broker for a test suite (vitest or jest
 * globalSetup), with the defaults a test wants: 127.0.0.1 on a free port, a temporary data
 * dir that stop() removes, no group initial rebalance delay, no fdatasync per ack.
 *
 * It runs in the calling process (the broker's partition workers are threads of it), not as a
 * child process: nothing can be orphaned if the test runner dies, it starts in about the time
 * recovery of an empty dir takes, and it needs no build of the CLI. This module sits above
 * broker/ and client/ (which never import each other) and only uses the broker.
 *
 * The wire server is imported when startBroker() runs, not with the package: its handler list
 * is built with top-level await, and an ES module graph with top-level await cannot be
 * require()d, so this keeps `require('ringlog')` working from CommonJS (Node >= 20.19).
 *
 * `cluster: N` is the exception to "in this process": N `ringlog serve` child processes and a
 * private etcd (cluster/dev-cluster.ts, as `ringlog cluster up` runs them), so a user's failover
 * test can kill -9 one broker like a real crash. stop() stops each by its PID, then etcd, and
 * removes the temporary dir. cluster/ is loaded only then (dynamic import).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger, type LogLevel } from './broker/logger.js'
import type { BrokerServer } from './broker/server.js'
import type { DevCluster } from './cluster/dev-cluster.js'
import { resolveConfig, type FlushPolicy, type RinglogConfig } from './config.js'

export interface StartBrokerOptions {
  /** Default 0: any free port. */
  port?: number
  /** Default: a new temporary directory, removed by stop(). A given directory is kept. */
  dataDir?: string
  /** Default 'never' (acks do not wait for fdatasync: tests rarely need machine-crash durability). */
  flush?: FlushPolicy
  /** Partitions of auto-created topics. Default 1. */
  partitions?: number
  /** Default 0 (a consumer group's first join completes at once). */
  groupInitialRebalanceDelayMs?: number
  /** Broker log lines on stderr at this level and above. Default 'warn'; 'silent' for none. */
  logLevel?: LogLevel | 'silent'
  /** Any other broker setting (see RinglogConfig); the options above take precedence. */
  config?: Partial<Omit<RinglogConfig, 'host'>>
  /**
   * N > 0: a cluster of N broker processes (ids 1..N, consecutive ports from `port` or any free
   * ports) with a private etcd (/usr/bin/etcd, Debian's etcd-server), for failover tests. Needs
   * the compiled CLI (an installed package has it). Default: one broker in this process.
   */
  cluster?: number
}

export interface StartedBroker {
  /** Bootstrap addresses for a Kafka client: `new Kafka({ brokers })`. */
  readonly brokers: string[]
  readonly port: number
  readonly dataDir: string
  /** Stops the broker (answers in-flight requests, flushes) and removes a temporary data dir. Idempotent. */
  stop(): Promise<void>
}

/** One broker process of a `startBroker({ cluster: N })` cluster. */
export interface ClusterBroker {
  readonly id: number
  /** `127.0.0.1:PORT`, fixed across restarts. */
  readonly address: string
  /** PID of the running process; undefined while it is down. */
  readonly pid: number | undefined
  readonly alive: boolean
  /** Port of its /metrics, /health and /ready when `config.metricsPort` >= 0 (each broker gets its own free port). */
  readonly metricsPort: number | undefined
}

export interface StartedCluster extends StartedBroker {
  /** Bootstrap addresses of every broker, broker 1 first. `port` is broker 1's. */
  readonly brokers: string[]
  /** Every broker with its id, PID and state, now. */
  readonly nodes: readonly ClusterBroker[]
  /** etcd's client endpoint (`127.0.0.1:PORT`). */
  readonly etcd: string
  /** kill -9 of one broker: a crash (its leaderships move once its etcd lease, `leaseTtlSeconds`, expires). */
  killBroker(id: number): Promise<void>
  /** SIGTERM of one broker: a controlled shutdown (it hands its leaderships off first). */
  stopBroker(id: number): Promise<void>
  /** Starts a stopped or killed broker again on its port and data dir (a running one is killed first). */
  restartBroker(id: number): Promise<void>
}

export async function startBroker(options: StartBrokerOptions & { cluster: number }): Promise<StartedCluster>
export async function startBroker(options?: StartBrokerOptions): Promise<StartedBroker>
export async function startBroker(options: StartBrokerOptions = {}): Promise<StartedBroker | StartedCluster> {
  if (options.cluster !== undefined) return startCluster(options, options.cluster)
  const temporary = options.dataDir === undefined
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'ringlog-test-'))
  let server: BrokerServer
  try {
    const config = resolveConfig({ flush: 'never', groupInitialRebalanceDelayMs: 0 }, options.config, {
      host: '127.0.0.1',
      port: options.port ?? 0,
      dataDir,
      flush: options.flush,
      numPartitions: options.partitions,
      groupInitialRebalanceDelayMs: options.groupInitialRebalanceDelayMs,
    })
    const { BrokerServer } = await import('./broker/server.js')
    server = await BrokerServer.start(config, { logger: createLogger({ level: options.logLevel ?? 'warn' }) })
  } catch (error) {
    if (temporary) rmSync(dataDir, { recursive: true, force: true })
    throw error
  }
  const { port } = server.address()
  let stopping: Promise<void> | undefined
  return {
    brokers: [`127.0.0.1:${port}`],
    port,
    dataDir,
    stop: () => {
      stopping ??= server.stop().finally(() => {
        if (temporary) rmSync(dataDir, { recursive: true, force: true })
      })
      return stopping
    },
  }
}

/** The settings every broker of a cluster reads from one config file; flags set the per-broker ones. */
function clusterSettings(options: StartBrokerOptions): Record<string, unknown> {
  const settings: Record<string, unknown> = { flush: 'never', groupInitialRebalanceDelayMs: 0, ...options.config }
  const explicit = { flush: options.flush, numPartitions: options.partitions, groupInitialRebalanceDelayMs: options.groupInitialRebalanceDelayMs }
  for (const [key, value] of Object.entries(explicit)) if (value !== undefined) settings[key] = value
  // One port per broker: each asks for a free one, and the cluster reports it (nodes[i].metricsPort).
  if (typeof settings.metricsPort === 'number' && settings.metricsPort >= 0) settings.metricsPort = 0
  return settings
}

async function startCluster(options: StartBrokerOptions, size: number): Promise<StartedCluster> {
  if (!Number.isInteger(size) || size < 1 || size > 64) throw new RangeError(`cluster must be an integer from 1 to 64, got ${size}`)
  const settings = clusterSettings(options)
  // Checked here, so a bad setting is a typed error from startBroker() and not N failed child processes.
  resolveConfig(settings, { host: '127.0.0.1', port: options.port ?? 0 })
  const temporary = options.dataDir === undefined
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'ringlog-test-cluster-'))
  let cluster: DevCluster
  try {
    mkdirSync(dataDir, { recursive: true })
    const configFile = join(dataDir, 'broker-settings.json')
    writeFileSync(configFile, `${JSON.stringify(settings, null, 2)}\n`)
    const level = options.logLevel ?? 'warn'
    const { DevCluster } = await import('./cluster/dev-cluster.js')
    cluster = await DevCluster.start({
      brokers: size, dataDir, firstPort: options.port ?? 0, host: '127.0.0.1', clusterName: 'test',
      logLevel: level === 'silent' ? 'error' : level, serveArgs: ['--config', configFile],
      onLog: level === 'silent' ? undefined : (id, line) => { process.stderr.write(`[ringlog broker ${id}] ${line}\n`) },
    })
  } catch (error) {
    if (temporary) rmSync(dataDir, { recursive: true, force: true })
    throw error
  }
  let stopping: Promise<void> | undefined
  return {
    brokers: cluster.bootstrap,
    port: cluster.brokers[0].port,
    dataDir,
    etcd: cluster.etcd.endpoint,
    get nodes(): ClusterBroker[] {
      return cluster.brokers.map((b) => ({ id: b.id, address: `${b.host}:${b.port}`, pid: b.pid, alive: b.alive, metricsPort: b.metricsPort }))
    },
    killBroker: (id) => cluster.killBroker(id),
    stopBroker: (id) => cluster.stopBroker(id),
    restartBroker: (id) => cluster.restartBroker(id),
    stop: () => {
      stopping ??= cluster.stop().finally(() => {
        if (temporary) rmSync(dataDir, { recursive: true, force: true })
      })
      return stopping
    },
  }
}
