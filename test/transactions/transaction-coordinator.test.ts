/**
 * The transaction coordinator over an in-memory `__transaction_state` (the real record format
 * and batches) with markers and group commits recorded: a commit whose markers fail part way
 * stays PrepareCommit and a new coordinator reading the same log completes it (markers, the
 * group's offsets partition included; offsets an older version kept in the record reach their
 * group); epochs fence; timeouts abort with a bumped epoch; EndTxn retries are answered.
 */
import { Buffer } from 'node:buffer'
import { describe, expect, it, vi } from 'vitest'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import type { TxnMarkerRequest } from '../../src/engine/log-engine.js'
import type { OffsetToCommit } from '../../src/groups/offsets-backend.js'
import { TransactionCoordinator } from '../../src/transactions/transaction-coordinator.js'
import { encodeTxnKey, encodeTxnValue } from '../../src/transactions/transaction-state.js'
import { encodeRecordBatch } from '../../src/protocol/record-batch.js'

const V2 = { version: 2, firstFencedVersion: 2 }
const V1 = { version: 1, firstFencedVersion: 2 }

interface Harness {
  coordinator: TransactionCoordinator
  markers: { topic: string; partition: number; marker: TxnMarkerRequest }[]
  commits: { groupId: string; offsets: readonly OffsetToCommit[] }[]
  failMarkersTo: Set<string>
  clock: { now: number }
}

/** A coordinator over `log` (batches appended in order); a second harness on the same log is a restart. */
async function harness(log: Buffer[], clock = { now: 1_000_000 }): Promise<Harness> {
  let nextProducerId = 100 + log.length
  const h: Omit<Harness, 'coordinator'> = { markers: [], commits: [], failMarkersTo: new Set(), clock }
  const coordinator = new TransactionCoordinator({
    io: {
      partitions: 1,
      ensureTopic: async () => undefined,
      ledHere: () => true,
      append: async (_partition, batch) => { log.push(Buffer.from(batch)) },
      read: async (_partition, onBatches) => { if (log.length > 0) onBatches(Buffer.concat(log)) },
    },
    writeMarker: async (topic, partition, marker) => {
      if (h.failMarkersTo.has(`${topic}-${partition}`)) throw new Error(`${topic}-${partition} is unreachable`)
      h.markers.push({ topic, partition, marker })
    },
    allocateProducerId: async () => nextProducerId++,
    commitOffsets: async (groupId, offsets) => { h.commits.push({ groupId, offsets }) },
    offsetsPartition: () => ({ topic: '__consumer_offsets', partition: 7 }),
    partitionExists: (topic) => topic !== 'missing',
    maxTimeoutMs: 60_000,
    abortCheckIntervalMs: 3_600_000,
    now: () => clock.now,
  })
  await coordinator.load(0)
  return { ...h, coordinator }
}

