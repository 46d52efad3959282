/**
 * Real clients against SASL and TLS listeners: kcat (librdkafka) with SCRAM-SHA-512 and PLAIN
 * over SASL_PLAINTEXT and SCRAM-SHA-256 over SASL_SSL, kafkajs with scram-sha-512 over TLS,
 * kafka-python with PLAIN (legacy SaslHandshake v0 framing), confluent-kafka with SCRAM-SHA-512
 * over SASL_SSL and PLAIN over SASL_PLAINTEXT; each produces and consumes back,
 * and each fails with a wrong password. Metadata on a listener names that listener's address.
 */
import { execFile, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import kafkajs from 'kafkajs'
import { skipWithout } from '../compat/required-tool.js'
import { ALICE, startSecureBroker, type SecureBroker } from './secure-broker.js'

const run = promisify(execFile)
const KCAT = '/usr/bin/kcat'
const PYTHON = '/usr/bin/python3'
const hasKcat = existsSync(KCAT)
const hasKafkaPython = spawnSync(PYTHON, ['-c', 'import kafka']).status === 0

let sb: SecureBroker

beforeAll(async () => {
  sb = await startSecureBroker()
}, 120_000)

afterAll(async () => {
  await sb?.close()
})

function saslArgs(protocol: 'SASL_PLAINTEXT' | 'SASL_SSL', mechanism: string, password: string): string[] {
  const port = protocol === 'SASL_SSL' ? sb.saslSsl : sb.saslPlaintext
  const args = ['-b', `127.0.0.1:${port}`, '-X', `security.protocol=${protocol}`, '-X', `sasl.mechanisms=${mechanism}`, '-X', `sasl.username=${ALICE.user}`, '-X', `sasl.password=${password}`]
  if (protocol === 'SASL_SSL') args.push('-X', `ssl.ca.location=${sb.certs.caCert}`)
  return args
}

async function kcat(args: string[], input?: string): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    const child = execFile(KCAT, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ stdout, stderr, code: error ? (typeof error.code === 'number' ? error.code : 1) : 0 })
    })
    if (input !== undefined) child.stdin!.end(input)
    else child.stdin!.end()
  })
}

// Each case has its own topic and kcat processes, so the cases run side by side.
describe.skipIf(skipWithout('kcat', hasKcat, 'kcat'))('kcat over SASL', { concurrent: true }, () => {
  const cases = [
    ['SASL_PLAINTEXT', 'SCRAM-SHA-512'],
    ['SASL_PLAINTEXT', 'PLAIN'],
    ['SASL_SSL', 'SCRAM-SHA-256'],
    ['SASL_SSL', 'SCRAM-SHA-512'],
  ] as const
  for (const [protocol, mechanism] of cases) {
    it(`produces and consumes over ${protocol} with ${mechanism}; Metadata names this listener`, async () => {
      const topic = `kc-${protocol}-${mechanism}`.toLowerCase()
      const lines = Array.from({ length: 200 }, (_, i) => `${mechanism} line ${i}`)
      const produced = await kcat([...saslArgs(protocol, mechanism, ALICE.password), '-P', '-t', topic, '-X', 'acks=all'], lines.join('\n') + '\n')
      expect(produced.code, produced.stderr).toBe(0)
      const consumed = await kcat([...saslArgs(protocol, mechanism, ALICE.password), '-C', '-t', topic, '-e', '-o', 'beginning', '-q'])
      expect(consumed.code, consumed.stderr).toBe(0)
      expect(consumed.stdout).toBe(lines.join('\n') + '\n')
      const meta = await kcat([...saslArgs(protocol, mechanism, ALICE.password), '-L'])
      const port = protocol === 'SASL_SSL' ? sb.saslSsl : sb.saslPlaintext
      expect(meta.stdout).toContain(`broker 0 at 127.0.0.1:${port}`)
    }, 120_000)

    it(`fails with a wrong password over ${protocol} with ${mechanism}`, async () => {
      const result = await kcat([...saslArgs(protocol, mechanism, 'wrong'), '-L', '-m', '3'])
      expect(result.code).not.toBe(0)
      expect(result.stderr).toContain('Authentication failed during authentication due to invalid credentials')
    }, 60_000)
  }
})

describe('kafkajs over SASL_SSL with scram-sha-512', () => {
  const { Kafka, logLevel } = kafkajs
  const client = (password: string) => new Kafka({
    clientId: 'security', brokers: [`127.0.0.1:${sb.saslSsl}`], logLevel: logLevel.NOTHING,
    ssl: { ca: [readFileSync(sb.certs.caCert, 'utf8')], servername: 'localhost' },
    sasl: { mechanism: 'scram-sha-512', username: ALICE.user, password },
    retry: { retries: 2, initialRetryTime: 100 },
  })

  it('produces and consumes', async () => {
    const kafka = client(ALICE.password)
    const producer = kafka.producer()
    await producer.connect()
    const messages = Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, value: `kafkajs-${i}` }))
    await producer.send({ topic: 'kjs-tls', messages, acks: -1 })
    await producer.disconnect()
    const consumer = kafka.consumer({ groupId: 'kjs-tls-group', maxWaitTimeInMs: 200 }) // disconnect would wait out a 5 s fetch
    await consumer.connect()
    await consumer.subscribe({ topic: 'kjs-tls', fromBeginning: true })
    const seen: string[] = []
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`consumed ${seen.length} of 100`)), 60_000)
      void consumer.run({
        eachMessage: async ({ message }) => {
          seen.push(message.value!.toString())
          if (seen.length === messages.length) {
            clearTimeout(timer)
            resolve()
          }
        },
      })
    })
    await consumer.disconnect()
    expect(seen).toEqual(messages.map((m) => m.value))
  }, 120_000)

  it('fails with a wrong password with KafkaJSSASLAuthenticationError', async () => {
    const admin = client('wrong').admin()
    await expect(admin.connect()).rejects.toMatchObject({ name: 'KafkaJSSASLAuthenticationError' })
    await admin.disconnect()
  }, 60_000)
})

