/**
 * confluent-kafka (librdkafka) transactions, unchanged: a transactional producer
 * (`transactional.id`, init_transactions, begin/commit/abort_transaction) commits, aborts and
 * commits again, and a read_committed confluent-kafka consumer sees every committed record, in
 * order, and none of the aborted ones.
 */
import { execFile, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { skipWithout } from './required-tool.js'
import { startTestBroker, type TestBroker } from '../broker/test-broker.js'

const PYTHON = '/usr/bin/python3'
const hasConfluent = spawnSync(PYTHON, ['-c', 'import confluent_kafka']).status === 0

const SCRIPT = `
import json, sys, time
from confluent_kafka import Consumer, Producer, TopicPartition
bootstrap, topic = sys.argv[1], sys.argv[2]
p = Producer({'bootstrap.servers': bootstrap, 'transactional.id': 'confluent-tx', 'transaction.timeout.ms': 20000})
p.init_transactions(20)
def txn(values, commit):
    p.begin_transaction()
    for v in values:
        p.produce(topic, value=v, partition=0)
    p.flush(20)
    if commit:
        p.commit_transaction(20)
    else:
        p.abort_transaction(20)
txn(['c%d' % i for i in range(10)], True)
txn(['a%d' % i for i in range(10)], False)
txn(['c%d' % i for i in range(10, 20)] + ['end'], True)
c = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'confluent-rc', 'isolation.level': 'read_committed', 'auto.offset.reset': 'earliest', 'enable.auto.commit': False})
c.assign([TopicPartition(topic, 0, 0)])
seen = []
deadline = time.time() + 30
while time.time() < deadline and 'end' not in seen:
    m = c.poll(0.2)
    if m is None or m.error():
        continue
    seen.append(m.value().decode())
c.close()
print(json.dumps(seen))
`

const skip = skipWithout('confluent-kafka', hasConfluent, 'python3-confluent-kafka')

describe.skipIf(skip)('confluent-kafka transactions', () => {
  let broker: TestBroker

  beforeAll(async () => {
    broker = await startTestBroker({ transactionStateLogNumPartitions: 2 })
  })
  afterAll(async () => {
    await broker?.destroy()
  })

  it('a read_committed consumer sees every committed record in order and no aborted one', async () => {
    const { stdout } = await promisify(execFile)(PYTHON, ['-c', SCRIPT, `127.0.0.1:${broker.port}`, 'confluent-tx-topic'], { timeout: 60_000 })
    const seen = JSON.parse(stdout.trim().split('\n').pop()!) as string[]
    expect(seen).toEqual([...Array.from({ length: 20 }, (_, i) => `c${i}`), 'end'])
  })
})
