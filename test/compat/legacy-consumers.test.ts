/**
 * Old consumers: kafka-python pinned to broker versions 0.9 (Fetch v1, message format magic 0)
 * and 0.10.0 (Fetch v2, magic 1; ListOffsets v0) reads records that were written as
 * RecordBatch v2 (plain and gzip, with headers): the broker down-converts them, the client
 * checks every CRC (check_crcs) and gets keys, values and (magic 1) timestamps intact.
 */
import { execFile, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Compression } from '../../src/protocol/compression.js'
import { startTestBroker, type TestBroker } from '../broker/test-broker.js'

const PYTHON = '/usr/bin/python3'
const hasKafkaPython = spawnSync(PYTHON, ['-c', 'import kafka']).status === 0
const COUNT = 300

const OLD_CONSUMER = String.raw`
import json, sys, time
from kafka import KafkaConsumer, TopicPartition
bootstrap, topic, count, version = sys.argv[1], sys.argv[2], int(sys.argv[3]), tuple(int(x) for x in sys.argv[4].split('.'))
c = KafkaConsumer(bootstrap_servers=bootstrap, api_version=version, auto_offset_reset='earliest', enable_auto_commit=False, check_crcs=True, consumer_timeout_ms=20000)
tp = TopicPartition(topic, 0)
c.assign([tp])
c.seek_to_beginning(tp)
out = []
deadline = time.time() + 30
while len(out) < count and time.time() < deadline:
    for records in c.poll(timeout_ms=500).values():
        for r in records:
            out.append([r.offset, r.timestamp, r.key.decode() if r.key is not None else None, r.value.decode()])
print(json.dumps({'records': out, 'end': c.end_offsets([tp])[tp] if version >= (0, 10, 1) else None}))
`

let broker: TestBroker

beforeAll(async () => {
  broker = await startTestBroker({ numPartitions: 1 })
  await broker.server.context.createTopic('legacy', 1)
  for (let start = 0; start < COUNT; start += 50) {
    const compression = (start / 50) % 2 === 0 ? Compression.none : Compression.gzip
    await broker.server.context.engine.appendRecords('legacy', 0, Array.from({ length: 50 }, (_, j) => ({
      key: j % 7 === 0 ? null : Buffer.from(`k${start + j}`), value: Buffer.from(`value-${start + j}`), headers: [{ key: 'h', value: Buffer.from('dropped') }], timestamp: 1_700_000_000_000 + start + j,
    })), { acks: -1, compression })
  }
})

afterAll(async () => {
  await broker?.destroy()
})

describe.skipIf(!hasKafkaPython)('old consumers read down-converted message sets', () => {
  for (const version of ['0.9', '0.10.0']) {
    it(`kafka-python as a ${version} client`, async () => {
      const { stdout } = await promisify(execFile)(PYTHON, ['-c', OLD_CONSUMER, `127.0.0.1:${broker.port}`, 'legacy', String(COUNT), version], { timeout: 60_000 })
      const { records } = JSON.parse(stdout.trim().split('\n').pop()!) as { records: [number, number | null, string | null, string][] }
      expect(records).toHaveLength(COUNT)
      records.forEach(([offset, timestamp, key, value], i) => {
        expect(offset).toBe(i)
        expect(value).toBe(`value-${i}`)
        expect(key).toBe(i % 50 % 7 === 0 ? null : `k${i}`)
        // Magic 0 has no timestamps (kafka-python reports None); magic 1 carries each record's.
        expect(timestamp).toBe(version === '0.9' ? null : 1_700_000_000_000 + i)
      })
    })
  }
})
