/**
 * Kafka's control records: the COMMIT and ABORT markers a transaction coordinator writes to
 * every partition of a transaction. A control batch has the transactional and control bits
 * set, the producer's id and epoch, base sequence -1, and one record whose key is
 * (version i16 = 0, type i16: 0 ABORT, 1 COMMIT) and whose value is (version i16 = 0,
 * coordinatorEpoch i32). Clients skip control batches; read_committed ones use ABORT markers
 * to know where an aborted transaction ends.
 */
import { Buffer } from 'node:buffer'
import { BATCH_HEADER_SIZE, BatchAttribute, ATTRIBUTES_OFFSET, encodeRecordBatch } from './record-batch.js'
import { decodeRecords } from './records.js'

export const CONTROL_TYPE_ABORT = 0
export const CONTROL_TYPE_COMMIT = 1

export interface TxnMarker {
  producerId: number
  producerEpoch: number
  committed: boolean
  coordinatorEpoch: number
}

/** One control batch holding the marker (offsets are stamped when it is appended). */
export function encodeTxnMarkerBatch(marker: TxnMarker, timestamp: number = Date.now()): Buffer {
  const key = Buffer.alloc(4)
  key.writeInt16BE(0, 0)
  key.writeInt16BE(marker.committed ? CONTROL_TYPE_COMMIT : CONTROL_TYPE_ABORT, 2)
  const value = Buffer.alloc(6)
  value.writeInt16BE(0, 0)
  value.writeInt32BE(marker.coordinatorEpoch, 2)
  return encodeRecordBatch({
    records: [{ key, value, timestamp }],
    producerId: marker.producerId,
    producerEpoch: marker.producerEpoch,
    baseSequence: -1,
    transactional: true,
    control: true,
  })
}

export function isControlBatch(batch: Buffer, at: number): boolean {
  return (batch.readInt16BE(at + ATTRIBUTES_OFFSET) & BatchAttribute.Control) !== 0
}

export function isTransactionalBatch(batch: Buffer, at: number): boolean {
  return (batch.readInt16BE(at + ATTRIBUTES_OFFSET) & BatchAttribute.Transactional) !== 0
}

/** The control type (CONTROL_TYPE_ABORT / _COMMIT) of the control batch at `at` of `size` bytes; -1 if its record is unreadable. */
export function controlTypeOf(batch: Buffer, at: number, size: number): number {
  try {
    const [record] = decodeRecords(batch.subarray(at + BATCH_HEADER_SIZE, at + size), 1)
    return record?.key && record.key.length >= 4 ? record.key.readInt16BE(2) : -1
  } catch {
    return -1
  }
}

/** The coordinator epoch in the value of the marker batch at `at` of `size` bytes; -1 if unreadable. */
export function coordinatorEpochOf(batch: Buffer, at: number, size: number): number {
  try {
    const [record] = decodeRecords(batch.subarray(at + BATCH_HEADER_SIZE, at + size), 1)
    return record?.value && record.value.length >= 6 ? record.value.readInt32BE(2) : -1
  } catch {
    return -1
  }
}
