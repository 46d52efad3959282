/**
 * Issue 18, H3: a producer-state snapshot that cannot be written at a segment roll (disk full)
 * must not end the partition worker: the append it follows stands and is answered, appends go
 * on, and the next roll writes the snapshot once space is back. Drives a PartitionRuntime in
 * this thread (the worker's own object) so the failure can be injected at the snapshot write.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { AppendReply } from '../../src/engine/channel/frames.js'
import { PartitionRuntime } from '../../src/engine/worker/partition-runtime.js'
import { SharedPartitionState } from '../../src/engine/channel/shared-state.js'
import { encodeRecordBatch } from '../../src/protocol/record-batch.js'
import { ProducerStateManager } from '../../src/storage/producer-state.js'

const dirs: string[] = []
afterEach(() => {
  vi.restoreAllMocks()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function openRuntime(dataDir: string, replies: AppendReply[]): Promise<PartitionRuntime> {
  return PartitionRuntime.open({
    dataDir, topic: 'h3', partition: 0, slot: 0, settings: { segmentBytes: 1024 }, flush: 'never',
    batchSize: 16384, lingerMs: 0, shared: SharedPartitionState.create(1), replies: { append: (r) => replies.push(r) },
  })
}

/** A wire batch of an idempotent producer (so the producer state has something to snapshot). */
function idempotentBatch(sequence: number): Buffer {
  return encodeRecordBatch({ producerId: 7, producerEpoch: 0, baseSequence: sequence, records: [{ value: Buffer.alloc(300, 1) }] })
}

describe('producer-state snapshot at a roll on a full disk (H3)', () => {
  it('keeps appending and answering, and snapshots at the next roll once space is back', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ringlog-runtime-'))
    dirs.push(dataDir)
    const replies: AppendReply[] = []
    const runtime = await openRuntime(dataDir, replies)
    const original = ProducerStateManager.prototype.writeSnapshot
    const failing = vi.spyOn(ProducerStateManager.prototype, 'writeSnapshot').mockImplementation(() => {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
    })
    let sequence = 0
    const append = (): void => runtime.appendBatches(idempotentBatch(sequence), 0, ++sequence, 1)
    for (let i = 0; i < 8; i++) append()
    expect(failing).toHaveBeenCalled()
    expect(runtime.lastSnapshotFailure).toBe('ENOSPC')
    expect(replies.map((r) => r.errorCode)).toEqual(Array(8).fill(0))
    expect(replies.map((r) => r.baseOffset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7])

    failing.mockImplementation(function (this: ProducerStateManager, dir: string, offset: number) { return original.call(this, dir, offset) })
    for (let i = 0; i < 8; i++) append()
    expect(runtime.lastSnapshotFailure).toBeUndefined()
    const partitionDir = join(dataDir, 'h3-0')
    expect(readdirSync(partitionDir).some((name) => name.endsWith('.snapshot'))).toBe(true)
    expect(readdirSync(partitionDir).some((name) => name.endsWith('.tmp'))).toBe(false)
    expect(replies.map((r) => r.errorCode)).toEqual(Array(16).fill(0))
    await runtime.close()

    // The producer state survives a reopen: a retried batch is a duplicate, not a new append.
    const again: AppendReply[] = []
    const reopened = await openRuntime(dataDir, again)
    expect(reopened.stats().logEndOffset).toBe(16)
    reopened.appendBatches(idempotentBatch(15), 0, 99, 1)
    expect(again).toMatchObject([{ requestId: 99, errorCode: 0, baseOffset: 15 }])
    expect(reopened.stats().duplicateBatches).toBe(1)
    await reopened.close()
    expect(existsSync(partitionDir)).toBe(true)
  })
})
