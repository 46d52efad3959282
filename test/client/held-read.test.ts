/**
 * The embedded consumer reads through a descriptor its read holds (the wire side's H1 fix,
 * issue 18): a range located before its topic is deleted, and the descriptor numbers reused
 * by a new topic's segments, still yields the old file's bytes, never the new topic's. The
 * engine hands out no raw worker fd, and the consumer closes every descriptor it was given.
 */
import { readdirSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import type { Ringlog } from '../../src/index.js'
import { readHeldRange } from '../../src/client/segment-reader.js'
import { splitBatches, decodeRecordBatch } from '../../src/protocol/record-batch.js'
import { FAST_CONSUMER, openLog, removeDir, tempDataDir, waitFor } from './helpers.js'

let log: Ringlog | undefined
let dir: string | undefined
afterEach(async () => {
  await log?.close()
  if (dir) removeDir(dir)
  log = undefined
  dir = undefined
})

async function produce(target: Ringlog, topic: string, prefix: string, count: number): Promise<void> {
  const producer = target.producer()
  await producer.connect()
  for (let sent = 0; sent < count; sent += 100) {
    const messages = Array.from({ length: Math.min(100, count - sent) }, (_, i) => ({ value: `${prefix}-${sent + i}-${'x'.repeat(200)}` }))
    await producer.send({ topic, messages })
  }
  await producer.disconnect()
}

function values(bytes: Buffer): string[] {
  const out: string[] = []
  for (const b of splitBatches(bytes).batches) {
    for (const r of decodeRecordBatch(bytes.subarray(b.offset, b.offset + b.size)).records) out.push(r.value?.toString() ?? '')
  }
  return out
}

const openDescriptors = (): number => readdirSync('/proc/self/fd').length

describe('reads through a held descriptor', () => {
  it('a range located before its topic is deleted still reads that topic’s bytes after the numbers are reused', async () => {
    dir = tempDataDir()
    log = await openLog(dir, { flush: 'always' })
    await log.admin().createTopics({ topics: [{ topic: 'old', numPartitions: 1 }] })
    await produce(log, 'old', 'old', 1000)
    const engine = log.context.engine
    const slices = []
    for (let offset = 0; offset < 1000;) {
      const slice = await engine.read('old', 0, offset, 16_384, { holdFile: true })
      expect(slice.errorCode).toBe(0)
      expect(slice.segment).not.toBeNull()
      expect(slice.segment!.heldFd).toBeTypeOf('number')
      expect(Object.keys(slice.segment!)).not.toContain('fd')
      slices.push(slice.segment!)
      offset = slice.segment!.nextOffset!
    }
    await log.admin().deleteTopics({ topics: ['old'] })
    // New segment files take the descriptor numbers the worker just closed.
    await log.admin().createTopics({ topics: [{ topic: 'new', numPartitions: 4 }] })
    await produce(log, 'new', 'new', 1000)
    const seen: string[] = []
    for (const slice of slices) seen.push(...values(await readHeldRange(slice)))
    expect(seen.length).toBeGreaterThanOrEqual(1000)
    const expected = Array.from({ length: 1000 }, (_, i) => `old-${i}-${'x'.repeat(200)}`)
    expect(seen.filter((v) => !v.startsWith('old-'))).toEqual([])
    expect([...new Set(seen)].sort()).toEqual(expected.sort())
  })

  it('the embedded consumer reads every record and keeps no descriptor it was handed', async () => {
    dir = tempDataDir()
    log = await openLog(dir)
    await log.admin().createTopics({ topics: [{ topic: 'ev', numPartitions: 2 }] })
    await produce(log, 'ev', 'ev', 2000)
    // The first group commit creates __consumer_offsets (its segment files stay open): do
    // that before the baseline, so the count below is about held read descriptors only.
    const warmUp = log.consumer({ groupId: 'warm-up', ...FAST_CONSUMER })
    await warmUp.subscribe({ topics: ['ev'], fromBeginning: true })
    let warmed = false
    await warmUp.run({ eachMessage: async () => { warmed = true } })
    await waitFor(() => warmed, 'the warm-up group read a record')
    await warmUp.disconnect()
    const before = openDescriptors()
    const consumer = log.consumer({ groupId: 'held', ...FAST_CONSUMER, maxBytesPerPartition: 8192 })
    await consumer.subscribe({ topics: ['ev'], fromBeginning: true })
    const seen = new Set<string>()
    await consumer.run({ eachMessage: async ({ message }) => { seen.add(message.value!.toString()) } })
    await waitFor(() => seen.size >= 2000, '2000 records consumed')
    await consumer.disconnect()
    expect(seen.size).toBe(2000)
    // Dozens of ranges were read; the descriptors held for them are all closed again.
    await waitFor(() => openDescriptors() <= before + 2, `descriptors back to ${before} (now ${openDescriptors()})`, 5000)
  })
})
