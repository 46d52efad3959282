/**
 * The newest transaction API versions over a real socket: ApiVersions advertises InitProducerId
 * 0-5, AddPartitionsToTxn 0-5, AddOffsetsToTxn 0-4, EndTxn 0-4, TxnOffsetCommit 0-4;
 * @platformatic/kafka (which picks the newest version both sides know, so it sends exactly those)
 * commits and aborts transactions that a read_committed fetch tells apart; and the batched
 * AddPartitionsToTxn v4/v5 form (KIP-890) answers per transaction, with VerifyOnly checking
 * without adding; WriteTxnMarkers (the inter-broker marker request) writes a marker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Producer, stringSerializers } from '@platformatic/kafka'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { RawClient } from '../broker/raw-client.js'
import { startTestBroker, type TestBroker } from '../broker/test-broker.js'
import { readIsolated } from './read-isolated.js'

const TOPIC = 'txv'

let broker: TestBroker
let raw: RawClient

beforeAll(async () => {
  broker = await startTestBroker({ transactionStateLogNumPartitions: 3 })
  raw = await RawClient.connect(broker.port)
  const created = await raw.request<{ topics: { errorCode: number }[] }>(19, 5, {
    topics: [{ name: TOPIC, numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false,
  })
  expect(created.topics[0]!.errorCode).toBe(0)
})

afterAll(async () => {
  raw?.close()
  await broker?.destroy()
})

interface ApiVersionsResult { apiKeys: { apiKey: number; minVersion: number; maxVersion: number }[] }
interface InitResult { errorCode: number; producerId: number; producerEpoch: number }
interface PartitionResult { partitionIndex: number; partitionErrorCode: number }
interface BatchedAddResult {
  errorCode: number
  resultsByTransaction: { transactionalId: string; topicResults: { name: string; resultsByPartition: PartitionResult[] }[] }[]
}

function txn(transactionalId: string, producerId: number, producerEpoch: number, verifyOnly: boolean, partitions: number[]): Record<string, unknown> {
  return { transactionalId, producerId, producerEpoch, verifyOnly, topics: [{ name: TOPIC, partitions }] }
}

/** Per transactional id, the error code of each partition, as [partition, code] pairs. */
function codes(result: BatchedAddResult): Record<string, [number, number][]> {
  return Object.fromEntries(result.resultsByTransaction.map((t) => [t.transactionalId, t.topicResults.flatMap((r) => r.resultsByPartition.map((p) => [p.partitionIndex, p.partitionErrorCode] as [number, number]))]))
}

