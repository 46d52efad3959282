import { readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { RinglogError } from '../../src/errors.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { encodeRecordBatch } from '../../src/protocol/record-batch.js'
import { CLEAN_SHUTDOWN_MARKER } from '../../src/storage/file-names.js'
import { CRASHABLE_PARTITION_WORKER, crashPartitionWorker, Fixture, readAllRecords } from './helpers.js'

const fixture = new Fixture()
afterEach(() => fixture.cleanup())

function idempotent(producerEpoch: number, baseSequence: number, count: number, tag: string): Buffer {
  return encodeRecordBatch({
    producerId: 4242, producerEpoch, baseSequence,
    records: Array.from({ length: count }, (_, i) => ({ value: `${tag}-${baseSequence + i}` })),
  })
}

describe('partition engine: idempotent producers', () => {
  it('returns the original offsets for retried batches, before and after a clean restart and a crash', async () => {
    const dataDir = fixture.dir()
    const first = fixture.engine({ dataDir, flush: 'always', maxWorkers: 1 })
    await first.openPartition('t', 0)
    expect((await first.appendBatches('t', 0, idempotent(0, 0, 5, 'a'), -1)).baseOffset).toBe(0)
    expect((await first.appendBatches('t', 0, idempotent(0, 5, 5, 'a'), -1)).baseOffset).toBe(5)
    const retry = await first.appendBatches('t', 0, idempotent(0, 0, 5, 'a'), -1)
    expect(retry).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0 })
    expect(first.offsets('t', 0)!.logEndOffset).toBe(10)
    expect((await first.appendBatches('t', 0, idempotent(0, 20, 1, 'a'), -1)).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
    await first.close()

    const second = fixture.engine({ dataDir, flush: 'always', maxWorkers: 1, partitionWorkerModule: CRASHABLE_PARTITION_WORKER })
    await second.openPartition('t', 0)
    expect((await second.appendBatches('t', 0, idempotent(0, 5, 5, 'a'), -1))).toMatchObject({ errorCode: 0, baseOffset: 5 })
    expect((await second.appendBatches('t', 0, idempotent(0, 10, 5, 'a'), -1)).baseOffset).toBe(10)
    // Crash: the batch at 10 is only in the log (after the snapshot taken at 10); replay rebuilds it.
    await crashPartitionWorker(second, dataDir, 0, 'exit')
    await second.whenReady('t', 0)
    expect((await second.stats()).perPartition[0].recovered).toBe(true)
    expect((await second.appendBatches('t', 0, idempotent(0, 10, 5, 'a'), -1))).toMatchObject({ errorCode: 0, baseOffset: 10 })
    expect((await second.appendBatches('t', 0, idempotent(0, 0, 5, 'a'), -1))).toMatchObject({ errorCode: 0, baseOffset: 0 })
    // A newer epoch fences the old one.
    expect((await second.appendBatches('t', 0, idempotent(1, 0, 2, 'b'), -1)).baseOffset).toBe(15)
    expect((await second.appendBatches('t', 0, idempotent(0, 15, 1, 'a'), -1)).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH)
    const values = (await readAllRecords(second, 't', 0)).map((r) => r.value?.toString())
    expect(values).toEqual([...Array.from({ length: 15 }, (_, i) => `a-${i}`), 'b-0', 'b-1'])
  })
})

