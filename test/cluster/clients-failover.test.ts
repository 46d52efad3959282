/**
 * Issue 13, test 5: clients that were never told about the cluster follow it by themselves.
 * kcat (librdkafka) and confluent-kafka (python3) produce acks=all and consume across a kill -9
 * of the partition's leader; every record each sent is read back once, in order. Then a rolling
 * restart (SIGTERM each broker in turn, started again once the ISRs are full) under an
 * idempotent acks=all kafkajs load: every acknowledged record is read back once, in order,
 * no send fails, and no send waits anywhere near the lease TTL (controlled shutdown moved the
 * leaderships before each broker left; nothing waited for a lease to expire).
 * Needs `npm run build` (the brokers run bin/ringlog.js), /usr/bin/etcd, kcat, python3-confluent-kafka.
 */
import { execFile, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type EtcdProcess, startEtcd } from '../../src/cluster/etcd-process.js'
import { skipWithout } from '../compat/required-tool.js'
import { type BrokerProcess, startBrokerProcess, stopBrokerProcess } from './fixtures/broker-processes.js'
import { partitionView, until } from './fixtures/replica-logs.js'

const run = promisify(execFile)
const built = existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))
const hasEtcd = existsSync('/usr/bin/etcd')
const KCAT = '/usr/bin/kcat'
const PYTHON = '/usr/bin/python3'
const hasKcat = existsSync(KCAT)
const hasConfluent = spawnSync(PYTHON, ['-c', 'import confluent_kafka']).status === 0
const HALF = 150

/**
 * confluent-kafka: produces `py-0..half-1` (idempotent, acks=all), prints HALF and waits for a
 * line on stdin (the test kills the leader then), produces the rest, then consumes the topic
 * from the beginning with a group and prints the values it read as JSON.
 */
const CONFLUENT_SCRIPT = `
import sys, json, time
from confluent_kafka import Producer, Consumer
bootstrap, topic, half = sys.argv[1], sys.argv[2], int(sys.argv[3])
failed = []
def report(err, msg):
    if err is not None: failed.append(str(err))
p = Producer({'bootstrap.servers': bootstrap, 'enable.idempotence': True, 'acks': 'all', 'linger.ms': 5, 'message.timeout.ms': 60000})
def produce(lo, hi):
    for i in range(lo, hi):
        p.produce(topic, value='py-%d' % i, partition=0, on_delivery=report)
        p.poll(0)
    left = p.flush(60)
    if failed or left: raise SystemExit('delivery failed: %s, %d left' % (failed[:3], left))
produce(0, half)
print('HALF', flush=True)
sys.stdin.readline()
produce(half, 2 * half)
c = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'py-verify', 'auto.offset.reset': 'earliest', 'enable.auto.commit': False})
c.subscribe([topic])
seen = []
deadline = time.time() + 60
while time.time() < deadline and sum(1 for v in seen if v.startswith('py-')) < 2 * half:
    m = c.poll(0.5)
    if m is None or m.error(): continue
    seen.append(m.value().decode())
c.close()
print(json.dumps(seen), flush=True)
`

const kafkaOf = (brokers: BrokerProcess[], clientId: string): Kafka => new Kafka({
  clientId, brokers: brokers.map((b) => `127.0.0.1:${b.port}`), logLevel: logLevel.NOTHING,
  retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1_000 },
})

async function createTopic(brokers: BrokerProcess[], topic: string, partitions: number): Promise<void> {
  const admin = kafkaOf(brokers, `${topic}-admin`).admin()
  await admin.connect()
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }],
      waitForLeaders: true,
    })
  } finally {
    await admin.disconnect()
  }
}

/** Waits until every partition of `topic` has a leader and all three replicas in its ISR. */
function untilFullIsr(brokers: BrokerProcess[], topic: string, partitions: number, timeoutMs = 45_000): Promise<true> {
  return until(async () => {
    for (let p = 0; p < partitions; p++) {
      const view = await partitionView(brokers[0].port, topic, p)
      if (!view || view.leader < 0 || view.isr.length !== 3) return undefined
    }
    return true
  }, `every partition of ${topic} has a full ISR`, timeoutMs)
}

