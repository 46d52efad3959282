/** The embedded log a scenario runs against: `open()` in a temp dir with the scenario's flush policy, and its topic. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open, type Ringlog } from '../../client/ringlog.js'
import type { FlushPolicy as ConfigFlushPolicy } from '../../config.js'
import type { FlushPolicy } from '../scenario.js'

export interface EmbeddedBenchLog {
  log: Ringlog
  dir: string
  close(): Promise<void>
}

export function configFlush(flush: FlushPolicy): ConfigFlushPolicy {
  return typeof flush === 'number' ? { intervalMs: Math.max(1, Math.round(flush)) } : flush
}

export async function openEmbeddedBenchLog(flush: FlushPolicy, parent: string = tmpdir()): Promise<EmbeddedBenchLog> {
  const dir = mkdtempSync(join(parent, 'ringlog-bench-embedded-'))
  try {
    // No initial rebalance delay: consumer scenarios join a fresh group per repetition.
    const log = await open({ dataDir: dir, flush: configFlush(flush), groupInitialRebalanceDelayMs: 0 })
    return {
      log,
      dir,
      close: async () => {
        await log.close()
        rmSync(dir, { recursive: true, force: true })
      },
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
}

export async function createBenchTopic(log: Ringlog, topic: string, partitions: number): Promise<void> {
  const admin = log.admin()
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }] })
}
