/**
 * Child process for truncate-kill.test.ts: a follower-like log that keeps appending under a
 * growing leader epoch and truncating at random offsets (each truncation followed by a new
 * epoch, as after a leader change) until it is killed with SIGKILL.
 * Run as: node --import tsx test/storage/truncate-kill-child.ts <partition-dir> <seed>
 */
import { encodeRecordBatch } from '../../src/protocol/record-batch.js'
import { PartitionLog } from '../../src/storage/partition-log.js'

const [dir, seedArg] = process.argv.slice(2)
if (!dir) throw new Error('usage: truncate-kill-child.ts <partition-dir> <seed>')
let seed = Number(seedArg ?? 1) >>> 0 || 1
const random = (): number => {
  seed ^= seed << 13; seed >>>= 0
  seed ^= seed >>> 17
  seed ^= seed << 5; seed >>>= 0
  return seed / 4294967296
}

// Safety net: the parent kills us long before this.
setTimeout(() => process.exit(3), 120_000).unref()

const log = await PartitionLog.open(dir, { flush: 'never', segmentBytes: 4096, indexIntervalBytes: 256 })
let epoch = Math.max(0, log.latestEpoch)
process.stdout.write('ready\n')
for (let round = 0; round < 1_000_000; round++) {
  for (let i = 0; i < 1 + Math.floor(random() * 6); i++) {
    const records = Array.from({ length: 1 + Math.floor(random() * 4) }, () => ({ value: Buffer.alloc(10 + Math.floor(random() * 300), Math.floor(random() * 256)) }))
    log.append(encodeRecordBatch({ records }), { leaderEpoch: epoch })
  }
  if (random() < 0.4) {
    const from = log.logStartOffset
    log.truncateTo(from + Math.floor(random() * (log.logEndOffset - from + 1)))
    epoch++
    process.stdout.write(`cut ${log.logEndOffset}\n`)
  }
  if (round % 8 === 0) await new Promise((resolve) => setImmediate(resolve))
}
