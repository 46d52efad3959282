/**
 * What the transaction coordinator keeps per transactional id, and its record format in the
 * internal `__transaction_state` topic: key = the transactional id (UTF-8), value = the
 * metadata below (msgpack), one record per state change. The newest record of an id is its
 * state; a restart replays the topic from the start (it is small: one record per change of a
 * few ids).
 */
import { Buffer } from 'node:buffer'
import { pack, unpack } from '../msgpack.js'

/** Kafka's TransactionState names. */
export type TxnState = 'Empty' | 'Ongoing' | 'PrepareCommit' | 'PrepareAbort' | 'CompleteCommit' | 'CompleteAbort'

export interface TxnPartition { topic: string; partition: number }

/** An offset committed inside a transaction (TxnOffsetCommit): visible to its group only once the transaction commits. */
export interface PendingTxnOffset {
  groupId: string
  topic: string
  partition: number
  offset: number
  leaderEpoch: number
  metadata: string
}

export interface TxnMetadata {
  producerId: number
  producerEpoch: number
  timeoutMs: number
  state: TxnState
  partitions: TxnPartition[]
  groupIds: string[]
  pendingOffsets: PendingTxnOffset[]
  /** When the open transaction began (ms); -1 when none is open. */
  startMs: number
  updatedMs: number
}

const RECORD_VERSION = 1

export function encodeTxnKey(transactionalId: string): Buffer {
  return Buffer.from(transactionalId, 'utf8')
}

export function encodeTxnValue(meta: TxnMetadata): Buffer {
  return pack([RECORD_VERSION, meta.producerId, meta.producerEpoch, meta.timeoutMs, meta.state,
    meta.partitions.map((p) => [p.topic, p.partition]), meta.groupIds,
    meta.pendingOffsets.map((o) => [o.groupId, o.topic, o.partition, o.offset, o.leaderEpoch, o.metadata]), meta.startMs, meta.updatedMs])
}

/** The metadata in a record's value, or undefined if it is not one this version writes. */
export function decodeTxnValue(value: Buffer): TxnMetadata | undefined {
  let row: unknown
  try {
    row = unpack(value)
  } catch {
    return undefined
  }
  if (!Array.isArray(row) || row[0] !== RECORD_VERSION || row.length < 10) return undefined
  const [, producerId, producerEpoch, timeoutMs, state, partitions, groupIds, pendingOffsets, startMs, updatedMs] = row as [
    number, number, number, number, TxnState, [string, number][], string[], [string, string, number, number, number, string][], number, number,
  ]
  return {
    producerId, producerEpoch, timeoutMs, state,
    partitions: partitions.map(([topic, partition]) => ({ topic, partition })),
    groupIds,
    pendingOffsets: pendingOffsets.map(([groupId, topic, partition, offset, leaderEpoch, metadata]) => ({ groupId, topic, partition, offset, leaderEpoch, metadata })),
    startMs, updatedMs,
  }
}
