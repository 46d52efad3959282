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
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger, type LogLevel } from './broker/logger.js'
import type { BrokerServer } from './broker/server.js'
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
}

export interface StartedBroker {
  /** Bootstrap addresses for a Kafka client: `new Kafka({ brokers })`. */
  readonly brokers: string[]
  readonly port: number
  readonly dataDir: string
  /** Stops the broker (answers in-flight requests, flushes) and removes a temporary data dir. Idempotent. */
  stop(): Promise<void>
}

export async function startBroker(options: StartBrokerOptions = {}): Promise<StartedBroker> {
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
