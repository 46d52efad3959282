import { readFileSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { RinglogError } from '../../src/errors.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { LEADER_EPOCH_CHECKPOINT } from '../../src/storage/file-names.js'
import {
  decodeLeaderEpochCheckpoint, encodeLeaderEpochCheckpoint, LeaderEpochCache, UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET,
} from '../../src/storage/leader-epochs.js'
import { nodeStorageFs, type StorageFs } from '../../src/storage/storage-fs.js'
import { tempPartitionDir } from './log-test-helpers.js'

const cleanups: (() => void)[] = []
afterEach(() => { for (const c of cleanups.splice(0)) c() })

function freshCache(fsi: StorageFs = nodeStorageFs): { cache: LeaderEpochCache; dir: string } {
  const { dir, cleanup } = tempPartitionDir()
  cleanups.push(cleanup)
  nodeStorageFs.mkdirSync(dir)
  const { cache, intact } = LeaderEpochCache.load(fsi, dir)
  expect(intact).toBe(false)
  return { cache, dir }
}

/** Entries (1,5) (3,10) (5,20): the cache most cases below start from. */
function threeEpochs(): { cache: LeaderEpochCache; dir: string } {
  const made = freshCache()
  made.cache.assign(1, 5)
  made.cache.assign(3, 10)
  made.cache.assign(5, 20)
  return made
}

describe('leader-epoch-checkpoint format', () => {
  it("writes Kafka's text format and reads it back", () => {
    const { cache, dir } = freshCache()
    cache.assign(0, 0)
    cache.assign(3, 10)
    expect(readFileSync(join(dir, LEADER_EPOCH_CHECKPOINT), 'utf8')).toBe('0\n2\n0 0\n3 10\n')
    const again = LeaderEpochCache.load(nodeStorageFs, dir)
    expect(again.intact).toBe(true)
    expect(again.cache.all).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 3, startOffset: 10 }])
    expect(decodeLeaderEpochCheckpoint(encodeLeaderEpochCheckpoint([]).toString())).toEqual([])
  })

  it('treats malformed or non-monotonic files as damaged', () => {
    for (const text of ['', '1\n0\n', '0\n2\n0 0\n', '0\n1\n0 0\n1 5\n', '0\n2\n3 10\n1 20\n', '0\n2\n1 10\n3 10\n', '0\n1\n-1 0\n', '0\n1\n1 x\n', 'garbage']) {
      expect(decodeLeaderEpochCheckpoint(text), JSON.stringify(text)).toBeUndefined()
    }
    const { dir } = freshCache()
    writeFileSync(join(dir, LEADER_EPOCH_CHECKPOINT), '0\n3\n1 5\n')
    const loaded = LeaderEpochCache.load(nodeStorageFs, dir)
    expect(loaded.intact).toBe(false)
    expect(loaded.cache.all).toEqual([])
  })

  it('keeps the old file when a write fails before its rename (atomic replace)', () => {
    let failRename = false
    const fsi: StorageFs = {
      ...nodeStorageFs,
      renameSync: (from, to) => {
        if (failRename) throw Object.assign(new Error('EIO: injected'), { code: 'EIO' })
        nodeStorageFs.renameSync(from, to)
      },
    }
    const { cache, dir } = freshCache(fsi)
    cache.assign(1, 0)
    failRename = true
    expect(() => cache.assign(2, 7)).toThrow(/EIO/)
    expect(cache.all).toEqual([{ epoch: 1, startOffset: 0 }])
    expect(readFileSync(join(dir, LEADER_EPOCH_CHECKPOINT), 'utf8')).toBe('0\n1\n1 0\n')
    expect(existsSync(join(dir, LEADER_EPOCH_CHECKPOINT + '.tmp'))).toBe(true)
  })
})

