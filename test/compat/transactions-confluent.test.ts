/**
 * confluent-kafka (librdkafka) transactions, unchanged: a transactional producer
 * (`transactional.id`, init_transactions, begin/commit/abort_transaction) commits, aborts and
 * commits again, and a read_committed confluent-kafka consumer (read-committed-consumer.py) sees
 * every committed record, in order, and none of the aborted ones.
 */
import { execFile, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { skipWithout } from './required-tool.js'
import { startTestBroker, type TestBroker } from '../broker/test-broker.js'

const PYTHON = '/usr/bin/python3'
const hasConfluent = spawnSync(PYTHON, ['-c', 'import confluent_kafka']).status === 0
/** The read_committed consumer the transaction tests share. */
const READ_COMMITTED_CONSUMER = fileURLToPath(new URL('./read-committed-consumer.py', import.meta.url))

/** The transactional producer: commits, aborts, commits again. */
const PRODUCER_SCRIPT = `
import sys
from confluent_kafka import Producer
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
    const bootstrap = `127.0.0.1:${broker.port}`
    await promisify(execFile)(PYTHON, ['-c', PRODUCER_SCRIPT, bootstrap, 'confluent-tx-topic'], { timeout: 60_000 })
    const committed = [...Array.from({ length: 20 }, (_, i) => `c${i}`), 'end']
    const { stdout } = await promisify(execFile)(PYTHON, [READ_COMMITTED_CONSUMER, bootstrap, 'confluent-tx-topic', String(1 << 20), String(committed.length)], { timeout: 60_000 })
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual(committed)
  })
})
