/**
 * Piscina task (see pool.ts): runs the storage recovery of one partition directory off the
 * partition workers, by opening the log (which validates every batch from the recovery point,
 * cuts a torn tail and rebuilds indexes) and closing it cleanly, so the owning worker's open
 * afterwards trusts it and starts at once.
 */
import { performance } from 'node:perf_hooks'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { toErrorPayload, type ErrorPayload } from '../../errors.js'
import { CLEAN_SHUTDOWN_MARKER } from '../../storage/file-names.js'
import type { LogConfig } from '../../storage/log-config.js'
import { PartitionLog } from '../../storage/partition-log.js'
import type { RecoverySummary } from '../../storage/recovery.js'

export interface RecoveryTask {
  dir: string
  config: Partial<LogConfig>
}

export interface RecoveryTaskResult {
  dir: string
  /** False if the directory was already clean (nothing to scan). */
  recovered: boolean
  logEndOffset: number
  durationMs: number
  /** What the scan read and cut (recovered only). */
  summary?: RecoverySummary
  /** Why recovery failed, as a code and a message: a thrown error would lose its class and code crossing the thread. */
  error?: ErrorPayload
}

export default async function recoverPartition(task: RecoveryTask): Promise<RecoveryTaskResult> {
  const started = performance.now()
  if (existsSync(join(task.dir, CLEAN_SHUTDOWN_MARKER))) return { dir: task.dir, recovered: false, logEndOffset: -1, durationMs: 0 }
  try {
    const log = await PartitionLog.open(task.dir, task.config)
    const logEndOffset = log.logEndOffset
    const summary = log.recovery
    await log.close()
    return { dir: task.dir, recovered: true, logEndOffset, durationMs: performance.now() - started, summary }
  } catch (error) {
    return { dir: task.dir, recovered: false, logEndOffset: -1, durationMs: performance.now() - started, error: toErrorPayload(error) }
  }
}