describe('LeaderEpochCache.assign', () => {
  it('records only increasing epochs; the same epoch keeps its first start offset', () => {
    const { cache } = freshCache()
    expect(cache.assign(2, 0)).toBe(true)
    expect(cache.assign(2, 15)).toBe(false)
    expect(cache.assign(4, 20)).toBe(true)
    expect(cache.all).toEqual([{ epoch: 2, startOffset: 0 }, { epoch: 4, startOffset: 20 }])
    let caught: unknown
    try { cache.assign(3, 30) } catch (error) { caught = error }
    expect(caught).toBeInstanceOf(RinglogError)
    expect((caught as RinglogError).code).toBe(ErrorCode.FENCED_LEADER_EPOCH)
    expect(() => cache.assign(-1, 30)).toThrow(RinglogError)
    expect(() => cache.assign(5, -1)).toThrow(RinglogError)
    expect(cache.latestEpoch).toBe(4)
  })

  it('replaces an epoch that wrote nothing (a newer epoch at the same start offset)', () => {
    const { cache } = freshCache()
    cache.assign(1, 0)
    cache.assign(2, 10)
    cache.assign(3, 10)
    expect(cache.all).toEqual([{ epoch: 1, startOffset: 0 }, { epoch: 3, startOffset: 10 }])
  })
})

describe('LeaderEpochCache.endOffsetFor (Kafka semantics)', () => {
  it('answers the log end offset for the latest epoch', () => {
    expect(threeEpochs().cache.endOffsetFor(5, 30)).toEqual({ leaderEpoch: 5, endOffset: 30 })
  })

  it('answers the start of the next epoch for an older known epoch', () => {
    const { cache } = threeEpochs()
    expect(cache.endOffsetFor(3, 30)).toEqual({ leaderEpoch: 3, endOffset: 20 })
    expect(cache.endOffsetFor(1, 30)).toEqual({ leaderEpoch: 1, endOffset: 10 })
  })

  it('answers the largest known epoch below an unknown one, with the next start', () => {
    const { cache } = threeEpochs()
    expect(cache.endOffsetFor(4, 30)).toEqual({ leaderEpoch: 3, endOffset: 20 })
    expect(cache.endOffsetFor(2, 30)).toEqual({ leaderEpoch: 1, endOffset: 10 })
  })

  it('answers the requested epoch and the first start offset for an epoch below every entry', () => {
    expect(threeEpochs().cache.endOffsetFor(0, 30)).toEqual({ leaderEpoch: 0, endOffset: 5 })
  })

  it('answers UNDEFINED for an epoch above the latest, for -1 and for an empty cache', () => {
    const undefinedAnswer = { leaderEpoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET }
    expect(threeEpochs().cache.endOffsetFor(6, 30)).toEqual(undefinedAnswer)
    expect(threeEpochs().cache.endOffsetFor(UNDEFINED_EPOCH, 30)).toEqual(undefinedAnswer)
    expect(freshCache().cache.endOffsetFor(0, 0)).toEqual(undefinedAnswer)
  })
})

describe('LeaderEpochCache truncation', () => {
  it('truncateFromEnd removes epochs starting at or after the new end, and persists it', () => {
    const { cache, dir } = threeEpochs()
    expect(cache.truncateFromEnd(21)).toBe(false)
    expect(cache.truncateFromEnd(20)).toBe(true)
    expect(cache.all.map((e) => e.epoch)).toEqual([1, 3])
    expect(cache.truncateFromEnd(7)).toBe(true)
    expect(cache.all).toEqual([{ epoch: 1, startOffset: 5 }])
    expect(LeaderEpochCache.load(nodeStorageFs, dir).cache.all).toEqual([{ epoch: 1, startOffset: 5 }])
    expect(cache.truncateFromEnd(0)).toBe(true)
    expect(cache.all).toEqual([])
  })

  it('truncateFromStart moves the covering epoch to the new start and drops older ones', () => {
    const { cache, dir } = threeEpochs()
    expect(cache.truncateFromStart(4)).toBe(false)
    expect(cache.truncateFromStart(5)).toBe(false)
    expect(cache.truncateFromStart(12)).toBe(true)
    expect(cache.all).toEqual([{ epoch: 3, startOffset: 12 }, { epoch: 5, startOffset: 20 }])
    expect(cache.truncateFromStart(20)).toBe(true)
    expect(cache.all).toEqual([{ epoch: 5, startOffset: 20 }])
    expect(LeaderEpochCache.load(nodeStorageFs, dir).cache.all).toEqual([{ epoch: 5, startOffset: 20 }])
  })

  it('epochForOffset finds the epoch that wrote an offset', () => {
    const { cache } = threeEpochs()
    expect([4, 5, 9, 10, 19, 20, 99].map((o) => cache.epochForOffset(o))).toEqual([-1, 1, 1, 3, 3, 5, 5])
  })
})
