/**
 * Child process for log-kill.test.ts: appends to a PartitionLog with flush 'always' until it is
 * killed, printing `baseOffset sha256` for every batch once it is durable (acknowledged).
 * Run as: node --import tsx test/crash/log-kill-child.ts <partition-dir> <seed>
 */
import { createHash } from 'node:crypto'
import { encodeRecordBatch } from '../../src/protocol/record-batch.js'
import { PartitionLog } from '../../src/storage/partition-log.js'

const [dir, seedArg] = process.argv.slice(2)
if (!dir) throw new Error('usage: log-kill-child.ts <partition-dir> <seed>')
let seed = Number(seedArg ?? 1) >>> 0 || 1
const random = (): number => {
  seed ^= seed << 13; seed >>>= 0
  seed ^= seed >>> 17
  seed ^= seed << 5; seed >>>= 0
  return seed / 4294967296
}

// Safety net: the parent kills us long before this.
setTimeout(() => process.exit(3), 30_000).unref()

const log = await PartitionLog.open(dir, { flush: 'always', segmentBytes: 64 * 1024, indexIntervalBytes: 1024 })
process.stdout.write('ready\n')
for (;;) {
  for (let i = 0; i < 8; i++) {
    const records = Array.from({ length: 1 + Math.floor(random() * 10) }, () => ({ value: Buffer.alloc(20 + Math.floor(random() * 400), Math.floor(random() * 256)) }))
    const batch = encodeRecordBatch({ records })
    const r = log.append(batch, { leaderEpoch: 1 })
    const hash = createHash('sha256').update(batch).digest('hex')
    log.whenDurable(r.lastOffset).then(
      () => { process.stdout.write(`${r.baseOffset} ${hash}\n`) },
      (error: unknown) => { process.stderr.write(`durability failed: ${String(error)}\n`); process.exit(2) },
    )
  }
  await new Promise((resolve) => setImmediate(resolve))
}
