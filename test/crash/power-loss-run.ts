/**
 * One simulated power loss of a PartitionLog, checked: a seeded producer appends batches
 * (small segments, so rolls, index writes, leader-epoch and recovery-point checkpoints happen,
 * and now and then a clean close and reopen), the power fails at a chosen op
 * (power-loss-fs.ts), and the durable image is reopened with the real fs. The log must open, hold exactly a prefix of what was appended,
 * byte for byte, and that prefix must reach every batch the policy promised: under 'always'
 * each acknowledged one, under every policy everything below the last completed flush.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FlushPolicy } from '../../src/config.js'
import { PartitionLog } from '../../src/storage/partition-log.js'
import { seededRandom } from '../seed.js'
import { testBatch } from '../storage/log-test-helpers.js'
import { PowerLossFs } from './power-loss-fs.js'

export const SEGMENT_BYTES = 1024

interface Appended { baseOffset: number; lastOffset: number; bytes: Buffer }

export interface RunOutcome {
  /** Ops the run made (with no crash: its whole length). */
  ops: number
  crashed: boolean
  appended: Appended[]
  /** Batches acknowledged before the crash (indexes into appended). */
  acknowledged: number
  /** Offset below which a completed flush covered everything before the crash. */
  durableEnd: number
}

/** Runs the seeded workload on a fresh simulated disk, crashing at `crashAtOp` (Infinity: never). */
export async function runWorkload(root: string, flush: FlushPolicy, workloadSeed: number, crashAtOp: number, tear: boolean): Promise<RunOutcome> {
  const random = seededRandom(workloadSeed)
  const disk = new PowerLossFs(root, { crashAtOp, imageDir: `${root}.image`, tearLastWrite: tear, randomInt: random.int })
  const appended: Appended[] = []
  const pending: Promise<unknown>[] = []
  let acknowledged = 0
  let durableEnd = 0
  let log: PartitionLog | undefined
  const openLog = async (): Promise<PartitionLog> => {
    const opened = await PartitionLog.open(join(root, 'topic-0'), { segmentBytes: SEGMENT_BYTES, flush }, { fs: disk.fs })
    opened.onDurable((end) => { if (!disk.crashed) durableEnd = Math.max(durableEnd, end) })
    return opened
  }
  try {
    log = await openLog()
    let epoch = 0
    const batches = 40 + random.int(40)
    for (let i = 0; i < batches && !disk.crashed; i++) {
      // Now and then a clean close and reopen: the clean-shutdown marker and the saved indexes get crashed into too.
      if (random.int(20) === 0) {
        await log.close()
        log = await openLog()
      }
      if (random.int(10) === 0) epoch++
      const batch = testBatch(i, 1 + random.int(4), undefined, random.int(200))
      const { baseOffset, lastOffset } = log.append(batch, { leaderEpoch: epoch })
      const index = appended.push({ baseOffset, lastOffset, bytes: Buffer.from(batch) }) - 1
      // Acknowledgements arrive in order: counting them is enough to know which ones.
      const ack = log.whenAcknowledged(lastOffset).then(() => { if (!disk.crashed) acknowledged = Math.max(acknowledged, index + 1) })
      // Handled now: acknowledgements fail together at the crash while the loop awaits another.
      ack.catch(() => undefined)
      pending.push(ack)
      const pause = random.int(3)
      if (pause === 0) await ack
      else if (pause === 1) await new Promise((r) => setImmediate(r))
    }
    if (!disk.crashed) await log.flush()
  } catch (error) {
    if (!disk.crashed) throw error
  }
  await Promise.allSettled(pending)
  await log?.close().catch((error: unknown) => { if (!disk.crashed) throw error })
  return { ops: disk.ops, crashed: disk.crashed, appended, acknowledged, durableEnd }
}