describe('TransactionCoordinator', () => {
  it('completes a prepared commit after a restart: markers to every partition, the group\'s offsets partition included', async () => {
    const log: Buffer[] = []
    const a = await harness(log)
    const init = await a.coordinator.initProducerId('t', 10_000, { producerId: -1, producerEpoch: -1 }, V2)
    expect(init).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: 0 })
    const { producerId } = init
    const added = await a.coordinator.addPartitions('t', producerId, 0, [{ topic: 'out', partition: 0 }, { topic: 'out', partition: 1 }], V2)
    expect([...added.values()]).toEqual([ErrorCode.NONE, ErrorCode.NONE])
    expect(await a.coordinator.addOffsets('t', producerId, 0, 'g', V2)).toBe(ErrorCode.NONE)
    a.failMarkersTo.add('out-1')
    expect(await a.coordinator.endTxn('t', producerId, 0, true, V2)).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE)
    expect(a.coordinator.describe('t')?.state).toBe('PrepareCommit')
    expect(a.commits).toEqual([])
    // The producer is told to wait while the commit is unfinished.
    expect([...(await a.coordinator.addPartitions('t', producerId, 0, [{ topic: 'out', partition: 0 }], V2)).values()]).toEqual([ErrorCode.CONCURRENT_TRANSACTIONS])
    a.coordinator.close()

    const b = await harness(log)
    await vi.waitFor(() => expect(b.coordinator.describe('t')?.state).toBe('CompleteCommit'), { timeout: 5_000 })
    expect(b.markers.map((m) => `${m.topic}-${m.partition}:${m.marker.committed}:${m.marker.producerEpoch}`).sort()).toEqual(['__consumer_offsets-7:true:0', 'out-0:true:0', 'out-1:true:0'])
    // The offsets are the group coordinator's (pending until that marker), not the transaction's.
    expect(b.commits).toEqual([])
    // A retried EndTxn of the completed commit is answered NONE; asking to abort it is not.
    expect(await b.coordinator.endTxn('t', producerId, 0, true, V2)).toBe(ErrorCode.NONE)
    expect(await b.coordinator.endTxn('t', producerId, 0, false, V2)).toBe(ErrorCode.INVALID_TXN_STATE)
    b.coordinator.close()
  })

  it('completes a PrepareCommit an older version wrote with the offsets in its own record: they reach the group', async () => {
    const log: Buffer[] = []
    const a = await harness(log)
    const { producerId } = await a.coordinator.initProducerId('old', 10_000, { producerId: -1, producerEpoch: -1 }, V2)
    a.coordinator.close()
    const prepared = { producerId, producerEpoch: 0, timeoutMs: 10_000, state: 'PrepareCommit' as const, partitions: [{ topic: 'out', partition: 0 }], groupIds: ['g'], pendingOffsets: [{ groupId: 'g', topic: 'in', partition: 0, offset: 42, leaderEpoch: -1, metadata: '' }], startMs: 1, updatedMs: 1 }
    log.push(encodeRecordBatch({ records: [{ key: encodeTxnKey('old'), value: encodeTxnValue(prepared) }] }))
    const b = await harness(log)
    await vi.waitFor(() => expect(b.coordinator.describe('old')?.state).toBe('CompleteCommit'), { timeout: 5_000 })
    expect(b.commits).toEqual([{ groupId: 'g', offsets: [{ topic: 'in', partition: 0, offset: 42, leaderEpoch: -1, metadata: '' }] }])
    b.coordinator.close()
  })

  it('an abort drops the offsets; a new InitProducerId bumps the epoch and fences the old one', async () => {
    const h = await harness([])
    const { producerId } = await h.coordinator.initProducerId('f', 10_000, { producerId: -1, producerEpoch: -1 }, V2)
    await h.coordinator.addPartitions('f', producerId, 0, [{ topic: 'out', partition: 0 }], V2)
    await h.coordinator.addOffsets('f', producerId, 0, 'g', V2)
    // The successor arrives with the transaction open: it is aborted under the new epoch first.
    const successor = await h.coordinator.initProducerId('f', 10_000, { producerId: -1, producerEpoch: -1 }, V2)
    expect(successor).toEqual({ errorCode: ErrorCode.NONE, producerId, producerEpoch: 1 })
    expect(h.markers.map((m) => [m.topic, m.partition, m.marker.committed, m.marker.producerEpoch])).toEqual([['out', 0, false, 1], ['__consumer_offsets', 7, false, 1]])
    expect(h.commits).toEqual([])
    expect([...(await h.coordinator.addPartitions('f', producerId, 0, [{ topic: 'out', partition: 0 }], V2)).values()]).toEqual([ErrorCode.PRODUCER_FENCED])
    expect([...(await h.coordinator.addPartitions('f', producerId, 0, [{ topic: 'out', partition: 0 }], V1)).values()]).toEqual([ErrorCode.INVALID_PRODUCER_EPOCH])
    expect(await h.coordinator.endTxn('f', producerId, 0, true, V2)).toBe(ErrorCode.PRODUCER_FENCED)
    expect(await h.coordinator.endTxn('f', producerId + 1, 1, true, V2)).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
    // Nothing open: EndTxn is in the wrong state.
    expect(await h.coordinator.endTxn('f', producerId, 1, true, V2)).toBe(ErrorCode.INVALID_TXN_STATE)
    h.coordinator.close()
  })

  it('aborts a transaction past its timeout with a bumped epoch', async () => {
    const clock = { now: 5_000 }
    const h = await harness([], clock)
    const { producerId } = await h.coordinator.initProducerId('slow', 1_000, { producerId: -1, producerEpoch: -1 }, V2)
    await h.coordinator.addPartitions('slow', producerId, 0, [{ topic: 'out', partition: 3 }], V2)
    clock.now += 1_000
    h.coordinator.checkTimeouts()
    expect(h.coordinator.describe('slow')?.state).toBe('Ongoing')
    clock.now += 1
    h.coordinator.checkTimeouts()
    await vi.waitFor(() => expect(h.coordinator.describe('slow')?.state).toBe('CompleteAbort'), { timeout: 5_000 })
    expect(h.markers.map((m) => [m.topic, m.partition, m.marker.committed, m.marker.producerEpoch])).toEqual([['out', 3, false, 1]])
    expect(await h.coordinator.endTxn('slow', producerId, 0, true, V2)).toBe(ErrorCode.PRODUCER_FENCED)
    h.coordinator.close()
  })

  it('refuses timeouts above the maximum and unknown partitions', async () => {
    const h = await harness([])
    expect((await h.coordinator.initProducerId('x', 60_001, { producerId: -1, producerEpoch: -1 }, V2)).errorCode).toBe(ErrorCode.INVALID_TRANSACTION_TIMEOUT)
    expect((await h.coordinator.initProducerId('x', 0, { producerId: -1, producerEpoch: -1 }, V2)).errorCode).toBe(ErrorCode.INVALID_TRANSACTION_TIMEOUT)
    const { producerId } = await h.coordinator.initProducerId('x', 60_000, { producerId: -1, producerEpoch: -1 }, V2)
    const answer = await h.coordinator.addPartitions('x', producerId, 0, [{ topic: 'out', partition: 0 }, { topic: 'missing', partition: 0 }], V2)
    expect([...answer.values()]).toEqual([ErrorCode.OPERATION_NOT_ATTEMPTED, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION])
    expect(h.coordinator.describe('x')?.state).toBe('Empty')
    h.coordinator.close()
  })
})
