/**
 * Issue 18, H4: a batch whose header and CRC are fine but whose records are malformed is
 * refused on produce (INVALID_RECORD 87; a CRC mismatch or an undecodable frame CORRUPT_MESSAGE
 * 2) and nothing is stored, as Kafka parses every record; a valid batch afterwards lands at
 * offset 0. Each malformed batch carries a correct CRC, so only the per-record check sees it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { compress, Compression } from '../../src/protocol/compression.js'
import { BATCH_HEADER_SIZE, computeBatchCrc, CRC_OFFSET, encodeRecordBatch } from '../../src/protocol/record-batch.js'
import { encodeRecords } from '../../src/protocol/records.js'
import { RawClient } from './raw-client.js'
import { startTestBroker, type TestBroker } from './test-broker.js'

type Msg = Record<string, any>

const INVALID_RECORD = 87
const CORRUPT_MESSAGE = 2
const TOPIC = 'h4'

let broker: TestBroker
let client: RawClient

beforeAll(async () => {
  broker = await startTestBroker()
  client = await RawClient.connect(broker.port)
  const res = await client.request<Msg>(19, 4, { topics: [{ name: TOPIC, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 1000 })
  expect(res.topics[0].errorCode).toBe(0)
})

afterAll(async () => {
  client?.close()
  await broker?.destroy()
})

/**
 * A batch around `section` (a records section as it would follow the header, uncompressed)
 * claiming `count` records, compressed with `codec`, with a CRC that matches its bytes.
 */
function batchAround(section: Buffer, count: number, codec: number = Compression.none, lastOffsetDelta = count - 1): Buffer {
  const body = codec === Compression.none ? section : compress(codec, section)
  const template = encodeRecordBatch({ records: [{ value: 'x' }] })
  const batch = Buffer.alloc(BATCH_HEADER_SIZE + body.length)
  template.copy(batch, 0, 0, BATCH_HEADER_SIZE)
  body.copy(batch, BATCH_HEADER_SIZE)
  batch.writeInt32BE(batch.length - 12, 8)
  batch.writeInt16BE(codec, 21)
  batch.writeInt32BE(lastOffsetDelta, 23)
  batch.writeInt32BE(count, 57)
  batch.writeUInt32BE(computeBatchCrc(batch, 0, batch.length), CRC_OFFSET)
  return batch
}

/** The records section of well-formed records (what encodeRecordBatch puts after the header). */
function section(values: string[]): Buffer {
  return encodeRecords(values.map((value) => ({ value, timestamp: 1_700_000_000_000 })), 1_700_000_000_000)
}

async function produce(records: Buffer): Promise<{ errorCode: number; baseOffset: number }> {
  const res = await client.request<Msg>(0, 9, { acks: -1, timeoutMs: 1000, topicData: [{ name: TOPIC, partitionData: [{ index: 0, records }] }] })
  return res.responses[0].partitionResponses[0]
}

async function logEndOffset(): Promise<number> {
  const res = await client.request<Msg>(2, 5, { replicaId: -1, isolationLevel: 0, topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }] })
  return res.topics[0].partitions[0].offset
}

const MALFORMED: { name: string; batch: () => Buffer; code: number }[] = [
  { name: 'a record length past the batch', code: INVALID_RECORD, batch: () => {
    const s = section(['hello'])
    s[0] = 0x7e // zigzag 63: longer than the 10-byte record
    return batchAround(s, 1)
  } },
  { name: 'a batch claiming 1,000 records that holds 1', code: INVALID_RECORD, batch: () => batchAround(section(['only']), 1000) },
  { name: 'a batch claiming 1 record that holds 2', code: INVALID_RECORD, batch: () => batchAround(section(['one', 'two']), 1) },
  { name: 'a last offset delta of 999 for 1 record', code: INVALID_RECORD, batch: () => batchAround(section(['gap']), 1, Compression.none, 999) },
  { name: 'no records at all', code: INVALID_RECORD, batch: () => batchAround(Buffer.alloc(0), 0, Compression.none, 0) },
  { name: 'a varint longer than 10 bytes', code: INVALID_RECORD, batch: () => {
    // length 20, attributes, then a timestamp delta of 11 continuation bytes.
    const s = Buffer.concat([Buffer.from([40, 0]), Buffer.alloc(11, 0xff), Buffer.alloc(7, 0)])
    return batchAround(s, 1)
  } },
  { name: 'a header count past the record (truncated headers)', code: INVALID_RECORD, batch: () => {
    const s = section(['v'])
    s[s.length - 1] = 6 // zigzag 3 headers, none present
    return batchAround(s, 1)
  } },
  { name: 'offset deltas out of order', code: INVALID_RECORD, batch: () => {
    const s = section(['a', 'b'])
    // Each record: length, attributes, timestampDelta(0), offsetDelta; swap the two deltas.
    const second = 1 + s[0] / 2
    s[3] = 2
    s[second + 3] = 0
    return batchAround(s, 2)
  } },
  { name: 'malformed records inside an lz4 frame', code: INVALID_RECORD, batch: () => batchAround(section(['lz']), 5, Compression.lz4) },
  { name: 'malformed records inside gzip', code: INVALID_RECORD, batch: () => batchAround(section(['gz', 'gz']), 1, Compression.gzip) },
  { name: 'an lz4 frame that does not decompress', code: CORRUPT_MESSAGE, batch: () => {
    const b = batchAround(section(['broken']), 1, Compression.lz4)
    b.fill(0x11, BATCH_HEADER_SIZE + 7, b.length - 4)
    b.writeUInt32BE(computeBatchCrc(b, 0, b.length), CRC_OFFSET)
    return b
  } },
  { name: 'a CRC that does not match', code: CORRUPT_MESSAGE, batch: () => {
    const b = encodeRecordBatch({ records: [{ value: 'crc' }] })
    b[b.length - 1] ^= 0xff
    return b
  } },
]

describe('produce of malformed records (H4)', () => {
  for (const c of MALFORMED) {
    it(`refuses ${c.name} with error ${c.code} and stores nothing`, async () => {
      const result = await produce(c.batch())
      expect(result.errorCode).toBe(c.code)
      expect(await logEndOffset()).toBe(0)
    })
  }

  it('accepts well-formed batches afterwards, uncompressed, gzip and lz4, at offset 0 on', async () => {
    expect(await produce(encodeRecordBatch({ records: [{ key: 'k', value: 'v', headers: { h: 'x' } }, { value: null }] }))).toMatchObject({ errorCode: 0, baseOffset: 0 })
    expect(await produce(encodeRecordBatch({ compression: Compression.gzip, records: [{ value: 'g1' }, { value: 'g2' }] }))).toMatchObject({ errorCode: 0, baseOffset: 2 })
    expect(await produce(encodeRecordBatch({ compression: Compression.lz4, records: [{ value: 'l1' }] }))).toMatchObject({ errorCode: 0, baseOffset: 4 })
    expect(await logEndOffset()).toBe(5)
  })
})
