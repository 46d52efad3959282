/**
 * Python clients as producers, unchanged: kafka-python (pure Python, infers the broker version
 * from ApiVersions) with gzip and acks=all, and confluent-kafka (librdkafka) with the idempotent
 * producer and lz4. Every record is read back with kafkajs and compared key by key.
 */
import { execFile, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BrokerServer } from '../../src/broker/server.js'
import { bootstrapOf, kafkaClient, startBroker, tempDir, waitFor } from './groups-harness.js'
import { skipWithout } from './required-tool.js'
import './kafkajs-lz4.js'

const PYTHON = '/usr/bin/python3'
const hasModule = (name: string): boolean => spawnSync(PYTHON, ['-c', `import ${name}`]).status === 0
const hasKafkaPython = hasModule('kafka')
const hasConfluent = hasModule('confluent_kafka')

const KAFKA_PYTHON_PRODUCER = `
import sys
from kafka import KafkaProducer
bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
p = KafkaProducer(bootstrap_servers=bootstrap, acks='all', compression_type='gzip', linger_ms=5, retries=5)
futures = [p.send(topic, key=('k%d' % i).encode(), value=('kafka-python-%d' % i).encode(), headers=[('n', str(i).encode())]) for i in range(count)]
p.flush(30)
print(sum(1 for f in futures if f.get(timeout=30).offset >= 0))
`

const CONFLUENT_PRODUCER = `
import sys
from confluent_kafka import Producer
bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
delivered = [0]
failed = []
def report(err, msg):
    if err is None: delivered[0] += 1
    else: failed.append(str(err))
p = Producer({'bootstrap.servers': bootstrap, 'enable.idempotence': True, 'compression.codec': 'lz4', 'linger.ms': 5})
for i in range(count):
    p.produce(topic, key='k%d' % i, value='librdkafka-%d' % i, headers=[('n', str(i))], on_delivery=report)
    if i % 1000 == 0: p.poll(0)
left = p.flush(30)
print(delivered[0] if not failed and left == 0 else 'failed %s %d' % (failed[:3], left))
`

const skip = skipWithout('kafka-python', hasKafkaPython, 'python3-kafka') || skipWithout('confluent-kafka', hasConfluent, 'python3-confluent-kafka')

describe.skipIf(skip)('Python producers', () => {
  const dir = tempDir('python-producers')
  let broker: BrokerServer
  let bootstrap: string

  beforeAll(async () => {
    broker = await startBroker(dir.path, { flush: 'always', numPartitions: 3 })
    bootstrap = bootstrapOf(broker)
  })
  afterAll(async () => {
    await broker?.stop()
    dir.remove()
  })

  // Asynchronous on purpose: the broker runs in this process, so a sync exec would starve it.
  const runPython = async (name: string, source: string, topic: string, count: number): Promise<string> => {
    const script = join(dir.path, `${name}.py`)
    writeFileSync(script, source)
    const { stdout } = await promisify(execFile)(PYTHON, [script, bootstrap, topic, String(count)], { encoding: 'utf8', timeout: 60_000 })
    return stdout.trim()
  }

  /** Reads every record of `topic` with kafkajs (no group: assign by seeking each partition to 0). */
  const readAll = async (topic: string, expected: number): Promise<Map<string, { value: string; header: string }>> => {
    const kafka = kafkaClient(bootstrap, 'python-readback')
    const consumer = kafka.consumer({ groupId: `readback-${topic}`, maxWaitTimeInMs: 200 })
    const seen = new Map<string, { value: string; header: string }>()
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.set(message.key!.toString(), { value: message.value!.toString(), header: message.headers!.n!.toString() })
      },
    })
    try {
      await waitFor(`${expected} records of ${topic}`, () => seen.size >= expected, 30_000)
    } finally {
      await consumer.disconnect()
    }
    return seen
  }

  it('kafka-python (gzip, acks=all) records all arrive intact', async () => {
    const count = 3000
    expect(await runPython('kafka_python_producer', KAFKA_PYTHON_PRODUCER, 'from-kafka-python', count)).toBe(String(count))
    const seen = await readAll('from-kafka-python', count)
    expect(seen.size).toBe(count)
    for (let i = 0; i < count; i++) expect(seen.get(`k${i}`)).toEqual({ value: `kafka-python-${i}`, header: String(i) })
  })

  it('confluent-kafka idempotent lz4 producer: every record exactly once', async () => {
    const count = 20_000
    expect(await runPython('confluent_producer', CONFLUENT_PRODUCER, 'from-librdkafka', count)).toBe(String(count))
    const seen = await readAll('from-librdkafka', count)
    expect(seen.size).toBe(count)
    for (let i = 0; i < count; i++) expect(seen.get(`k${i}`)).toEqual({ value: `librdkafka-${i}`, header: String(i) })
    // Exactly once: the log holds no more records than were produced.
    const admin = kafkaClient(bootstrap, 'python-offsets').admin()
    await admin.connect()
    try {
      const offsets = await admin.fetchTopicOffsets('from-librdkafka')
      expect(offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0)).toBe(count)
    } finally {
      await admin.disconnect()
    }
  })
})
