/**
 * A roll that cannot get a file descriptor (issue 18 M5: it left the partition offline for
 * good): the append fails with KAFKA_STORAGE_ERROR, no new segment file is left behind, the
 * partition stays online, and the next append once descriptors are back rolls and succeeds.
 * EMFILE and ENFILE are injected on the StorageFs seam (opening a `.log` file).
 */
import { readdirSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { RinglogError } from '../../src/errors.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { PartitionLog } from '../../src/storage/partition-log.js'
import { nodeStorageFs, type StorageFs } from '../../src/storage/storage-fs.js'
import { tempPartitionDir, testBatch } from './log-test-helpers.js'

const cleanups: (() => void)[] = []
afterEach(() => { for (const c of cleanups.splice(0)) c() })

describe.each(['EMFILE', 'ENFILE'])('a roll that gets %s', (code) => {
  it('fails the append with KAFKA_STORAGE_ERROR, leaves no segment file, and recovers', async () => {
    const { dir, cleanup } = tempPartitionDir()
    cleanups.push(cleanup)
    let failOpen = false
    const fs: StorageFs = {
      ...nodeStorageFs,
      openSync: (path, flags) => {
        if (failOpen && path.endsWith('.log')) throw Object.assign(new Error(`${code}: injected`), { code })
        return nodeStorageFs.openSync(path, flags)
      },
    }
    const log = await PartitionLog.open(dir, { segmentBytes: 256 }, { fs })
    cleanups.unshift(() => { void log.close().catch(() => undefined) })
    let next = 0
    next = log.append(testBatch(next, 2), { leaderEpoch: 0 }).lastOffset + 1
    next = log.append(testBatch(next, 2), { leaderEpoch: 0 }).lastOffset + 1
    const logFiles = (): string[] => readdirSync(dir).filter((f) => f.endsWith('.log')).sort()
    // Fill the active segment until the next append must roll (bounded).
    const segments = log.segmentCount
    failOpen = true
    let refused: unknown
    for (let i = 0; i < 100 && refused === undefined; i++) {
      try {
        next = log.append(testBatch(next, 2), { leaderEpoch: 0 }).lastOffset + 1
      } catch (error) {
        refused = error
      }
    }
    expect(refused).toBeInstanceOf(RinglogError)
    expect((refused as RinglogError).code).toBe(ErrorCode.KAFKA_STORAGE_ERROR)
    expect((refused as Error).message).toContain(code)
    expect(log.isOffline).toBe(false)
    expect(log.segmentCount).toBe(segments)
    const filesWhileRefused = logFiles()
    expect(filesWhileRefused.length).toBe(segments)
    expect(log.logEndOffset).toBe(next)

    failOpen = false
    const appended = log.append(testBatch(next, 2), { leaderEpoch: 0 })
    expect(appended.baseOffset).toBe(next)
    expect(log.segmentCount).toBe(segments + 1)
    expect(logFiles().length).toBe(segments + 1)
    // Everything acknowledged is readable, from offset 0.
    let offset = 0
    for (let i = 0; i < 100 && offset < log.logEndOffset; i++) {
      const slice = log.read(offset, 1 << 20, { maxOffset: log.logEndOffset })
      if (slice.length === 0) break
      offset = slice.nextOffset
    }
    expect(offset).toBe(appended.lastOffset + 1)
  })
})
