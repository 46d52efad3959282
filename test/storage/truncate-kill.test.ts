/**
 * kill -9 of a process that truncates and appends in a loop (truncate-kill-child.ts): after
 * every kill the log reopens consistent (contiguous offsets, every batch's CRC intact, the
 * leader-epoch cache equal to what the batches' epochs imply, every offset found through the
 * indexes) and takes truncations and appends again. The deterministic counterpart, a crash at
 * each file-system call of one truncation, is in log-replication.test.ts.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { childScriptArgv } from '../node-argv.js'
import { testSeed } from '../seed.js'
import { encodeRecordBatch, readInt64, splitBatches, validateBatch } from '../../src/protocol/record-batch.js'
import { PartitionLog } from '../../src/storage/partition-log.js'
import { tempPartitionDir } from './log-test-helpers.js'

const child = fileURLToPath(new URL('./truncate-kill-child.ts', import.meta.url))
const ROUNDS = Number(process.env.RINGLOG_KILL_ROUNDS ?? 6)
const SEED = testSeed()
console.log(`truncate-kill seed=${SEED} (replay: RINGLOG_SEED=${SEED})`)

/** Runs the child and SIGKILLs it `killAfterMs` after it is ready, or after its `cuts`-th truncation; resolves with how many it made. */
function runAndKill(dir: string, seed: number, killAfterMs: number, cuts: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, childScriptArgv(child, [dir, String(seed)]), { stdio: ['ignore', 'pipe', 'pipe'] })
    let buffered = ''
    let stderr = ''
    let seen = 0
    let killTimer: NodeJS.Timeout | undefined
    const safety = setTimeout(() => proc.kill('SIGKILL'), 60_000)
    proc.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      const lines = buffered.split('\n')
      buffered = lines.pop()!
      for (const line of lines) {
        if (line === 'ready') killTimer = setTimeout(() => proc.kill('SIGKILL'), killAfterMs)
        else if (line.startsWith('cut ') && ++seen === cuts) proc.kill('SIGKILL')
      }
    })
    proc.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    proc.on('error', reject)
    proc.on('exit', (_code, signal) => {
      clearTimeout(safety)
      if (killTimer) clearTimeout(killTimer)
      if (signal !== 'SIGKILL') reject(new Error(`child ended without being killed (signal ${signal}): ${stderr}`))
      else resolve(seen)
    })
  })
}

/** Reopens the log and checks that it is consistent; returns its end offset. */
async function checkConsistent(dir: string): Promise<number> {
  const log = await PartitionLog.open(dir, { flush: 'never', segmentBytes: 4096, indexIntervalBytes: 256 })
  try {
    const implied: { epoch: number; startOffset: number }[] = []
    let expected = log.logStartOffset
    for (let guard = 0; guard < 100_000 && expected < log.logEndOffset; guard++) {
      const slice = log.read(expected, 64 * 1024, { maxOffset: log.logEndOffset })
      expect(slice.length).toBeGreaterThan(0)
      const bytes = log.readBytes(slice)
      const { batches, trailingBytes } = splitBatches(bytes)
      expect(trailingBytes).toBe(0)
      for (const b of batches) {
        validateBatch(bytes, b.offset, b.offset + b.size)
        const base = readInt64(bytes, b.offset)
        expect(base === expected || (base < expected && expected === log.logStartOffset)).toBe(true)
        const epoch = bytes.readInt32BE(b.offset + 12)
        const latest = implied[implied.length - 1]
        expect(epoch).toBeGreaterThanOrEqual(latest?.epoch ?? 0)
        if (!latest || epoch > latest.epoch) implied.push({ epoch, startOffset: Math.max(base, log.logStartOffset) })
        expected = base + bytes.readInt32BE(b.offset + 23) + 1
      }
    }
    expect(expected).toBe(log.logEndOffset)
    expect(log.leaderEpochEntries).toEqual(implied)
    for (let o = log.logStartOffset; o < log.logEndOffset; o += 7) expect(log.read(o, 1, { maxOffset: log.logEndOffset }).length).toBeGreaterThan(0)
    // It works as a log again: a cut, a new epoch's append, and the cache follows.
    const end = log.logEndOffset
    log.truncateTo(Math.floor(end / 2))
    expect(log.leaderEpochEntries).toEqual(implied.filter((e) => e.startOffset < log.logEndOffset))
    log.append(encodeRecordBatch({ records: [{ value: 'after' }] }), { leaderEpoch: log.latestEpoch + 1 })
    expect(log.leaderEpochEntries.at(-1)?.startOffset).toBe(log.logEndOffset - 1)
    return end
  } finally {
    await log.close()
  }
}

describe('truncation under SIGKILL', () => {
  const { dir, cleanup } = tempPartitionDir()
  afterAll(cleanup)

  it(`reopens consistent after ${ROUNDS} kills of a truncating, appending process`, async () => {
    let cuts = 0
    for (let round = 0; round < ROUNDS; round++) {
      const seed = SEED * 31 + round
      // Half the rounds die right after a truncation was reported, half at a random time.
      const killAfterMs = round % 2 === 0 ? 20_000 : 20 + (seed % 300)
      cuts += await runAndKill(dir, seed, killAfterMs, round % 2 === 0 ? 1 + (seed % 25) : Number.POSITIVE_INFINITY)
      await checkConsistent(dir)
    }
    // Every other round dies only after at least one reported truncation.
    expect(cuts).toBeGreaterThanOrEqual(Math.floor(ROUNDS / 2))
  })
})