/** Reopens the crash image with node:fs and checks it against what the run promised; returns the batches found. */
export async function checkImage(imageDir: string, flush: FlushPolicy, run: RunOutcome): Promise<number> {
  const log = await PartitionLog.open(join(imageDir, 'topic-0'), { segmentBytes: SEGMENT_BYTES, flush })
  try {
    const found: Buffer[] = []
    let offset = log.logStartOffset
    if (offset !== 0) throw new Error(`log start moved to ${offset}`)
    for (let reads = 0; offset < log.logEndOffset; reads++) {
      if (reads > 10_000) throw new Error('read loop did not advance')
      const slice = log.read(offset, 1 << 20, { maxOffset: log.logEndOffset })
      if (slice.length === 0) throw new Error(`nothing readable at ${offset} below the log end ${log.logEndOffset}`)
      const bytes = log.readBytes(slice)
      for (let at = 0; at < bytes.length;) {
        const size = bytes.readInt32BE(at + 8) + 12
        found.push(bytes.subarray(at, at + size))
        at += size
      }
      offset = slice.nextOffset
    }
    for (let i = 0; i < found.length; i++) {
      const expected = run.appended[i]
      if (!expected) throw new Error(`batch ${i} in the recovered log was never appended`)
      if (!found[i].equals(expected.bytes)) throw new Error(`batch ${i} (offset ${expected.baseOffset}) differs from what was appended`)
    }
    const recoveredEnd = found.length === 0 ? 0 : run.appended[found.length - 1].lastOffset + 1
    if (recoveredEnd !== log.logEndOffset) throw new Error(`log end ${log.logEndOffset} but batches end at ${recoveredEnd}`)
    if (found.length < run.acknowledged && flush === 'always') {
      throw new Error(`acknowledged batch ${found.length} (offset ${run.appended[found.length].baseOffset}) lost; ${run.acknowledged} were acknowledged`)
    }
    if (recoveredEnd < run.durableEnd) throw new Error(`flushed data lost: log ends at ${recoveredEnd}, a completed flush covered up to ${run.durableEnd}`)
    return found.length
  } finally {
    await log.close()
  }
}

/** RINGLOG_POWER_LOSSES, else `fallback`: power losses per flush policy. */
export function powerLossCount(fallback: number): number {
  const text = process.env.RINGLOG_POWER_LOSSES
  if (text === undefined || text === '') return fallback
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1) throw new Error(`RINGLOG_POWER_LOSSES must be a positive integer, got ${text}`)
  return n
}

export interface PowerLossStats { rounds: number; crashes: number; acknowledged: number; recovered: number }

/** `rounds` power losses at random ops, each on its own workload, all derived from `seed`. */
export async function powerLossRounds(seed: number, rounds: number, flush: FlushPolicy, tear: boolean): Promise<PowerLossStats> {
  const random = seededRandom(seed)
  const stats: PowerLossStats = { rounds, crashes: 0, acknowledged: 0, recovered: 0 }
  for (let round = 0; round < rounds; round++) {
    const workloadSeed = random.int(2 ** 32)
    const roundTear = tear && random.int(2) === 0
    const base = mkdtempSync(join(tmpdir(), 'ringlog-powerloss-'))
    try {
      // A dry run measures the workload's length, so crash points cover all of it.
      const dry = await runWorkload(mkdirIn(base, 'dry'), flush, workloadSeed, Number.POSITIVE_INFINITY, false)
      const crashAtOp = 1 + random.int(dry.ops + 1)
      const root = mkdirIn(base, 'disk')
      const run = await runWorkload(root, flush, workloadSeed, crashAtOp, roundTear)
      const where = `round ${round} (workload seed ${workloadSeed}, crash at op ${crashAtOp} of ${dry.ops}, tear ${roundTear})`
      if (run.crashed) stats.crashes++
      stats.acknowledged += run.acknowledged
      try {
        stats.recovered += await checkImage(run.crashed ? `${root}.image` : root, flush, run)
      } catch (error) {
        throw new Error(`${where}: ${error instanceof Error ? error.message : String(error)}`)
      }
    } finally {
      rmSync(base, { recursive: true, force: true })
    }
  }
  return stats
}

function mkdirIn(base: string, name: string): string {
  return mkdtempSync(join(base, `${name}-`))
}