describe('transaction API versions of Kafka 3.9', () => {
  it('ApiVersions advertises every version the schemas define', async () => {
    const res = await raw.request<ApiVersionsResult>(18, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' })
    const range = (key: number): [number, number] | undefined => {
      const k = res.apiKeys.find((a) => a.apiKey === key)
      return k ? [k.minVersion, k.maxVersion] : undefined
    }
    expect([22, 24, 25, 26, 28].map(range)).toEqual([[0, 5], [0, 5], [0, 4], [0, 4], [0, 4]])
  })

  it('@platformatic/kafka commits and aborts at the newest versions; read_committed sees only the commits', async () => {
    const producer = new Producer({ clientId: 'plat-tx', bootstrapBrokers: [`127.0.0.1:${broker.port}`], serializers: stringSerializers, idempotent: true, transactionalId: 'plat-tx', acks: -1 })
    try {
      const send = async (values: string[], commit: boolean): Promise<void> => {
        const tx = await producer.beginTransaction()
        await tx.send({ messages: values.map((value, i) => ({ topic: TOPIC, value, partition: i % 2 })) })
        await (commit ? tx.commit() : tx.abort())
      }
      await send(['c1', 'c2'], true)
      await send(['a1', 'a2'], false)
      await send(['c3', 'c4'], true)
    } finally {
      await producer.close()
    }
    const committed = [...(await readIsolated(raw, TOPIC, 0, true)).values, ...(await readIsolated(raw, TOPIC, 1, true)).values]
    const everything = [...(await readIsolated(raw, TOPIC, 0, false)).values, ...(await readIsolated(raw, TOPIC, 1, false)).values]
    expect(committed).toEqual(['c1', 'c3', 'c2', 'c4'])
    expect(everything).toEqual(['c1', 'a1', 'c3', 'c2', 'a2', 'c4'])
  })

  it('AddPartitionsToTxn v4/v5: per-transaction results; VerifyOnly checks without adding', async () => {
    const init = await raw.request<InitResult>(22, 5, { transactionalId: 'raw-tx', transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 })
    expect(init.errorCode).toBe(0)
    const { producerId: pid, producerEpoch: epoch } = init

    // Added (not VerifyOnly) in the batched form.
    const added = await raw.request<BatchedAddResult>(24, 5, { transactions: [txn('raw-tx', pid, epoch, false, [0])] })
    expect(added.errorCode).toBe(0)
    expect(codes(added)).toEqual({ 'raw-tx': [[0, 0]] })

    // Verified: partition 0 is in the transaction, partition 1 is not (v5: TRANSACTION_ABORTABLE), and a
    // second transaction of the same request (an id nobody initialized) gets its own answer.
    const verified = await raw.request<BatchedAddResult>(24, 5, { transactions: [txn('raw-tx', pid, epoch, true, [0, 1]), txn('nobody', 999, 0, true, [0])] })
    expect(codes(verified)).toEqual({ 'raw-tx': [[0, ErrorCode.NONE], [1, ErrorCode.TRANSACTION_ABORTABLE]], nobody: [[0, ErrorCode.INVALID_PRODUCER_ID_MAPPING]] })

    // VerifyOnly added nothing: partition 1 is still outside (v4 says INVALID_TXN_STATE).
    const again = await raw.request<BatchedAddResult>(24, 4, { transactions: [txn('raw-tx', pid, epoch, true, [1])] })
    expect(codes(again)).toEqual({ 'raw-tx': [[1, ErrorCode.INVALID_TXN_STATE]] })

    // A stale epoch is fenced; an unknown partition fails the whole transaction entry.
    const stale = await raw.request<BatchedAddResult>(24, 5, { transactions: [txn('raw-tx', pid, epoch - 1, true, [0])] })
    expect(codes(stale)).toEqual({ 'raw-tx': [[0, ErrorCode.PRODUCER_FENCED]] })
    const unknown = await raw.request<BatchedAddResult>(24, 5, { transactions: [txn('raw-tx', pid, epoch, true, [0, 7])] })
    expect(codes(unknown)).toEqual({ 'raw-tx': [[0, ErrorCode.OPERATION_NOT_ATTEMPTED], [7, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]] })

    // The transaction holds partition 0 only: EndTxn v4 aborts it and the verification then finds nothing open.
    const ended = await raw.request<{ errorCode: number }>(26, 4, { transactionalId: 'raw-tx', producerId: pid, producerEpoch: epoch, committed: false })
    expect(ended.errorCode).toBe(0)
    const after = await raw.request<BatchedAddResult>(24, 5, { transactions: [txn('raw-tx', pid, epoch, true, [0])] })
    expect(codes(after)).toEqual({ 'raw-tx': [[0, ErrorCode.TRANSACTION_ABORTABLE]] })
  })

  it('WriteTxnMarkers (inter-broker): writes a marker per partition this broker holds, UNKNOWN_TOPIC_OR_PARTITION otherwise', async () => {
    interface MarkersResult { markers: { producerId: number; topics: { name: string; partitions: { partitionIndex: number; errorCode: number }[] }[] }[] }
    const before = await readIsolated(raw, TOPIC, 1, false)
    const res = await raw.request<MarkersResult>(27, 1, {
      markers: [{ producerId: 4242, producerEpoch: 0, transactionResult: false, coordinatorEpoch: 0, topics: [{ name: TOPIC, partitionIndexes: [1, 9] }, { name: 'no-such-topic', partitionIndexes: [0] }] }],
    })
    expect(res.markers.map((m) => [m.producerId, m.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.errorCode])])])).toEqual([
      [4242, [[TOPIC, [[1, ErrorCode.NONE], [9, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]], ['no-such-topic', [[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]]]],
    ])
    // The marker took one offset and no record is visible from it.
    const after = await readIsolated(raw, TOPIC, 1, false)
    expect(after.highWatermark).toBe(before.highWatermark + 1)
    expect(after.values).toEqual(before.values)
  })
})
