/** Reads partitions back through raw Fetch requests and decodes every record (test helper). */
import { decodeRecordBatch, recordOffset, recordTimestamp, splitBatches } from '../../src/protocol/record-batch.js'
import type { ConsumedRecord } from '../../src/cli/consume.js'
import type { RawClient } from './raw-client.js'

/** A record as `ringlog consume` hands it out, without the topic (one topic per call here). */
export type FetchedRecord = Omit<ConsumedRecord, 'topic'>

export function decodeRecordSet(partition: number, records: Buffer | null): FetchedRecord[] {
  const out: FetchedRecord[] = []
  if (!records) return out
  for (const span of splitBatches(records).batches) {
    const batch = decodeRecordBatch(records, span.offset)
    for (const r of batch.records) {
      out.push({
        partition,
        offset: recordOffset(batch.header, r),
        timestamp: recordTimestamp(batch.header, r),
        key: r.key === null ? null : Buffer.from(r.key),
        value: r.value === null ? null : Buffer.from(r.value),
        headers: r.headers.map((h) => ({ key: h.key, value: h.value === null ? null : Buffer.from(h.value) })),
      })
    }
  }
  return out
}

interface FetchPartitionResult { partitionIndex: number; errorCode: number; highWatermark: number; records: Buffer | null }
interface FetchResult { responses: { topic: string; partitions: FetchPartitionResult[] }[] }

/** Every record of `topic` partitions 0..partitions-1 up to their high watermark at call time (bounded loop). */
export async function fetchAll(client: RawClient, topic: string, partitions: number, version = 11, maxBytes = 4 * 1024 * 1024): Promise<FetchedRecord[]> {
  const all: FetchedRecord[] = []
  for (let p = 0; p < partitions; p++) {
    let offset = 0
    for (let round = 0; round < 100_000; round++) {
      const res = await client.request<FetchResult>(1, version, {
        replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes, isolationLevel: 0,
        topics: [{ topic, partitions: [{ partition: p, fetchOffset: offset, partitionMaxBytes: maxBytes }] }],
      })
      const part = res.responses[0].partitions[0]
      if (part.errorCode !== 0) throw new Error(`fetch ${topic}-${p}@${offset}: error ${part.errorCode}`)
      const records = decodeRecordSet(p, part.records).filter((r) => r.offset >= offset)
      all.push(...records)
      if (records.length > 0) offset = records[records.length - 1].offset + 1
      if (offset >= part.highWatermark || records.length === 0) break
    }
  }
  return all
}
