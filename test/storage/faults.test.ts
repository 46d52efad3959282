import { statSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { DiskFullError, StorageOfflineError } from '../../src/errors.js'
import { PartitionLog } from '../../src/storage/partition-log.js'
import type { LogConfig } from '../../src/storage/log-config.js'
import { RECOVERY_POINT_CHECKPOINT, TEMP_SUFFIX } from '../../src/storage/file-names.js'
import { readOffsetCheckpoint } from '../../src/storage/checkpoints.js'
import { nodeStorageFs, type StorageFs } from '../../src/storage/storage-fs.js'
import { tempPartitionDir, testBatch } from './log-test-helpers.js'

const cleanups: (() => void)[] = []
afterEach(() => { for (const c of cleanups.splice(0)) c() })

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected`), { code })
}

/** node:fs with switchable faults, and manual control over when fdatasync completes. */
class FaultyFs {
  /** When set, the next segment-log write stores half its bytes, then every write fails with this code. */
  writeFailure: string | undefined
  openFailure: string | undefined
  /** When set, writes to checkpoint temp files (`*.tmp`) fail with this code (a disk full at a checkpoint). */
  checkpointWriteFailure: string | undefined
  private readonly tempFds = new Set<number>()
  fdatasyncFailure: string | undefined
  holdFdatasync = false
  readonly held: (() => void)[] = []
  fdatasyncCalls = 0
  readonly fs: StorageFs

  constructor() {
    let shortWriteDone = false
    this.fs = {
      ...nodeStorageFs,
      openSync: (path, flags) => {
        if (this.openFailure && path.endsWith('.log')) throw errno(this.openFailure)
        const fd = nodeStorageFs.openSync(path, flags)
        if (path.endsWith(TEMP_SUFFIX)) this.tempFds.add(fd)
        return fd
      },
      closeSync: (fd) => {
        this.tempFds.delete(fd)
        nodeStorageFs.closeSync(fd)
      },
      writeSync: (fd, buffer, offset, length, position) => {
        if (this.checkpointWriteFailure && this.tempFds.has(fd)) throw errno(this.checkpointWriteFailure)
        if (this.writeFailure) {
          if (!shortWriteDone && length > 1) {
            shortWriteDone = true
            return nodeStorageFs.writeSync(fd, buffer, offset, length >> 1, position)
          }
          throw errno(this.writeFailure)
        }
        shortWriteDone = false
        return nodeStorageFs.writeSync(fd, buffer, offset, length, position)
      },
      fdatasync: (fd, callback) => {
        this.fdatasyncCalls++
        const run = (): void => {
          if (this.fdatasyncFailure) { callback(errno(this.fdatasyncFailure)); return }
          nodeStorageFs.fdatasync(fd, callback)
        }
        if (this.holdFdatasync) this.held.push(run)
        else run()
      },
    }
  }

  releaseHeld(): void { for (const run of this.held.splice(0)) run() }
}

async function openFaulty(config: Partial<LogConfig> = {}): Promise<{ log: PartitionLog; faults: FaultyFs; dir: string }> {
  const { dir, cleanup } = tempPartitionDir()
  cleanups.push(cleanup)
  const faults = new FaultyFs()
  const log = await PartitionLog.open(dir, { segmentBytes: 4096, ...config }, { fs: faults.fs })
  cleanups.unshift(() => { void log.close().catch(() => undefined) })
  return { log, faults, dir }
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 20))

/** Waits for something the code under test will do (bounded: 2000 turns of 5 ms), however loaded the machine. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000 && !condition(); i++) await new Promise((r) => setTimeout(r, 5))
  if (!condition()) throw new Error(`gave up waiting for ${what}`)
}

describe('storage faults', () => {
  it('refuses an append on ENOSPC, removes the partial write and stays readable and writable', async () => {
    const { log, faults, dir } = await openFaulty()
    log.append(testBatch(1), { leaderEpoch: 0 })
    const file = `${dir}/${'0'.repeat(20)}.log`
    const sizeBefore = statSync(file).size
    faults.writeFailure = 'ENOSPC'
    expect(() => log.append(testBatch(2, 5), { leaderEpoch: 0 })).toThrow(DiskFullError)
    expect(statSync(file).size).toBe(sizeBefore)
    expect(log.logEndOffset).toBe(1)
    expect(log.readBytes(log.read(0, 1000)).length).toBe(sizeBefore)
    faults.writeFailure = undefined
    expect(log.append(testBatch(3), { leaderEpoch: 0 }).baseOffset).toBe(1)
    await log.close()
    const reopened = await PartitionLog.open(dir, { segmentBytes: 4096 })
    expect(reopened.logEndOffset).toBe(2)
    await reopened.close()
  })

  it('refuses an append with DiskFullError when the new segment cannot be created', async () => {
    const { log, faults } = await openFaulty({ segmentBytes: 256 })
    log.append(testBatch(1, 2), { leaderEpoch: 0 })
    log.append(testBatch(2, 2), { leaderEpoch: 0 })
    faults.openFailure = 'ENOSPC'
    expect(() => log.append(testBatch(3, 2), { leaderEpoch: 0 })).toThrow(DiskFullError)
    faults.openFailure = undefined
    expect(log.append(testBatch(4, 2), { leaderEpoch: 0 }).baseOffset).toBe(4)
    expect(log.segmentCount).toBe(2)
  })

  it('stays online when the recovery-point checkpoint cannot be written at a roll (ENOSPC), and writes it once space is back (H3)', async () => {
    const { log, faults, dir } = await openFaulty({ segmentBytes: 256 })
    const checkpoint = (): number | undefined => readOffsetCheckpoint(nodeStorageFs, `${dir}/${RECOVERY_POINT_CHECKPOINT}`)?.[0]?.offset
    // The first append records leader epoch 0 in its own checkpoint, which must be durable before
    // any batch of that epoch (a failure there refuses the append): do it before the fault.
    let next = log.append(testBatch(0, 2), { leaderEpoch: 0 }).lastOffset + 1
    faults.checkpointWriteFailure = 'ENOSPC'
    const appendUntilRoll = async (): Promise<void> => {
      const segments = log.segmentCount
      for (let i = 0; i < 100 && log.segmentCount === segments; i++) next = log.append(testBatch(next, 2), { leaderEpoch: 0 }).lastOffset + 1
      expect(log.segmentCount).toBe(segments + 1)
      // The recovery point moves once the rolled segment's flush completes.
      await log.flush()
      await settle()
    }
    await appendUntilRoll()
    expect(log.isOffline).toBe(false)
    expect(log.checkpointFailure).toBe('ENOSPC')
    expect(checkpoint()).toBe(0)
    // Appends and reads go on; what the checkpoint would have said only makes recovery longer.
    next = log.append(testBatch(next, 2), { leaderEpoch: 0 }).lastOffset + 1
    expect(log.readBytes(log.read(0, 100_000)).length).toBeGreaterThan(0)
    faults.checkpointWriteFailure = undefined
    await appendUntilRoll()
    expect(log.checkpointFailure).toBeUndefined()
    expect(checkpoint()).toBeGreaterThan(0)
    await log.close()
    const reopened = await PartitionLog.open(dir, { segmentBytes: 256 })
    expect(reopened.logEndOffset).toBe(next)
    await reopened.close()
  })

  it('opens a log whose checkpoints cannot be rewritten (ENOSPC) (H3)', async () => {
    const { log, dir } = await openFaulty({ segmentBytes: 256 })
    log.append(testBatch(0, 2), { leaderEpoch: 0 })
    await log.close()
    const faults = new FaultyFs()
    faults.checkpointWriteFailure = 'ENOSPC'
    const reopened = await PartitionLog.open(dir, { segmentBytes: 256 }, { fs: faults.fs })
    expect(reopened.logEndOffset).toBe(2)
    expect(reopened.append(testBatch(1, 2), { leaderEpoch: 0 }).baseOffset).toBe(2)
    await reopened.close().catch(() => undefined)
  })

  it('takes the partition offline on a write I/O error', async () => {
    const { log, faults } = await openFaulty()
    // The partition's runtime listens, to void file positions other threads remember (follower read cursors).
    let offlineCalls = 0
    log.onOffline(() => offlineCalls++)
    log.append(testBatch(1), { leaderEpoch: 0 })
    expect(offlineCalls).toBe(0)
    faults.writeFailure = 'EIO'
    expect(() => log.append(testBatch(2), { leaderEpoch: 0 })).toThrow(StorageOfflineError)
    faults.writeFailure = undefined
    expect(log.isOffline).toBe(true)
    expect(offlineCalls).toBe(1)
    expect(() => log.append(testBatch(3), { leaderEpoch: 0 })).toThrow(StorageOfflineError)
    expect(() => log.read(0, 100)).toThrow(StorageOfflineError)
    expect(offlineCalls).toBe(1)
  })

  it('takes the partition offline when fdatasync fails and never acknowledges the writes', async () => {
    const { log, faults } = await openFaulty({ flush: 'always' })
    faults.fdatasyncFailure = 'EIO'
    const r = log.append(testBatch(1), { leaderEpoch: 0 })
    await expect(log.whenAcknowledged(r.lastOffset)).rejects.toBeInstanceOf(StorageOfflineError)
    expect(log.highWatermark).toBe(0)
    expect(() => log.append(testBatch(2), { leaderEpoch: 0 })).toThrow(StorageOfflineError)
    expect(() => log.read(0, 100)).toThrow(StorageOfflineError)
  })
})

describe('group commit', () => {
  it("covers everything appended during a running fdatasync with one more fdatasync ('always')", async () => {
    const { log, faults } = await openFaulty({ flush: 'always', segmentBytes: 1 << 20 })
    faults.holdFdatasync = true
    const first = log.append(testBatch(0), { leaderEpoch: 0 })
    const acked: number[] = []
    void log.whenDurable(first.lastOffset).then(() => acked.push(first.lastOffset))
    await until(() => faults.fdatasyncCalls === 1, 'the first fdatasync')
    // Intake continues while the flush runs.
    for (let i = 1; i <= 10; i++) {
      const r = log.append(testBatch(i), { leaderEpoch: 0 })
      void log.whenDurable(r.lastOffset).then(() => acked.push(r.lastOffset))
    }
    await settle()
    expect(faults.fdatasyncCalls).toBe(1)
    expect(acked).toEqual([])
    expect(log.highWatermark).toBe(0)
    faults.releaseHeld()
    await until(() => acked.length > 0, 'the first acknowledgement')
    expect(acked).toEqual([0])
    expect(log.highWatermark).toBe(1)
    await until(() => faults.fdatasyncCalls === 2, 'the second fdatasync')
    faults.releaseHeld()
    await until(() => acked.length === 11, 'all 11 acknowledgements')
    expect(acked).toEqual(Array.from({ length: 11 }, (_, i) => i))
    expect(log.highWatermark).toBe(11)
    expect(faults.fdatasyncCalls).toBe(2)
  })

  it('flushes within the interval and only when something was written ({ intervalMs })', async () => {
    const { log, faults } = await openFaulty({ flush: { intervalMs: 5 } })
    await settle()
    expect(faults.fdatasyncCalls).toBe(0)
    const r = log.append(testBatch(0), { leaderEpoch: 0 })
    expect(log.highWatermark).toBe(1)
    await log.whenAcknowledged(r.lastOffset)
    await log.whenDurable(r.lastOffset)
    expect(faults.fdatasyncCalls).toBe(1)
    expect(log.flushedOffset).toBe(1)
  })

  it("flushes only on demand under 'never'", async () => {
    const { log, faults } = await openFaulty({ flush: 'never' })
    const r = log.append(testBatch(0), { leaderEpoch: 0 })
    await settle()
    expect(faults.fdatasyncCalls).toBe(0)
    expect(log.flushedOffset).toBe(0)
    expect(log.highWatermark).toBe(1)
    await log.flush()
    await log.whenDurable(r.lastOffset)
    expect(faults.fdatasyncCalls).toBe(1)
  })
})
