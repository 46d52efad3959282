/**
 * Child for embedded-kill.test.ts: opens the log with flush 'always', then sends records as
 * fast as it can from a few concurrent loops and prints one line per acknowledged record,
 * `ack <partition> <offset> <value>`, only after producer.send resolved (stdout to a pipe is
 * synchronous on Linux, so a printed line was acknowledged before any later kill).
 * Records are keyed (partition = murmur2 of the key) or carry an explicit partition, so the
 * child knows each record's partition; within a partition the n-th record of a send gets
 * baseOffset + n.
 * argv: dataDir round
 */
import { open, partitionForKey } from '../../src/index.js'

const PARTITIONS = 3
const [dataDir, round] = process.argv.slice(2)
const log = await open({ dataDir, flush: 'always', maxWorkers: 2 })
await log.admin().createTopics({ topics: [{ topic: 'crash', numPartitions: PARTITIONS }] })
const producer = log.producer({ acks: -1, compression: Number(round) % 2 === 0 ? 'lz4' : 'none' })
process.stdout.write('ready\n')

let seq = 0
async function sendLoop(loop: number): Promise<void> {
  for (;;) {
    const size = 1 + ((seq * 7 + loop) % 40)
    const batch = Array.from({ length: size }, () => {
      const id = seq++
      const value = `r${round}-${id}-${'z'.repeat(id % 30)}`
      if (id % 2 === 0) {
        const key = `k${id % 13}`
        return { message: { key, value }, partition: partitionForKey(Buffer.from(key), PARTITIONS) }
      }
      const partition = id % PARTITIONS
      return { message: { value, partition }, partition }
    })
    const meta = await producer.send({ topic: 'crash', messages: batch.map((b) => b.message) })
    const next = new Map(meta.map((m) => [m.partition, Number(m.baseOffset)]))
    const lines = batch.map(({ message, partition }) => {
      const offset = next.get(partition)!
      next.set(partition, offset + 1)
      return `ack ${partition} ${offset} ${message.value}`
    })
    process.stdout.write(lines.join('\n') + '\n')
  }
}

await Promise.all([0, 1, 2, 3].map(sendLoop))
