import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeRecordBatch } from '../../src/protocol/record-batch.js'
import { DAMAGED_FILE_WARNING } from '../../src/storage/damaged-file.js'
import type { RecordInput } from '../../src/protocol/records.js'

/** A fresh partition directory under the OS temp dir, and its cleanup. */
export function tempPartitionDir(): { dir: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'ringlog-storage-'))
  return { dir: join(root, 'topic-0'), cleanup: () => rmSync(root, { recursive: true, force: true }) }
}

/** A batch of `count` records whose values name their index, so reads can be checked. */
export function testBatch(tag: number, count = 1, timestamp = 1_700_000_000_000 + tag, valueBytes = 0): Buffer {
  const records: RecordInput[] = []
  for (let i = 0; i < count; i++) {
    const value = `v${tag}-${i}` + (valueBytes > 0 ? 'x'.repeat(valueBytes) : '')
    records.push({ key: `k${tag}`, value, timestamp: timestamp + i })
  }
  return encodeRecordBatch({ records })
}

/** The RINGLOG_DAMAGED_FILE warnings emitted while `fn` runs (they are emitted on the next tick). */
export async function damagedFileWarningsDuring(fn: () => Promise<void>): Promise<string[]> {
  const seen: string[] = []
  const listener = (w: Error & { code?: string }): void => { if (w.code === DAMAGED_FILE_WARNING) seen.push(w.message) }
  process.on('warning', listener)
  try {
    await fn()
    await new Promise((resolve) => setImmediate(resolve))
  } finally {
    process.off('warning', listener)
  }
  return seen
}
