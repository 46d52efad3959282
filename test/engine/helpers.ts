import { closeSync, mkdtempSync, readSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BroadcastChannel } from 'node:worker_threads'
import { createLogEngine, type LogEngineConfig, type PartitionRouter } from '../../src/engine/main/router.js'
import { decodeRecordBatch, readBatchHeader, splitBatches, type BatchHeader } from '../../src/protocol/record-batch.js'

export function tempDir(prefix = 'ringlog-engine-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** Engines and dirs made through here are closed and removed by `cleanup()`. */
export class Fixture {
  private readonly engines: PartitionRouter[] = []
  private readonly dirs: string[] = []

  dir(): string {
    const dir = tempDir()
    this.dirs.push(dir)
    return dir
  }

  engine(config: LogEngineConfig): PartitionRouter {
    const engine = createLogEngine(config)
    engine.on('error', () => undefined)
    this.engines.push(engine)
    return engine
  }

  async cleanup(): Promise<void> {
    for (const engine of this.engines.splice(0)) await engine.close().catch(() => undefined)
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
  }
}

export interface StoredRecord {
  offset: number
  value: Buffer | null
  key: Buffer | null
}

export interface StoredBatch {
  header: BatchHeader
  bytes: Buffer
}

/** Every batch of a partition from `from` to its high watermark, read through the engine's read(). */
export async function readAllBatches(engine: PartitionRouter, topic: string, partition: number, from = 0): Promise<StoredBatch[]> {
  const out: StoredBatch[] = []
  let offset = from
  for (let round = 0; round < 100_000; round++) {
    const slice = await engine.read(topic, partition, offset, 1024 * 1024, { holdFile: true })
    if (slice.errorCode !== 0) throw new Error(`read error ${slice.errorCode}`)
    if (!slice.segment) break
    const bytes = Buffer.alloc(slice.segment.length)
    try { readSync(slice.segment.heldFd!, bytes, 0, bytes.length, slice.segment.position) } finally { closeSync(slice.segment.heldFd!) }
    const { batches, trailingBytes } = splitBatches(bytes)
    if (trailingBytes !== 0) throw new Error('partial batch in a read slice')
    for (const b of batches) {
      const batch = Buffer.from(bytes.subarray(b.offset, b.offset + b.size))
      out.push({ header: readBatchHeader(batch), bytes: batch })
    }
    const next = slice.segment.nextOffset!
    if (next <= offset) break
    offset = next
  }
  return out
}

export async function readAllRecords(engine: PartitionRouter, topic: string, partition: number, from = 0): Promise<StoredRecord[]> {
  const records: StoredRecord[] = []
  for (const batch of await readAllBatches(engine, topic, partition, from)) {
    const decoded = decodeRecordBatch(batch.bytes)
    for (const r of decoded.records) records.push({ offset: decoded.header.baseOffset + r.offsetDelta, value: r.value, key: r.key })
  }
  return records
}

/** The module to pass as `partitionWorkerModule` for engines a test crashes with `crashPartitionWorker`. */
export const CRASHABLE_PARTITION_WORKER = new URL('./fixtures/crashable-partition-worker.mjs', import.meta.url)

/**
 * Makes worker `index` of the engine over `dataDir` die ('exit' or 'throw', see the fixture)
 * and resolves once the engine has noticed and started its replacement.
 */
export async function crashPartitionWorker(engine: PartitionRouter, dataDir: string, index: number, mode: 'exit' | 'throw'): Promise<void> {
  const restarted = new Promise<void>((resolve) => {
    const onRestart = (restartedIndex: number): void => {
      if (restartedIndex !== index) return
      engine.off('workerRestarted', onRestart)
      resolve()
    }
    engine.on('workerRestarted', onRestart)
  })
  const channel = new BroadcastChannel('ringlog-test-crash-partition-worker')
  channel.postMessage({ dataDir, workerIndex: index, mode })
  channel.close()
  await restarted
}
