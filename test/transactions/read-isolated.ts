/**
 * Test helper: reads a partition through raw Fetch v11 with read_committed (isolation 1) or
 * read_uncommitted (0) and applies Kafka's client rule for the aborted-transactions list (a
 * producer's batches from an aborted transaction's first offset up to its ABORT marker are
 * dropped), so the values returned are what a Kafka consumer of that isolation would see.
 * Control batches (markers) are never returned. Also ListOffsets v2+ with an isolation level.
 */
import { decodeRecordBatch, readBatchHeader, splitBatches } from '../../src/protocol/record-batch.js'
import { isControlBatch } from '../../src/protocol/control-records.js'
import type { RawClient } from '../broker/raw-client.js'

interface AbortedTxn { producerId: number; firstOffset: number }
interface FetchPartition { errorCode: number; highWatermark: number; lastStableOffset: number; abortedTransactions: AbortedTxn[] | null; records: Buffer | null }
interface FetchResult { errorCode: number; responses: { partitions: FetchPartition[] }[] }

export interface IsolatedRead { values: string[]; highWatermark: number; lastStableOffset: number }

export async function readIsolated(client: RawClient, topic: string, partition: number, committed: boolean): Promise<IsolatedRead> {
  const values: string[] = []
  let offset = 0
  let highWatermark = 0
  let lastStableOffset = 0
  for (let round = 0; round < 10_000; round++) {
    const res = await client.request<FetchResult>(1, 11, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: committed ? 1 : 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1 }] }],
      forgottenTopicsData: [], rackId: '',
    })
    const p = res.responses[0]!.partitions[0]!
    if (p.errorCode !== 0) throw new Error(`fetch ${topic}-${partition} at ${offset}: error ${p.errorCode}`)
    highWatermark = p.highWatermark
    lastStableOffset = p.lastStableOffset
    const bytes = p.records
    if (!bytes || bytes.length === 0) break
    const pending = [...(p.abortedTransactions ?? [])].sort((a, b) => a.firstOffset - b.firstOffset)
    const aborting = new Set<number>()
    let next = offset
    for (const span of splitBatches(bytes).batches) {
      const header = readBatchHeader(bytes, span.offset)
      while (pending.length > 0 && pending[0]!.firstOffset <= header.baseOffset + header.lastOffsetDelta) aborting.add(pending.shift()!.producerId)
      next = header.baseOffset + header.lastOffsetDelta + 1
      if (isControlBatch(bytes, span.offset)) {
        aborting.delete(header.producerId)
        continue
      }
      if (committed && aborting.has(header.producerId)) continue
      for (const r of decodeRecordBatch(bytes, span.offset).records) values.push(r.value?.toString() ?? '')
    }
    if (next <= offset) break
    offset = next
  }
  return { values, highWatermark, lastStableOffset }
}

interface ListOffsetsResult { topics: { partitions: { errorCode: number; offset: number }[] }[] }

/** ListOffsets v4 latest offset: the last stable offset (committed) or the high watermark. */
export async function latestOffset(client: RawClient, topic: string, partition: number, committed: boolean): Promise<number> {
  const res = await client.request<ListOffsetsResult>(2, 4, {
    replicaId: -1, isolationLevel: committed ? 1 : 0,
    topics: [{ name: topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp: -1 }] }],
  })
  const p = res.topics[0]!.partitions[0]!
  if (p.errorCode !== 0) throw new Error(`list offsets ${topic}-${partition}: error ${p.errorCode}`)
  return p.offset
}
