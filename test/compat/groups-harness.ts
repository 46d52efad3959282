/**
 * Shared set-up for the consumer-group tests: a broker in this process on 127.0.0.1:0 with a
 * short initial rebalance delay and a low minimum session timeout (so tests are fast), temp
 * data dirs, a kafkajs client with its logs silenced, and bounded polling.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kafka, logLevel, type Producer } from 'kafkajs'
import { resolveConfig, type RinglogConfig } from '../../src/config.js'
import { silentLogger } from '../../src/broker/logger.js'
import { BrokerServer } from '../../src/broker/server.js'

export const GROUP_TEST_CONFIG: Partial<RinglogConfig> = {
  host: '127.0.0.1',
  port: 0,
  flush: 'never',
  maxWorkers: 2,
  numPartitions: 1,
  groupInitialRebalanceDelayMs: 200,
  groupMinSessionTimeoutMs: 500,
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `ringlog-${prefix}-`))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

export async function startBroker(dataDir: string, overrides: Partial<RinglogConfig> = {}): Promise<BrokerServer> {
  return BrokerServer.start(resolveConfig(GROUP_TEST_CONFIG, { dataDir }, overrides), { logger: silentLogger })
}

export function bootstrapOf(server: BrokerServer): string {
  const { host, port } = server.address()
  return `${host}:${port}`
}

export function kafkaClient(brokers: string, clientId = 'groups-test'): Kafka {
  return new Kafka({ clientId, brokers: [brokers], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 50, maxRetryTime: 500 } })
}

/** Produces `count` records `key-i`/`value-i` (i from `first`) round-robin over the partitions. */
export async function produceNumbered(producer: Producer, topic: string, partitions: number, count: number, first = 0, chunk = 2000): Promise<void> {
  for (let start = first; start < first + count; start += chunk) {
    const end = Math.min(first + count, start + chunk)
    const byPartition = new Map<number, { key: string; value: string; partition: number }[]>()
    for (let i = start; i < end; i++) {
      const partition = i % partitions
      let list = byPartition.get(partition)
      if (!list) { list = []; byPartition.set(partition, list) }
      list.push({ key: `key-${i}`, value: `value-${i}`, partition })
    }
    await producer.send({ topic, acks: -1, messages: [...byPartition.values()].flat() })
  }
}

/** Polls `condition` every `intervalMs` until it holds or `timeoutMs` passes (then throws `what`). */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 20_000, intervalMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await condition()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}
