/** Starts an in-process broker on 127.0.0.1, port 0, in a fresh temp data dir. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resolveConfig, type RinglogConfig } from '../../src/config.js'
import { silentLogger, type BrokerLogger } from '../../src/broker/logger.js'
import { BrokerServer } from '../../src/broker/server.js'

export interface TestBroker {
  server: BrokerServer
  port: number
  dataDir: string
  config: RinglogConfig
  /** Stops the broker (data stays for a restart). */
  stop(): Promise<void>
  /** Starts a new broker on the same data dir (new port). */
  restart(): Promise<TestBroker>
  /** Stops and removes the data dir. */
  destroy(): Promise<void>
}

export async function startTestBroker(overrides: Partial<RinglogConfig> = {}, logger: BrokerLogger = silentLogger, dataDir?: string): Promise<TestBroker> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'ringlog-broker-'))
  // No group initial rebalance delay (Kafka's 3 s would hold every first join); a test of the delay sets one.
  const config = resolveConfig({ host: '127.0.0.1', port: 0, maxWorkers: 2, flush: 'never', offsetsTopicNumPartitions: 3, groupInitialRebalanceDelayMs: 0 }, { ...overrides, dataDir: dir })
  const server = await BrokerServer.start(config, { logger })
  const broker: TestBroker = {
    server,
    port: server.address().port,
    dataDir: dir,
    config,
    stop: () => server.stop(),
    restart: async () => {
      await server.stop()
      return startTestBroker(overrides, logger, dir)
    },
    destroy: async () => {
      await server.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
  return broker
}

/** Retries `probe` until it returns a value (bounded). */
export async function eventually<T>(probe: () => Promise<T | undefined>, tries = 100, delayMs = 50): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await probe()
    if (value !== undefined) return value
    await new Promise((r) => setTimeout(r, delayMs))
  }
  throw new Error('condition not reached')
}
