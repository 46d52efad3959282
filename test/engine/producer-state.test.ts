import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { ProducerStateManager, type ProducerBatchInfo } from '../../src/storage/producer-state.js'
import { producerSnapshotFileName } from '../../src/storage/file-names.js'

function batch(producerId: number, producerEpoch: number, baseSequence: number, records: number): ProducerBatchInfo {
  return { producerId, producerEpoch, baseSequence, lastOffsetDelta: records - 1 }
}

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe('ProducerStateManager', () => {
  it('accepts in-order batches and returns the original offsets for a retried one', () => {
    const state = new ProducerStateManager()
    expect(state.check(batch(7, 0, 0, 3))).toEqual({ kind: 'append' })
    state.update(batch(7, 0, 0, 3), 100, 1)
    expect(state.check(batch(7, 0, 3, 2))).toEqual({ kind: 'append' })
    state.update(batch(7, 0, 3, 2), 200, 2)
    expect(state.check(batch(7, 0, 0, 3))).toEqual({ kind: 'duplicate', firstOffset: 100, lastOffset: 102 })
    expect(state.check(batch(7, 0, 3, 2))).toEqual({ kind: 'duplicate', firstOffset: 200, lastOffset: 201 })
  })

  it("skips the sequence check only for a coordinator's sequenceless transactional batch, never for a client's", () => {
    const state = new ProducerStateManager()
    state.update({ ...batch(9, 0, 0, 2), transactional: true }, 0, 1)
    const sequenceless = { ...batch(9, 0, -1, 1), transactional: true }
    const fromClient = state.check(sequenceless)
    expect(fromClient.kind === 'error' && fromClient.code).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
    expect(state.check(sequenceless, true)).toEqual({ kind: 'append' })
    const zombie = state.check({ ...batch(9, -1, -1, 1), transactional: true }, true)
    expect(zombie.kind === 'error' && zombie.code).toBe(ErrorCode.INVALID_PRODUCER_EPOCH)
  })

  it('reports a sequence gap, an old epoch and a new epoch not starting at 0', () => {
    const state = new ProducerStateManager()
    state.update(batch(1, 2, 0, 5), 0, 1)
    const gap = state.check(batch(1, 2, 7, 1))
    expect(gap.kind === 'error' && gap.code).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
    const old = state.check(batch(1, 1, 5, 1))
    expect(old.kind === 'error' && old.code).toBe(ErrorCode.INVALID_PRODUCER_EPOCH)
    const bump = state.check(batch(1, 3, 4, 1))
    expect(bump.kind === 'error' && bump.code).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
    expect(state.check(batch(1, 3, 0, 1))).toEqual({ kind: 'append' })
  })

  it('remembers only the last 5 batches per producer', () => {
    const state = new ProducerStateManager()
    for (let i = 0; i < 7; i++) state.update(batch(9, 0, i, 1), i * 10, i)
    expect(state.check(batch(9, 0, 6, 1)).kind).toBe('duplicate')
    expect(state.check(batch(9, 0, 2, 1)).kind).toBe('duplicate')
    const tooOld = state.check(batch(9, 0, 1, 1))
    expect(tooOld.kind).toBe('error')
    expect(state.check(batch(9, 0, 7, 1))).toEqual({ kind: 'append' })
  })

  it('wraps sequence numbers at 2^31-1', () => {
    const state = new ProducerStateManager()
    state.update(batch(4, 0, 2 ** 31 - 2, 2), 0, 1)
    expect(state.check(batch(4, 0, 0, 1))).toEqual({ kind: 'append' })
  })

  it('survives a snapshot round trip and ignores damaged or too-new snapshots', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringlog-pstate-'))
    dirs.push(dir)
    const state = new ProducerStateManager()
    state.update(batch(5, 1, 0, 10), 40, 1)
    state.writeSnapshot(dir, 50)
    const loaded = new ProducerStateManager()
    expect(loaded.loadLatestSnapshot(dir, 50)).toBe(50)
    expect(loaded.check(batch(5, 1, 0, 10))).toEqual({ kind: 'duplicate', firstOffset: 40, lastOffset: 49 })

    writeFileSync(join(dir, producerSnapshotFileName(60)), Buffer.from('garbage that is not a snapshot'))
    expect(loaded.loadLatestSnapshot(dir, 70)).toBe(50)
    expect(loaded.loadLatestSnapshot(dir, 45)).toBe(-1)
    expect(loaded.size).toBe(0)
    expect(readdirSync(dir).filter((n) => n.endsWith('.snapshot'))).toEqual([])
  })
})