/** Values in `seen` that start with `prefix`, which must be exactly `expected` (each once, in order). */
const only = (seen: string[], prefix: string): string[] => seen.filter((v) => v.startsWith(prefix))
const range = (prefix: string, from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => `${prefix}${from + i}`)

describe.skipIf(!built || !hasEtcd || skipWithout('kcat', hasKcat, 'kcat') || skipWithout('confluent-kafka', hasConfluent, 'python3-confluent-kafka'))('cluster mode with unmodified clients', () => {
  let etcd: EtcdProcess
  let root = ''
  const brokers: BrokerProcess[] = []

  beforeAll(async () => {
    etcd = await startEtcd()
    root = mkdtempSync(join(tmpdir(), 'ringlog-cluster-clients-'))
  }, 60_000)

  afterAll(async () => {
    for (const b of brokers) await stopBrokerProcess(b, 'SIGKILL').catch(() => undefined)
    await etcd?.destroy()
    if (root) rmSync(root, { recursive: true, force: true })
  })

  async function startCluster(cluster: string, flags: string[]): Promise<void> {
    for (const b of brokers.splice(0)) await stopBrokerProcess(b, 'SIGKILL')
    for (const nodeId of [1, 2, 3]) {
      brokers.push(await startBrokerProcess({ nodeId, dataDir: join(root, cluster, `b${nodeId}`), etcd: etcd.endpoint, cluster, extra: flags }))
    }
  }

  it('kcat and confluent-kafka produce and consume across a kill -9 of the leader', async () => {
    await startCluster('kill', ['--lease-ttl-seconds', '2', '--replica-lag-time-max-ms', '10000'])
    const topic = 'cross'
    await createTopic(brokers, topic, 1)
    const bootstrap = brokers.map((b) => `127.0.0.1:${b.port}`).join(',')
    const kcat = async (args: string[]): Promise<string> =>
      (await run(KCAT, ['-b', bootstrap, ...args], { timeout: 90_000, maxBuffer: 64 * 1024 * 1024 })).stdout
    const kcatProduce = (values: string[]): Promise<string> => {
      const file = join(root, `kcat-${values[0]}.txt`)
      writeFileSync(file, `${values.join('\n')}\n`)
      return kcat(['-P', '-t', topic, '-p', '0', '-X', 'acks=all', '-X', 'message.timeout.ms=60000', '-l', file])
    }
    const kcatRead = async (): Promise<string[]> =>
      (await kcat(['-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '%s\\n'])).split('\n').filter((v) => v !== '')

    const python = spawn(PYTHON, ['-c', CONFLUENT_SCRIPT, bootstrap, topic, String(HALF)], { stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    python.stdout.on('data', (d: Buffer) => { out += d.toString() })
    python.stderr.on('data', (d: Buffer) => { err += d.toString() })
    const pythonDone = new Promise<number | null>((resolve) => python.once('exit', (code) => resolve(code)))
    try {
      await kcatProduce(range('kcat-', 0, HALF))
      await until(async () => (out.includes('HALF') ? true : python.exitCode !== null ? Promise.reject(new Error(err)) : undefined), 'confluent-kafka sent its first half', 60_000)
      expect(only(await kcatRead(), 'kcat-')).toEqual(range('kcat-', 0, HALF))

      const before = (await partitionView(brokers[0].port, topic, 0))!
      const victim = brokers.find((b) => b.nodeId === before.leader)!
      await stopBrokerProcess(victim, 'SIGKILL')
      python.stdin.write('go\n')
      await kcatProduce(range('kcat-', HALF, 2 * HALF))
      expect(await pythonDone).toBe(0)
      const survivor = brokers.find((b) => b !== victim)!
      const after = (await partitionView(survivor.port, topic, 0))!
      expect(after.leader).not.toBe(victim.nodeId)
      expect(after.leaderEpoch).toBeGreaterThan(before.leaderEpoch)
    } finally {
      if (python.exitCode === null) python.kill('SIGKILL')
    }
    const seenByPython = JSON.parse(out.slice(out.indexOf('HALF') + 4).trim()) as string[]
    const seenByKcat = await kcatRead()
    for (const seen of [seenByPython, seenByKcat]) {
      expect(only(seen, 'py-')).toEqual(range('py-', 0, 2 * HALF))
    }
    expect(only(seenByKcat, 'kcat-')).toEqual(range('kcat-', 0, 2 * HALF))
  }, 180_000)

  it('a rolling restart (SIGTERM each broker in turn) under acks=all kafkajs load loses nothing and no send waits for a lease timeout', async () => {
    // Long, so a send that waited for a lease (not a controlled handoff) stands out from any slowness of a loaded machine.
    const ttlSeconds = 60
    await startCluster('rolling', ['--lease-ttl-seconds', String(ttlSeconds), '--replica-lag-time-max-ms', '10000'])
    const topic = 'rolling'
    const partitions = 3
    await createTopic(brokers, topic, partitions)
    await untilFullIsr(brokers, topic, partitions)

    const producer = kafkaOf(brokers, 'rolling-load').producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    const acked: string[][] = Array.from({ length: partitions }, () => [])
    const latencies: number[] = []
    let failure: unknown
    let stop = false
    const load = (async () => {
      for (let send = 0; !stop && send < 100_000; send++) {
        const partition = send % partitions
        const values = Array.from({ length: 5 }, (_, i) => `r-${send}-${i}`)
        const started = performance.now()
        try {
          await producer.send({ topic, acks: -1, messages: values.map((value) => ({ partition, value })) })
        } catch (error) {
          failure ??= error
          continue
        }
        latencies.push(performance.now() - started)
        acked[partition].push(...values)
      }
    })()
    const handoffs: string[] = []
    try {
      for (let i = 0; i < brokers.length; i++) {
        const sendsBefore = latencies.length
        await until(async () => (latencies.length >= sendsBefore + 20 ? true : undefined), 'the load makes progress')
        const leaving = brokers[i]
        await stopBrokerProcess(leaving, 'SIGTERM')
        handoffs.push(leaving.output().split('\n').find((l) => l.includes('controlled shutdown')) ?? `broker ${leaving.nodeId}: no controlled shutdown line`)
        brokers[i] = await startBrokerProcess({ nodeId: leaving.nodeId, dataDir: leaving.dataDir, port: leaving.port, etcd: etcd.endpoint, cluster: 'rolling',
          extra: ['--lease-ttl-seconds', String(ttlSeconds), '--replica-lag-time-max-ms', '10000'] })
        await untilFullIsr(brokers, topic, partitions)
      }
      const sendsBefore = latencies.length
      await until(async () => (latencies.length >= sendsBefore + 20 ? true : undefined), 'the load makes progress after the restarts')
    } finally {
      stop = true
      await load
      await producer.disconnect()
    }
    expect(failure).toBeUndefined()
    for (const line of handoffs) expect(line).toMatch(/controlled shutdown done$/)
    const slowest = Math.max(...latencies)
    console.log(`rolling restart: ${latencies.length} acks=all sends, slowest ${slowest.toFixed(0)} ms, median ${[...latencies].sort((a, b) => a - b)[Math.floor(latencies.length / 2)].toFixed(0)} ms (lease TTL ${ttlSeconds} s)`)
    // A send that waited for a dead broker's lease would take most of the TTL.
    expect(slowest).toBeLessThan((ttlSeconds * 1000) / 2)

    const consumer = kafkaOf(brokers, 'rolling-read').consumer({ groupId: 'rolling-verify', maxWaitTimeInMs: 200 })
    const seen: string[][] = Array.from({ length: partitions }, () => [])
    const total = acked.reduce((n, list) => n + list.length, 0)
    let seenCount = 0 // a count, not seen.flat().length per message (quadratic in the records read)
    await consumer.connect()
    try {
      await consumer.subscribe({ topic, fromBeginning: true })
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`read ${seenCount} of ${total} records within 60 s`)), 60_000)
        void consumer.run({
          eachMessage: async ({ partition, message }) => {
            seen[partition].push(message.value!.toString())
            if (++seenCount >= total) { clearTimeout(timer); resolve() }
          },
        }).catch(reject)
      })
    } finally {
      await consumer.disconnect()
    }
    for (let p = 0; p < partitions; p++) expect(seen[p]).toEqual(acked[p])
  }, 240_000)
})