describe('partition engine: producer-state snapshots on roll', () => {
  it('snapshots at each segment roll and still detects retries after a crash', async () => {
    const dataDir = fixture.dir()
    const engine = fixture.engine({ dataDir, flush: 'always', maxWorkers: 1, partitionWorkerModule: CRASHABLE_PARTITION_WORKER })
    await engine.openPartition('t', 0, { segmentBytes: 600 })
    for (let seq = 0; seq < 60; seq += 3) {
      expect((await engine.appendBatches('t', 0, idempotent(0, seq, 3, 'r'), -1)).baseOffset).toBe(seq)
    }
    const snapshots = readdirSync(join(dataDir, 't-0')).filter((name) => name.endsWith('.snapshot'))
    expect(snapshots.length).toBe(1)
    expect(Number(snapshots[0].slice(0, -'.snapshot'.length))).toBeGreaterThan(0)
    await crashPartitionWorker(engine, dataDir, 0, 'exit')
    await engine.whenReady('t', 0)
    for (let seq = 45; seq < 60; seq += 3) {
      expect(await engine.appendBatches('t', 0, idempotent(0, seq, 3, 'r'), -1)).toMatchObject({ errorCode: 0, baseOffset: seq })
    }
    expect(engine.offsets('t', 0)!.logEndOffset).toBe(60)
    expect((await engine.appendBatches('t', 0, idempotent(0, 61, 1, 'r'), -1)).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
  })
})

describe('partition engine: worker crashes', () => {
  for (const mode of ['exit', 'throw'] as const) {
    it(`fails pending callers and recovers every acknowledged record when a worker dies (${mode})`, async () => {
      const dataDir = fixture.dir()
      const engine = fixture.engine({ dataDir, flush: 'always', maxWorkers: 2, partitionWorkerModule: CRASHABLE_PARTITION_WORKER })
      const errors: Error[] = []
      engine.on('error', (error: Error) => errors.push(error))
      await engine.openPartition('t', 0)
      await engine.openPartition('t', 1)
      const victim = engine.ownerOf('t', 0)!
      const acked: { baseOffset: number; values: string[] }[] = []
      const failures: unknown[] = []
      let inFlight = 0
      const send = (i: number): Promise<void> => {
        const values = [`v${i}-a`, `v${i}-b`]
        inFlight++
        return engine.appendRecords('t', 0, values.map((value) => ({ value })), { acks: -1, compression: 0 }).then(
          (r) => { if (r.errorCode === 0) acked.push({ baseOffset: r.baseOffset, values }) },
          (error: unknown) => { failures.push(error) },
        ).finally(() => { inFlight-- })
      }
      // Keep about 40 appends queued in the victim's ring until it dies: whichever it has not
      // answered when it goes can never be answered by the dead thread.
      const calls: Promise<void>[] = []
      let crashed = false
      const crash = crashPartitionWorker(engine, dataDir, victim, mode).then(() => { crashed = true })
      for (let i = 0; !crashed && i < 100_000; i++) {
        calls.push(send(i))
        if (inFlight >= 40) await new Promise((resolve) => setImmediate(resolve))
      }
      await crash
      await Promise.all(calls)
      expect(failures.length).toBeGreaterThan(0)
      for (const failure of failures) {
        expect(failure).toBeInstanceOf(RinglogError)
        expect((failure as RinglogError).code).toBe(ErrorCode.KAFKA_STORAGE_ERROR)
      }
      expect(errors.length).toBeGreaterThan(0)
      await engine.whenReady('t', 0)
      const stats = await engine.stats()
      expect(stats.workerRestarts).toBe(1)
      expect(stats.perPartition.find((p) => p.partition === 0)!.recovered).toBe(true)
      const stored = new Map((await readAllRecords(engine, 't', 0)).map((r) => [r.offset, r.value?.toString()]))
      for (const { baseOffset, values } of acked) {
        values.forEach((value, i) => expect(stored.get(baseOffset + i)).toBe(value))
      }
      // The partition takes appends again, after everything that survived.
      const again = await engine.appendRecords('t', 0, [{ value: 'after' }], { acks: -1, compression: 0 })
      expect(again.errorCode).toBe(0)
      expect(again.baseOffset).toBe(stored.size)
      // The other worker's partition was not disturbed.
      expect((await engine.appendRecords('t', 1, [{ value: 'x' }], { acks: 1, compression: 0 })).errorCode).toBe(0)
    })
  }
})

describe('partition engine: shutdown and start-up recovery', () => {
  it('needs no recovery scan after a clean close, and recovers on the piscina pool after an unclean one', async () => {
    const dataDir = fixture.dir()
    const first = fixture.engine({ dataDir, flush: 'never', maxWorkers: 2 })
    for (let p = 0; p < 3; p++) {
      await first.openPartition('t', p)
      await first.appendRecords('t', p, Array.from({ length: 500 }, (_, i) => ({ value: `p${p}-${i}` })), { acks: 1, compression: 3 })
    }
    await first.close()

    const clean = fixture.engine({ dataDir, flush: 'never', maxWorkers: 2 })
    await clean.openPartitions([0, 1, 2].map((partition) => ({ topic: 't', partition })))
    const cleanStats = await clean.stats()
    expect(cleanStats.recoveredByPool).toBe(0)
    expect(cleanStats.perPartition.map((p) => p.recovered)).toEqual([false, false, false])
    expect(clean.offsets('t', 2)!.logEndOffset).toBe(500)
    await clean.close()

    // Pretend partitions 0 and 2 were not shut down cleanly.
    rmSync(join(dataDir, 't-0', CLEAN_SHUTDOWN_MARKER))
    rmSync(join(dataDir, 't-2', CLEAN_SHUTDOWN_MARKER))
    const unclean = fixture.engine({ dataDir, flush: 'never', maxWorkers: 2, recoveryThreads: 1 })
    await unclean.openPartitions([0, 1, 2].map((partition) => ({ topic: 't', partition })))
    const stats = await unclean.stats()
    expect(stats.recoveredByPool).toBe(2)
    // The pool left them clean, so the workers' opens did not scan again.
    expect(stats.perPartition.map((p) => p.recovered)).toEqual([false, false, false])
    for (let p = 0; p < 3; p++) {
      const records = await readAllRecords(unclean, 't', p)
      expect(records.map((r) => r.value?.toString())).toEqual(Array.from({ length: 500 }, (_, i) => `p${p}-${i}`))
    }
  })
})
