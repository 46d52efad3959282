/**
 * Coordinator-epoch fencing of transaction markers (issue 19), as Kafka's producer state does: a
 * partition remembers, per producer, the coordinator epoch of the last marker written for it and
 * refuses a WriteTxnMarkers from an older coordinator epoch with TRANSACTION_COORDINATOR_FENCED
 * (a deposed transaction coordinator still completing after a failover), writing nothing. The
 * remembered epoch survives a restart (read back from the markers in the log). A kafkajs
 * transaction on the same partition still commits (its coordinator's markers are not affected).
 */
import kafkajs from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { RawClient } from '../broker/raw-client.js'
import { startTestBroker, type TestBroker } from '../broker/test-broker.js'

const { Kafka, logLevel } = kafkajs
const TOPIC = 'marker-epochs'
const PRODUCER_ID = 4242

interface MarkersResult { markers: { topics: { partitions: { errorCode: number }[] }[] }[] }

let broker: TestBroker

function marker(coordinatorEpoch: number, committed: boolean): Record<string, unknown> {
  return { markers: [{ producerId: PRODUCER_ID, producerEpoch: 0, transactionResult: committed, coordinatorEpoch, topics: [{ name: TOPIC, partitionIndexes: [0] }] }] }
}

async function writeMarker(coordinatorEpoch: number, committed = true): Promise<number> {
  const raw = await RawClient.connect(broker.port)
  try {
    const answer = await raw.request<MarkersResult>(27, 1, marker(coordinatorEpoch, committed))
    return answer.markers[0]!.topics[0]!.partitions[0]!.errorCode
  } finally {
    raw.close()
  }
}

function kafkaOf(): InstanceType<typeof Kafka> {
  return new Kafka({ clientId: 'marker-epochs', brokers: [`127.0.0.1:${broker.port}`], logLevel: logLevel.NOTHING, retry: { retries: 5 } })
}

async function highWatermark(): Promise<number> {
  const admin = kafkaOf().admin()
  await admin.connect()
  try {
    const [p] = await admin.fetchTopicOffsets(TOPIC)
    return Number(p!.high)
  } finally {
    await admin.disconnect()
  }
}

beforeAll(async () => {
  broker = await startTestBroker({ maxWorkers: 1, transactionStateLogNumPartitions: 1 })
  const admin = kafkaOf().admin()
  await admin.connect()
  try {
    await admin.createTopics({ topics: [{ topic: TOPIC }] })
  } finally {
    await admin.disconnect()
  }
}, 60_000)

afterAll(async () => {
  await broker?.destroy()
})

describe('WriteTxnMarkers coordinator epoch', () => {
  it('refuses a marker from an older coordinator epoch than the last one for the producer, also after a restart', async () => {
    expect(await writeMarker(3)).toBe(ErrorCode.NONE)
    expect(await highWatermark()).toBe(1)
    // A coordinator of an older epoch (deposed by a failover) is fenced and writes nothing.
    expect(await writeMarker(2, false)).toBe(ErrorCode.TRANSACTION_COORDINATOR_FENCED)
    expect(await highWatermark()).toBe(1)
    // The same or a newer epoch is served.
    expect(await writeMarker(3)).toBe(ErrorCode.NONE)
    expect(await writeMarker(4)).toBe(ErrorCode.NONE)
    expect(await writeMarker(3)).toBe(ErrorCode.TRANSACTION_COORDINATOR_FENCED)
    expect(await highWatermark()).toBe(3)

    broker = await broker.restart()
    expect(await writeMarker(3)).toBe(ErrorCode.TRANSACTION_COORDINATOR_FENCED)
    expect(await writeMarker(4)).toBe(ErrorCode.NONE)
    expect(await highWatermark()).toBe(4)

    // Another producer's transaction on the same partition is untouched by that producer's epoch.
    const producer = kafkaOf().producer({ transactionalId: 'marker-epochs-tx', idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    try {
      const tx = await producer.transaction()
      await tx.send({ topic: TOPIC, messages: [{ value: 'x' }] })
      await tx.commit()
    } finally {
      await producer.disconnect()
    }
    expect(await highWatermark()).toBe(6)
  }, 60_000)
})
