/**
 * Why the mixed soak once counted acknowledged records that were not in the log (issue 18):
 * a kafkajs idempotent producer whose send fails after the broker appended the batch (here: a
 * proxy drops the Produce responses, as a kill -9 right after the append does) rolls its
 * sequence numbers back and gives them to the next send. A next batch of the same size then
 * matches the batch the broker holds (producer id, epoch, first and last sequence) and is
 * acknowledged as its retry without being written, by ringlog as by Kafka. The soak's
 * AcknowledgingProducer starts a new producer after a failed send; the second test fails without
 * that. Runs the broker from dist/ (`npm run build` first).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import kafkajs from 'kafkajs'
import { afterEach, describe, expect, it } from 'vitest'
import { closedPort, startRinglogBroker, type RinglogBroker } from '../cli/ringlog-process.js'
import { AcknowledgingProducer } from './fixtures/acknowledging-producer.js'
import { ResponseDroppingProxy } from './fixtures/response-dropping-proxy.js'

const { Kafka, logLevel } = kafkajs
const TOPIC = 'sequence-reuse'
const BATCH = 10

let cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined)
  cleanup = []
})

/** A broker behind a proxy that Metadata advertises, so every client connection goes through it. */
async function brokerBehindProxy(): Promise<{ broker: RinglogBroker; proxy: ResponseDroppingProxy; kafka: InstanceType<typeof Kafka> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ringlog-sequence-reuse-'))
  cleanup.push(async () => rmSync(dataDir, { recursive: true, force: true }))
  const brokerPort = await closedPort()
  const proxyPort = await closedPort()
  const broker = await startRinglogBroker(['--data-dir', dataDir, '--flush', 'always', '--group-initial-rebalance-delay-ms', '0',
    '--listener', `PLAINTEXT://127.0.0.1:${brokerPort}`, '--advertised-listener', `PLAINTEXT://127.0.0.1:${proxyPort}`])
  cleanup.push(() => broker.stop())
  const proxy = await ResponseDroppingProxy.start(brokerPort, proxyPort)
  cleanup.push(() => proxy.close())
  // Few, quick retries: the send below fails within a second or two.
  const kafka = new Kafka({ clientId: 'sequence-reuse', brokers: [`127.0.0.1:${proxyPort}`], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 50, maxRetryTime: 200 } })
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }], waitForLeaders: true })
  await admin.disconnect()
  return { broker, proxy, kafka }
}

/** Every key in the partition, read from offset 0 to the log end (bounded: 20 s). */
async function keysInLog(kafka: InstanceType<typeof Kafka>): Promise<string[]> {
  const admin = kafka.admin()
  await admin.connect()
  const [{ high }] = await admin.fetchTopicOffsets(TOPIC)
  await admin.disconnect()
  const keys: string[] = []
  const consumer = kafka.consumer({ groupId: `reader-${Date.now()}` })
  cleanup.push(() => consumer.disconnect())
  await consumer.connect()
  await consumer.subscribe({ topics: [TOPIC], fromBeginning: true })
  await consumer.run({ eachMessage: async ({ message }) => { keys.push(message.key!.toString()) } })
  for (let waited = 0; waited < 200 && keys.length < Number(high); waited++) await new Promise((r) => setTimeout(r, 100))
  await consumer.disconnect()
  expect(keys.length, `read ${keys.length} of ${high} records`).toBe(Number(high))
  return keys
}

/** One acknowledged batch, one failed send that the broker nevertheless appended, one more batch. */
async function sendAcrossALostResponse(replaceAfterFailure: boolean) {
  const { proxy, kafka } = await brokerBehindProxy()
  const producer = new AcknowledgingProducer(kafka, { replaceAfterFailure })
  cleanup.push(() => producer.close())
  const batch = (name: string) => Array.from({ length: BATCH }, (_, i) => `${name}-${i}`)
  expect(await producer.send(TOPIC, batch('first'))).toBe(true)
  proxy.dropProduceResponses = true
  expect(await producer.send(TOPIC, batch('unanswered'))).toBe(false)
  expect(proxy.dropped).toBeGreaterThan(0)
  proxy.dropProduceResponses = false
  const acknowledged = await producer.send(TOPIC, batch('next'))
  const log = new Set(await keysInLog(kafka))
  // The unanswered batch was appended once (its retries were recognised as such).
  expect(batch('unanswered').filter((key) => log.has(key))).toEqual(batch('unanswered'))
  return { acknowledged, nextInLog: batch('next').filter((key) => log.has(key)), producersStarted: producer.producersStarted }
}

describe('an idempotent kafkajs producer after a send whose response was lost', () => {
  it('reusing the producer: the next batch of the same size is acknowledged but not written (kafkajs reuses the sequence numbers)', async () => {
    const outcome = await sendAcrossALostResponse(false)
    expect(outcome.acknowledged).toBe(true)
    expect(outcome.nextInLog).toEqual([])
    expect(outcome.producersStarted).toBe(1)
  }, 30_000)

  it('the soak producer starts a new producer id after the failure: the next batch is acknowledged and in the log', async () => {
    const outcome = await sendAcrossALostResponse(true)
    expect(outcome.acknowledged).toBe(true)
    expect(outcome.nextInLog).toHaveLength(BATCH)
    expect(outcome.producersStarted).toBe(2)
  }, 30_000)
})
