/**
 * Old producers: kafka-python pinned to broker versions 0.8.2 (Produce v0, magic 0), 0.9
 * (Produce v1, magic 0) and 0.10.0 (Produce v2, magic 1) sends message sets, plain and with
 * each wrapper codec; the broker up-converts them to RecordBatch v2, and kafkajs (a modern
 * client, Fetch v11) reads every record back with its key, value and, for magic 1, timestamp.
 */
import { execFile, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BrokerServer } from '../../src/broker/server.js'
import { bootstrapOf, kafkaClient, startBroker, tempDir, waitFor } from './groups-harness.js'
import { skipWithout } from './required-tool.js'
import './kafkajs-lz4.js'
import './kafkajs-snappy.js'

const PYTHON = '/usr/bin/python3'
const hasModules = spawnSync(PYTHON, ['-c', 'import kafka, snappy, lz4']).status === 0
const COUNT = 500
const BASE_TIMESTAMP = 1_700_000_000_000

/** One Python process sends every case in turn (one KafkaProducer per version and codec). */
const OLD_PRODUCERS = `
import sys
from kafka import KafkaProducer
bootstrap, count, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for spec in sys.argv[4:]:
    topic, version, codec = spec.split(':')
    p = KafkaProducer(bootstrap_servers=bootstrap, api_version=tuple(int(x) for x in version.split('.')), acks=1, compression_type=None if codec == 'none' else codec, linger_ms=5, batch_size=16384)
    futures = [p.send(topic, key=None if i % 9 == 0 else ('k%d' % i).encode(), value=('old-%d' % i).encode(), timestamp_ms=base + i) for i in range(count)]
    p.flush(30)
    print(topic, sum(1 for f in futures if f.get(timeout=30).offset >= 0))
    p.close()
`

const CASES: { version: string; codec: string; magic: 0 | 1 }[] = [
  { version: '0.8.2', codec: 'none', magic: 0 },
  { version: '0.8.2', codec: 'gzip', magic: 0 },
  { version: '0.9', codec: 'snappy', magic: 0 },
  { version: '0.10.0', codec: 'none', magic: 1 },
  { version: '0.10.0', codec: 'gzip', magic: 1 },
  { version: '0.10.0', codec: 'snappy', magic: 1 },
  { version: '0.10.0', codec: 'lz4', magic: 1 },
]

const skip = skipWithout('kafka-python with snappy and lz4', hasModules, 'python3-kafka python3-snappy python3-lz4')

describe.skipIf(skip)('old producers: message sets up-converted on produce', () => {
  const dir = tempDir('legacy-producers')
  let broker: BrokerServer
  let bootstrap: string

  type Read = { offset: number; key: string | null; value: string; timestamp: number }
  const topicOf = (version: string, codec: string): string => `old-${version.replaceAll('.', '_')}-${codec}`
  const acknowledged = new Map<string, number>()
  const readBack = new Map<string, Read[]>()

  // One Python process produces every case and one kafkajs consumer reads every topic back
  // (a process start and a group join per case made this file the suite's slowest).
  beforeAll(async () => {
    broker = await startBroker(dir.path, { numPartitions: 1 })
    bootstrap = bootstrapOf(broker)
    for (const c of CASES) await broker.context.createTopic(topicOf(c.version, c.codec), 1)
    const script = join(dir.path, 'old_producers.py')
    writeFileSync(script, OLD_PRODUCERS)
    const specs = CASES.map((c) => `${topicOf(c.version, c.codec)}:${c.version}:${c.codec}`)
    const { stdout } = await promisify(execFile)(PYTHON, [script, bootstrap, String(COUNT), String(BASE_TIMESTAMP), ...specs], { encoding: 'utf8', timeout: 90_000 })
    for (const line of stdout.trim().split('\n')) {
      const [topic, count] = line.split(' ')
      acknowledged.set(topic, Number(count))
    }
    const consumer = kafkaClient(bootstrap, 'legacy-readback').consumer({ groupId: 'readback', maxWaitTimeInMs: 200 })
    await consumer.connect()
    for (const c of CASES) await consumer.subscribe({ topic: topicOf(c.version, c.codec), fromBeginning: true })
    let total = 0
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        const list = readBack.get(topic) ?? []
        list.push({ offset: Number(message.offset), key: message.key?.toString() ?? null, value: message.value!.toString(), timestamp: Number(message.timestamp) })
        readBack.set(topic, list)
        total++
      },
    })
    try {
      await waitFor(`${COUNT * CASES.length} records read back`, () => total >= COUNT * CASES.length, 60_000)
    } finally {
      await consumer.disconnect()
    }
  }, 150_000)
  afterAll(async () => {
    await broker?.stop()
    dir.remove()
  })

  for (const { version, codec, magic } of CASES) {
    it(`kafka-python as a ${version} client (magic ${magic}, ${codec})`, () => {
      const topic = topicOf(version, codec)
      expect(acknowledged.get(topic)).toBe(COUNT)
      const records = readBack.get(topic) ?? []
      expect(records).toHaveLength(COUNT)
      records.forEach((r, i) => {
        expect(r.offset).toBe(i)
        expect(r.value).toBe(`old-${i}`)
        expect(r.key).toBe(i % 9 === 0 ? null : `k${i}`)
        // Magic 0 carries no timestamp: the batch says -1 (Kafka's NO_TIMESTAMP).
        expect(r.timestamp).toBe(magic === 1 ? BASE_TIMESTAMP + i : -1)
      })
    })
  }

  it('a corrupt v0 message set is refused with CORRUPT_MESSAGE and nothing is stored', async () => {
    await broker.context.createTopic('old-corrupt', 1)
    const script = join(dir.path, 'corrupt.py')
    writeFileSync(script, String.raw`
import sys
from kafka.client_async import KafkaClient
from kafka.protocol.produce import ProduceRequest
from kafka.record.legacy_records import LegacyRecordBatchBuilder
b = LegacyRecordBatchBuilder(magic=0, compression_type=0, batch_size=1 << 20)
b.append(0, timestamp=None, key=b'k', value=b'value')
data = bytearray(b.build())
data[-1] ^= 1
c = KafkaClient(bootstrap_servers=sys.argv[1], api_version=(0, 8, 2))
c.poll(future=c.cluster.request_update())
node = c.least_loaded_node()
while not c.ready(node): c.poll(timeout_ms=100)
f = c.send(node, ProduceRequest[0](required_acks=1, timeout=5000, topics=[('old-corrupt', [(0, bytes(data))])]))
c.poll(future=f, timeout_ms=10000)
print(f.value.topics[0][1][0][1])
`)
    const { stdout } = await promisify(execFile)(PYTHON, [script, bootstrap], { encoding: 'utf8', timeout: 30_000 })
    expect(Number(stdout.trim())).toBe(2)
    expect(broker.context.engine.offsets('old-corrupt', 0)?.logEndOffset).toBe(0)
  })
})
