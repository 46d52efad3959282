/**
 * A small piscina pool (1 thread by default, the machine having 2 cores) for coarse start-up
 * work: one task per partition directory that needs recovery (CRC checks of every batch from
 * the recovery point, index rebuilds). Never used on the append or fetch path: piscina has no
 * thread affinity, so it cannot own partitions.
 */
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Piscina } from 'piscina'
import { errorFromPayload } from '../../errors.js'
import { CLEAN_SHUTDOWN_MARKER, LOG_SUFFIX } from '../../storage/file-names.js'
import type { LogConfig } from '../../storage/log-config.js'
import { logConfigFor } from '../partition-log-config.js'
import type { PartitionSettings } from '../log-engine.js'
import type { RecoverySummary } from '../../storage/recovery.js'
import type { RecoveryTask, RecoveryTaskResult } from './recovery-task.js'
import { compiledTwin, workersFromBuild } from '../channel/spawn-worker.js'

/** The task module next to this file: the .ts shim under tests/tsx, the compiled .js otherwise. */
function taskFilename(): string {
  const fromSources = import.meta.url.endsWith('.ts')
  const compiled = fromSources && workersFromBuild() ? compiledTwin(new URL('./recovery-task.ts', import.meta.url)) : undefined
  if (compiled) return fileURLToPath(compiled)
  return fileURLToPath(new URL(fromSources ? './recovery-task-shim.mjs' : './recovery-task.js', import.meta.url))
}

/** True if `dir` holds segments and no clean-shutdown marker (so opening it would scan). */
export function needsRecovery(dir: string): boolean {
  if (!existsSync(dir) || existsSync(join(dir, CLEAN_SHUTDOWN_MARKER))) return false
  return readdirSync(dir).some((name) => name.endsWith(LOG_SUFFIX))
}

export class RecoveryPool {
  /** Made by the first directory that needs recovery: a clean start never loads piscina (about 0.1 s of CPU). */
  private pool: Promise<Piscina<RecoveryTask, RecoveryTaskResult>> | undefined
  /** Partitions recovered by the pool so far. */
  recoveredCount = 0
  /** What the pool's recovery of each directory scanned and cut (the worker then opens it clean). */
  readonly summaries = new Map<string, RecoverySummary>()

  constructor(private readonly threads = 1) {}

  private piscina(): Promise<Piscina<RecoveryTask, RecoveryTaskResult>> {
    this.pool ??= import('piscina').then(({ Piscina }) => new Piscina<RecoveryTask, RecoveryTaskResult>({
      filename: taskFilename(), minThreads: 0, maxThreads: Math.max(1, this.threads), idleTimeout: 1000,
    }))
    return this.pool
  }

  /** Recovers `dir` on the pool if it needs it; resolves with null if it was clean. */
  async recover(dir: string, settings: PartitionSettings, flush: LogConfig['flush']): Promise<RecoveryTaskResult | null> {
    if (!needsRecovery(dir)) return null
    const pool = await this.piscina()
    const result = await pool.run({ dir, config: logConfigFor(settings, flush) })
    if (result.error) throw errorFromPayload(result.error)
    if (result.recovered) this.recoveredCount++
    if (result.summary) this.summaries.set(dir, result.summary)
    return result
  }

  async close(): Promise<void> {
    if (this.pool) await (await this.pool).destroy()
  }
}
