/**
 * read_committed for the embedded consumer: given the aborted transactions a committed read
 * reported (producer id and first offset of each, ReadSlice.abortedTransactions), says which
 * batches of the range belong to one, with the rule Kafka's consumers apply to a Fetch answer:
 * a producer's transactional batches are dropped from its aborted transaction's first offset
 * until its next control batch (the ABORT marker that closes it). Batches are fed in log order.
 */
import type { Buffer } from 'node:buffer'
import { BatchAttribute, PRODUCER_ID_OFFSET, readInt64 } from '../protocol/record-batch.js'

export interface AbortedTransaction { producerId: number; firstOffset: number }

export class AbortedBatchFilter {
  private readonly pending: AbortedTransaction[]
  private next = 0
  private readonly aborting = new Set<number>()

  constructor(aborted: readonly AbortedTransaction[]) {
    this.pending = [...aborted].sort((a, b) => a.firstOffset - b.firstOffset)
  }

  /** True when the batch at `at` (attributes already read, last offset `lastOffset`) is part of an aborted transaction. */
  skips(bytes: Buffer, at: number, attributes: number, lastOffset: number): boolean {
    while (this.next < this.pending.length && this.pending[this.next].firstOffset <= lastOffset) this.aborting.add(this.pending[this.next++].producerId)
    if ((attributes & BatchAttribute.Transactional) === 0 || this.aborting.size === 0) return false
    const producerId = readInt64(bytes, at + PRODUCER_ID_OFFSET)
    if ((attributes & BatchAttribute.Control) !== 0) {
      // The marker ends the producer's transaction: its later batches belong to a new one.
      this.aborting.delete(producerId)
      return true
    }
    return this.aborting.has(producerId)
  }
}
