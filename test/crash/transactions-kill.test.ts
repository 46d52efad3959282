/**
 * kill -9 of the broker while a transaction is open: the broker runs as a child process
 * (`ringlog serve`), a kafkajs transactional producer commits one transaction and leaves a
 * second open, the broker is SIGKILLed and restarted on the same data dir. The coordinator
 * reads the open transaction back from `__transaction_state` and aborts it at its timeout:
 * the last stable offset advances to the log end and a read_committed reader sees only the
 * committed record, never half of the open transaction.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import kafkajs from 'kafkajs'
import { RawClient } from '../broker/raw-client.js'
import { eventually } from '../broker/test-broker.js'
import { startRinglogBroker, type RinglogBroker } from '../cli/ringlog-process.js'
import { latestOffset, readIsolated } from '../transactions/read-isolated.js'

const { Kafka, logLevel } = kafkajs

const BROKER_ARGS = ['--flush', 'never', '--max-workers', '2', '--offsets-topic-num-partitions', '2', '--transaction-state-log-num-partitions', '2', '--transaction-abort-check-interval-ms', '100']

function killHard(broker: RinglogBroker): Promise<void> {
  const { child } = broker
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    process.kill(broker.pid, 'SIGKILL')
  })
}

describe('transactions under kill -9 of the broker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ringlog-txn-kill-'))
  const brokers: RinglogBroker[] = []
  afterAll(async () => {
    for (const broker of brokers) await killHard(broker)
    rmSync(dir, { recursive: true, force: true })
  })

  it('an open transaction is aborted after the restart; the LSO reaches the log end', async () => {
    const first = await startRinglogBroker([...BROKER_ARGS, '--data-dir', dir])
    brokers.push(first)
    const kafka = new Kafka({ clientId: 'txn-kill', brokers: [first.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3, initialRetryTime: 50 } })
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: 'kill-tx', numPartitions: 1 }] })
    await admin.disconnect()
    const producer = kafka.producer({ transactionalId: 'kill-1', idempotent: true, maxInFlightRequests: 1, transactionTimeout: 1500 })
    await producer.connect()
    const done = await producer.transaction()
    await done.send({ topic: 'kill-tx', messages: [{ value: 'before' }] })
    await done.commit()
    const open = await producer.transaction()
    await open.send({ topic: 'kill-tx', messages: [{ value: 'open-1' }, { value: 'open-2' }] })
    const raw = await RawClient.connect(first.port)
    // 'before' at 0, its COMMIT marker at 1: the open transaction starts at 2 and holds the LSO there.
    expect(await latestOffset(raw, 'kill-tx', 0, true)).toBe(2)
    raw.close()
    await killHard(first)
    await producer.disconnect().catch(() => undefined)

    const second = await startRinglogBroker([...BROKER_ARGS, '--data-dir', dir])
    brokers.push(second)
    const client = await RawClient.connect(second.port)
    try {
      const after = await eventually(async () => {
        const read = await readIsolated(client, 'kill-tx', 0, true)
        return read.highWatermark === 5 && read.lastStableOffset === 5 ? read : undefined
      }, 600, 50)
      expect(after.values).toEqual(['before'])
      expect((await readIsolated(client, 'kill-tx', 0, false)).values).toEqual(['before', 'open-1', 'open-2'])
    } finally {
      client.close()
    }
    await second.stop()
  })
})