const KAFKA_PYTHON = `
import sys
from kafka import KafkaProducer, KafkaConsumer
port, password, topic, max_block = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
common = dict(bootstrap_servers='127.0.0.1:' + port, security_protocol='SASL_PLAINTEXT', sasl_mechanism='PLAIN',
              sasl_plain_username='alice', sasl_plain_password=password, api_version=(2, 0, 0))
try:
    p = KafkaProducer(acks='all', max_block_ms=max_block, **common)
    for i in range(50): p.send(topic, ('kafka-python-%d' % i).encode())
    p.flush(30)
    p.close()
    c = KafkaConsumer(topic, auto_offset_reset='earliest', consumer_timeout_ms=10000, **common)
    values = []
    for m in c:  # consumer_timeout_ms only bounds a stall: stop as soon as all 50 are in
        values.append(m.value.decode())
        if len(values) == 50: break
    c.close()
    print(len(values), values[0], values[-1])
except Exception as e:
    print('error', type(e).__name__, e)
`

describe.skipIf(skipWithout('kafka-python', hasKafkaPython, 'python3-kafka'))('kafka-python with SASL PLAIN (legacy v0 framing)', () => {
  it('produces and consumes', async () => {
    const { stdout } = await run(PYTHON, ['-c', KAFKA_PYTHON, String(sb.saslPlaintext), ALICE.password, 'kpy-plain', '10000'], { timeout: 90_000 })
    expect(stdout.trim()).toBe('50 kafka-python-0 kafka-python-49')
  }, 120_000)

  it('fails with a wrong password', async () => {
    const { stdout } = await run(PYTHON, ['-c', KAFKA_PYTHON, String(sb.saslPlaintext), 'wrong', 'kpy-plain', '1000'], { timeout: 90_000 })
    expect(stdout).toMatch(/^error /)
    expect(stdout).not.toMatch(/^50 /)
  }, 120_000)
})

const CONFLUENT = `
import sys
from confluent_kafka import Producer, Consumer, KafkaException
port, protocol, mechanism, password, topic, ca = sys.argv[1:7]
common = {'bootstrap.servers': '127.0.0.1:' + port, 'security.protocol': protocol, 'sasl.mechanisms': mechanism,
          'sasl.username': 'alice', 'sasl.password': password}
if protocol == 'SASL_SSL': common['ssl.ca.location'] = ca
errors = []
common['error_cb'] = lambda e: errors.append(e)
p = Producer(dict(common, **{'acks': 'all', 'message.timeout.ms': 8000}))
for i in range(50): p.produce(topic, ('confluent-%d' % i).encode())
# A refused login shows as an error callback: stop at the first instead of waiting out the delivery timeout.
left = len(p)
for _ in range(100):
    if errors: break
    left = p.flush(0.1)
    if left == 0: break
if left or errors:
    print('error', errors[0].name() if errors else 'undelivered %d' % left)
    sys.exit(0)
c = Consumer(dict(common, **{'group.id': 'cf-' + topic, 'auto.offset.reset': 'earliest'}))
c.subscribe([topic])
values = []
for _ in range(200):
    m = c.poll(0.5)
    if m is None: continue
    if m.error(): raise KafkaException(m.error())
    values.append(m.value().decode())
    if len(values) == 50: break
c.close()
print(len(values), values[0], values[-1])
`
const hasConfluent = spawnSync(PYTHON, ['-c', 'import confluent_kafka']).status === 0

describe.skipIf(skipWithout('confluent-kafka', hasConfluent, 'python3-confluent-kafka'))('confluent-kafka (librdkafka)', () => {
  const cases = [['SASL_SSL', 'SCRAM-SHA-512'], ['SASL_PLAINTEXT', 'PLAIN']] as const
  for (const [protocol, mechanism] of cases) {
    const port = () => String(protocol === 'SASL_SSL' ? sb.saslSsl : sb.saslPlaintext)
    it(`produces and consumes over ${protocol} with ${mechanism}`, async () => {
      const topic = `cf-${protocol}-${mechanism}`.toLowerCase()
      const { stdout } = await run(PYTHON, ['-c', CONFLUENT, port(), protocol, mechanism, ALICE.password, topic, sb.certs.caCert], { timeout: 90_000 })
      expect(stdout.trim()).toBe('50 confluent-0 confluent-49')
    }, 120_000)

    it(`fails with a wrong password over ${protocol} with ${mechanism}`, async () => {
      const { stdout } = await run(PYTHON, ['-c', CONFLUENT, port(), protocol, mechanism, 'wrong', `cf-wrong-${mechanism}`.toLowerCase(), sb.certs.caCert], { timeout: 90_000 })
      expect(stdout.trim()).toBe('error _AUTHENTICATION')
    }, 120_000)
  }
})
