import { afterEach, describe, expect, it } from 'vitest'
import { RinglogError } from '../../src/errors.js'
import { Compression, decompress } from '../../src/protocol/compression.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { BATCH_HEADER_SIZE, CRC_OFFSET, encodeRecordBatch } from '../../src/protocol/record-batch.js'
import { Fixture, readAllBatches, readAllRecords } from './helpers.js'

const fixture = new Fixture()
afterEach(() => fixture.cleanup())

function recordValue(partition: number, i: number): Buffer {
  return Buffer.from(`p${partition}-r${i}-`.padEnd(40 + (i % 17), String.fromCharCode(97 + ((partition + i) % 26))))
}

describe('partition engine: routing and appends', () => {
  for (const maxWorkers of [2, 6]) {
    it(`appends and reads back 6 partitions through ${maxWorkers} workers, every offset and byte`, async () => {
      const engine = fixture.engine({ dataDir: fixture.dir(), flush: 'always', maxWorkers })
      for (let p = 0; p < 6; p++) await engine.openPartition('orders', p)
      const owners = Array.from({ length: 6 }, (_, p) => engine.ownerOf('orders', p))
      expect(new Set(owners).size).toBe(maxWorkers)
      if (maxWorkers === 2) expect(owners.filter((o) => o === 0).length).toBe(3)

      const perPartition = 60
      const sent: Buffer[][] = Array.from({ length: 6 }, () => [])
      const calls: Promise<void>[] = []
      for (let i = 0; i < perPartition; i += 3) {
        for (let p = 0; p < 6; p++) {
          const values = [recordValue(p, i), recordValue(p, i + 1), recordValue(p, i + 2)]
          sent[p].push(...values)
          const acks = (i / 3) % 2 === 0 ? -1 : 1
          calls.push(engine.appendBatches('orders', p, encodeRecordBatch({ records: values.map((value) => ({ value })) }), acks).then((r) => {
            expect(r.errorCode).toBe(ErrorCode.NONE)
            // Per-partition order: the k-th call of a partition gets offset 3k.
            expect(r.baseOffset).toBe(i)
          }))
        }
      }
      await Promise.all(calls)
      for (let p = 0; p < 6; p++) {
        expect(engine.offsets('orders', p)).toEqual({ logStartOffset: 0, logEndOffset: perPartition, highWatermark: perPartition, lastStableOffset: perPartition })
        const records = await readAllRecords(engine, 'orders', p)
        expect(records.map((r) => r.offset)).toEqual(Array.from({ length: perPartition }, (_, i) => i))
        expect(records.map((r) => r.value)).toEqual(sent[p])
      }
    })
  }

  it('acks 0 gets no reply but is appended in order; acks -1 resolves once the high watermark covers it', async () => {
    const engine = fixture.engine({ dataDir: fixture.dir(), flush: 'always', maxWorkers: 1 })
    await engine.openPartition('t', 0)
    const zero = await engine.appendBatches('t', 0, encodeRecordBatch({ records: [{ value: 'a' }, { value: 'b' }] }), 0)
    expect(zero.baseOffset).toBe(-1)
    const one = await engine.appendBatches('t', 0, encodeRecordBatch({ records: [{ value: 'c' }] }), 1)
    expect(one.baseOffset).toBe(2)
    const all = await engine.appendBatches('t', 0, encodeRecordBatch({ records: [{ value: 'd' }] }), -1)
    expect(all.baseOffset).toBe(3)
    expect(engine.offsets('t', 0)!.highWatermark).toBeGreaterThanOrEqual(4)
    expect((await readAllRecords(engine, 't', 0)).map((r) => r.value?.toString())).toEqual(['a', 'b', 'c', 'd'])
    // A failed acks=0 append is counted, not replied.
    const bad = encodeRecordBatch({ records: [{ value: 'x' }] })
    bad.writeUInt32BE((bad.readUInt32BE(CRC_OFFSET) ^ 1) >>> 0, CRC_OFFSET)
    await engine.appendBatches('t', 0, bad, 0)
    await engine.appendBatches('t', 0, encodeRecordBatch({ records: [{ value: 'e' }] }), 1)
    const stats = await engine.stats()
    expect(stats.perPartition[0].failedAppends).toBe(1)
    expect(engine.offsets('t', 0)!.logEndOffset).toBe(5)
  })

  it('reports group commit (fdatasync) latency per partition under flush always, and none under never', async () => {
    const durable = fixture.engine({ dataDir: fixture.dir(), flush: 'always', maxWorkers: 1 })
    await durable.openPartition('d', 0)
    for (let i = 0; i < 5; i++) {
      // Awaited one at a time: each acks=-1 append waits for a commit of its own.
      expect((await durable.appendRecords('d', 0, [{ value: `v${i}` }], { acks: -1, compression: Compression.none })).errorCode).toBe(0)
    }
    const syncs = (await durable.stats()).perPartition[0].fdatasync
    expect(syncs.count).toBeGreaterThanOrEqual(5)
    expect(syncs.p50Ms).toBeGreaterThan(0)
    expect(syncs.p50Ms).toBeLessThanOrEqual(syncs.p90Ms)
    expect(syncs.p90Ms).toBeLessThanOrEqual(syncs.p99Ms)
    expect(syncs.p99Ms).toBeLessThanOrEqual(syncs.maxMs)

    const volatile = fixture.engine({ dataDir: fixture.dir(), flush: 'never', maxWorkers: 1 })
    await volatile.openPartition('v', 0)
    await volatile.appendRecords('v', 0, [{ value: 'x' }], { acks: -1, compression: Compression.none })
    expect((await volatile.stats()).perPartition[0].fdatasync).toEqual({ count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0 })
  })

  it('under flush always, every send spanning two batches is acknowledged only once committed', async () => {
    const engine = fixture.engine({ dataDir: fixture.dir(), flush: 'always', maxWorkers: 1 })
    await engine.openPartition('s', 0)
    // 200 records of 100 bytes: more than one 16 KiB batch, so the send ends in an open batch.
    const records = Array.from({ length: 200 }, (_, i) => ({ value: Buffer.alloc(100, i) }))
    const sends = 20
    for (let i = 0; i < sends; i++) {
      const result = await engine.appendRecords('s', 0, records, { acks: -1, compression: Compression.none })
      expect(result).toMatchObject({ errorCode: 0, baseOffset: i * records.length })
    }
    expect(engine.offsets('s', 0)!.highWatermark).toBe(sends * records.length)
    // At least one commit per awaited send. That most sends take exactly one (the open tail is
    // not left for the next commit) depends on scheduling: test/soak/group-commit.test.ts.
    const commits = (await engine.stats()).perPartition[0].fdatasync.count
    expect(commits).toBeGreaterThanOrEqual(sends)
  })

  it('packs appendRecords into lz4 batches of about 16 KiB that decode back exactly', async () => {
    const engine = fixture.engine({ dataDir: fixture.dir(), flush: 'never', maxWorkers: 1 })
    await engine.openPartition('emb', 0)
    const values = Array.from({ length: 3000 }, (_, i) => recordValue(7, i).toString('hex'))
    const firstCall = await engine.appendRecords('emb', 0, values.slice(0, 1000).map((value, i) => ({ value, key: `k${i}` })), { acks: 1, compression: Compression.lz4 })
    expect(firstCall).toMatchObject({ errorCode: 0, baseOffset: 0 })
    const later = await Promise.all([
      engine.appendRecords('emb', 0, values.slice(1000, 2000).map((value, i) => ({ value, key: `k${1000 + i}` })), { acks: 1, compression: Compression.lz4 }),
      engine.appendRecords('emb', 0, values.slice(2000).map((value, i) => ({ value, key: `k${2000 + i}` })), { acks: -1, compression: Compression.lz4 }),
    ])
    expect(later.map((r) => r.baseOffset)).toEqual([1000, 2000])
    const batches = await readAllBatches(engine, 'emb', 0)
    expect(batches.length).toBeGreaterThan(10)
    for (const b of batches) expect(b.header.attributes & 7).toBe(Compression.lz4)
    // Batches carry close to batch.size (16384) of records before compression; only where the
    // linger ran out between calls (at most once per call) may one be short.
    const uncompressed = batches.map((b) => decompress(Compression.lz4, b.bytes.subarray(BATCH_HEADER_SIZE)).length + BATCH_HEADER_SIZE)
    for (const size of uncompressed) expect(size).toBeLessThanOrEqual(16_384)
    expect(uncompressed.filter((size) => size < 16_384 - 300).length).toBeLessThanOrEqual(3)
    expect(batches.reduce((n, b) => n + b.bytes.length, 0)).toBeLessThan(uncompressed.reduce((n, s) => n + s, 0))
    const records = await readAllRecords(engine, 'emb', 0)
    expect(records.map((r) => r.offset)).toEqual(values.map((_, i) => i))
    expect(records.map((r) => r.value?.toString())).toEqual(values)
    expect(records.map((r) => r.key?.toString())).toEqual(values.map((_, i) => `k${i}`))
  })

  it('splits a large appendRecords call into frames, sends a record over the frame cap alone, and queues frames while the ring is full', async () => {
    // A 4 MiB ring: a 3 MiB call and a 2 MiB record fill it, so later frames wait in the queue
    // (as copies: the router reuses its encoding buffer for the next frame at once).
    const engine = fixture.engine({ dataDir: fixture.dir(), flush: 'never', maxWorkers: 1, requestRingBytes: 4 * 1024 * 1024, defaults: { maxMessageBytes: 4 * 1024 * 1024 } })
    await engine.openPartition('big', 0)
    const small = Array.from({ length: 30_000 }, (_, i) => recordValue(3, i).toString().padEnd(100, 'x'))
    const huge = Buffer.alloc(2 * 1024 * 1024 + 17, 0x5a)
    const calls = [
      engine.appendRecords('big', 0, small.map((value) => ({ value })), { acks: 1, compression: Compression.none }),
      engine.appendRecords('big', 0, [{ key: 'huge', value: huge }], { acks: -1, compression: Compression.none }),
      engine.appendRecords('big', 0, small.slice(0, 500).map((value) => ({ value, timestamp: 1_700_000_000_000 })), { acks: 1, compression: Compression.none }),
    ]
    const results = await Promise.all(calls)
    expect(results.map((r) => [r.errorCode, r.baseOffset])).toEqual([[0, 0], [0, 30_000], [0, 30_001]])
    const records = await readAllRecords(engine, 'big', 0)
    expect(records.length).toBe(30_501)
    expect(records.map((r) => r.offset)).toEqual(records.map((_, i) => i))
    for (let i = 0; i < 30_000; i++) if (records[i].value?.toString() !== small[i]) throw new Error(`record ${i} differs`)
    expect(records[30_000].key?.toString()).toBe('huge')
    expect(records[30_000].value?.equals(huge)).toBe(true)
    for (let i = 0; i < 500; i++) expect(records[30_001 + i].value?.toString()).toBe(small[i])
    // A record larger than the ring's largest frame is refused whole.
    const tooBig = await engine.appendRecords('big', 0, [{ value: Buffer.alloc(5 * 1024 * 1024) }], { acks: 1, compression: Compression.none })
    expect(tooBig.errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE)
    expect(engine.offsets('big', 0)?.logEndOffset).toBe(30_501)

    // A ring that holds one frame at a time: every further frame of the call waits in the queue.
    const narrow = fixture.engine({ dataDir: fixture.dir(), flush: 'never', maxWorkers: 1, requestRingBytes: 256 * 1024 })
    await narrow.openPartition('narrow', 0)
    expect(await narrow.appendRecords('narrow', 0, small.map((value) => ({ value })), { acks: 1, compression: Compression.none })).toMatchObject({ errorCode: 0, baseOffset: 0 })
    const narrowRecords = await readAllRecords(narrow, 'narrow', 0)
    expect(narrowRecords.length).toBe(30_000)
    for (let i = 0; i < 30_000; i++) if (narrowRecords[i].value?.toString() !== small[i] || narrowRecords[i].offset !== i) throw new Error(`record ${i} differs`)
  })

  it('reuses a running worker left without partitions instead of starting another thread', async () => {
    const engine = fixture.engine({ dataDir: fixture.dir(), flush: 'never', maxWorkers: 2 })
    await engine.openPartition('first', 0)
    const owner = engine.ownerOf('first', 0)!
    const thread = engine.workerThreadId(owner)
    await engine.dropPartition('first', 0)
    await engine.openPartition('second', 0)
    expect(engine.ownerOf('second', 0)).toBe(owner)
    expect(engine.workerThreadId(owner)).toBe(thread)
    // With that worker busy again, the next partition still gets a thread of its own.
    await engine.openPartition('third', 0)
    expect(engine.ownerOf('third', 0)).not.toBe(owner)
    expect((await engine.stats()).workers).toBe(2)
  })

  it('rejects oversize and corrupt batches with their codes and loses nothing acknowledged', async () => {
    const engine = fixture.engine({ dataDir: fixture.dir(), flush: 'always', maxWorkers: 1 })
    await engine.openPartition('t', 0, { maxMessageBytes: 4096 })
    const ok = await engine.appendBatches('t', 0, encodeRecordBatch({ records: [{ value: 'kept' }] }), -1)
    expect(ok.errorCode).toBe(ErrorCode.NONE)
    const big = await engine.appendBatches('t', 0, encodeRecordBatch({ records: [{ value: Buffer.alloc(8000, 1) }] }), -1)
    expect(big.errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE)
    const bigRecord = await engine.appendRecords('t', 0, [{ value: 'fine' }, { value: Buffer.alloc(8000, 2) }], { acks: 1, compression: Compression.none })
    expect(bigRecord.errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE)
    const corrupt = encodeRecordBatch({ records: [{ value: 'bad' }] })
    corrupt[corrupt.length - 1] ^= 0xff
    expect((await engine.appendBatches('t', 0, corrupt, 1)).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE)
    const truncated = encodeRecordBatch({ records: [{ value: 'cut' }] }).subarray(0, 50)
    expect((await engine.appendBatches('t', 0, Buffer.from(truncated), 1)).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE)
    const after = await engine.appendBatches('t', 0, encodeRecordBatch({ records: [{ value: 'also kept' }] }), -1)
    expect(after.baseOffset).toBe(1)
    expect((await readAllRecords(engine, 't', 0)).map((r) => r.value?.toString())).toEqual(['kept', 'also kept'])
  })

  it('wakes a long poll when the high watermark passes the offset, and times out otherwise', async () => {
    const engine = fixture.engine({ dataDir: fixture.dir(), flush: 'always', maxWorkers: 1 })
    await engine.openPartition('t', 0)
    expect(engine.offsets('t', 0)?.highWatermark).toBe(0)
    let woke = false
    const parked = engine.waitForData('t', 0, 0, 30_000).then(() => { woke = true })
    // A round trip to the worker (stats) instead of a sleep: the wait is parked and still unwoken.
    await engine.stats()
    expect(woke).toBe(false)
    await engine.appendBatches('t', 0, encodeRecordBatch({ records: [{ value: 'wake' }] }), 0)
    await parked
    expect(engine.offsets('t', 0)!.highWatermark).toBe(1)
    // Nothing past offset 1 arrives: the wait ends by its timeout with the watermark unchanged.
    await engine.waitForData('t', 0, 1, 30)
    expect(engine.offsets('t', 0)!.highWatermark).toBe(1)
  })

  it('reports unknown partitions and serves offsetForTimestamp through the worker', async () => {
    const engine = fixture.engine({ dataDir: fixture.dir(), flush: 'never', maxWorkers: 1 })
    expect(engine.offsets('none', 0)).toBeUndefined()
    await expect(engine.appendBatches('none', 0, encodeRecordBatch({ records: [{ value: 'x' }] }), 1)).rejects.toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION })
    await engine.openPartition('t', 0)
    await engine.appendBatches('t', 0, encodeRecordBatch({ records: [{ value: 'a', timestamp: 1000 }, { value: 'b', timestamp: 2000 }] }), 1)
    await engine.appendBatches('t', 0, encodeRecordBatch({ records: [{ value: 'c', timestamp: 3000 }] }), 1)
    expect(await engine.offsetForTimestamp('t', 0, 1500)).toEqual({ offset: 1, timestamp: 2000 })
    expect(await engine.offsetForTimestamp('t', 0, 9000)).toBeNull()
    const past = await engine.read('t', 0, 99, 1000)
    expect(past.errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE)
    await engine.dropPartition('t', 0)
    expect(engine.offsets('t', 0)).toBeUndefined()
    await engine.openPartition('t', 0)
    expect(engine.offsets('t', 0)?.logEndOffset).toBe(0)
    expect(RinglogError).toBeDefined()
  })

  it('applies retention on the owning worker and publishes the new log start offset', async () => {
    const engine = fixture.engine({ dataDir: fixture.dir(), flush: 'never', maxWorkers: 1, retentionCheckIntervalMs: 20 })
    await engine.openPartition('t', 0, { segmentBytes: 1024, retentionBytes: 2048 })
    for (let i = 0; i < 40; i++) {
      await engine.appendBatches('t', 0, encodeRecordBatch({ records: [{ value: Buffer.alloc(200, i) }] }), 1)
    }
    // Passes that ran during the appends may have deleted part; wait until the start settles.
    let previous = -1
    for (let i = 0; i < 100; i++) {
      await new Promise((resolve) => setTimeout(resolve, 60))
      const start = engine.offsets('t', 0)!.logStartOffset
      if (start > 0 && start === previous) break
      previous = start
    }
    const { logStartOffset, logEndOffset } = engine.offsets('t', 0)!
    expect(logStartOffset).toBeGreaterThan(0)
    expect(logEndOffset).toBe(40)
    const records = await readAllRecords(engine, 't', 0, logStartOffset)
    expect(records[records.length - 1].value).toEqual(Buffer.alloc(200, 39))
  })
})
