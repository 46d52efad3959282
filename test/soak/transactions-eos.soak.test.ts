/**
 * Exactly-once consume-transform-produce with kafkajs under kill -9 of the client: a child
 * process (fixtures/eos-client.mjs) turns each fetched batch of the input topic into one
 * transaction (output records + the input offsets through sendOffsets) and is SIGKILLed at a
 * seeded moment several times, each time restarted with the same transactional id (which
 * aborts what the killed one left open and fences it). When the group's committed offset
 * reaches the end of the input, the output read with read_committed holds every input record
 * exactly once. RINGLOG_SOAK_EOS_RECORDS (default 50,000) and RINGLOG_SOAK_EOS_KILLS (5).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import kafkajs from 'kafkajs'
import { RawClient } from '../broker/raw-client.js'
import { startTestBroker, type TestBroker } from '../broker/test-broker.js'
import { seededRandom, testSeed } from '../seed.js'
import { readIsolated } from '../transactions/read-isolated.js'

const RECORDS = Number(process.env.RINGLOG_SOAK_EOS_RECORDS ?? 50_000)
const KILLS = Number(process.env.RINGLOG_SOAK_EOS_KILLS ?? 5)
const CLIENT = fileURLToPath(new URL('./fixtures/eos-client.mjs', import.meta.url))
const FINISH_TIMEOUT_MS = 10 * 60_000

function startClient(bootstrap: string): { child: ChildProcess; commits(): number } {
  const child = spawn(process.execPath, [CLIENT, bootstrap, 'eos-in', 'eos-out', 'eos-group', 'eos-tx'], { stdio: ['ignore', 'pipe', 'inherit'] })
  let commits = 0
  child.stdout!.on('data', (chunk: Buffer) => { commits += chunk.toString().split('\n').filter((l) => l.startsWith('committed')).length })
  // A client that exits by itself (not killed here) fails the test at once instead of stalling it.
  child.once('exit', (code, signal) => { if (signal !== 'SIGKILL') crashed = new Error(`eos client exited by itself: ${code ?? signal}`) })
  return { child, commits: () => commits }
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    process.kill(child.pid!, 'SIGKILL')
  })
}

let crashed: Error | undefined

async function until(condition: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (crashed) throw crashed
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('exactly-once with kafkajs under kill -9 of the client', () => {
  let broker: TestBroker | undefined
  const children: ChildProcess[] = []
  afterAll(async () => {
    for (const child of children) await kill(child)
    await broker?.destroy()
  })

  it(`${RECORDS} records, the client killed ${KILLS} times: every record in the output exactly once`, async () => {
    const seed = testSeed()
    console.log(`transactions-eos seed ${seed} (replay: RINGLOG_SEED=${seed})`)
    const random = seededRandom(seed)
    broker = await startTestBroker({ groupInitialRebalanceDelayMs: 0, groupMinSessionTimeoutMs: 500, transactionStateLogNumPartitions: 1, transactionAbortCheckIntervalMs: 500 })
    const bootstrap = `127.0.0.1:${broker.port}`
    const kafka = new kafkajs.Kafka({ clientId: 'eos-check', brokers: [bootstrap], logLevel: kafkajs.logLevel.NOTHING })
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: 'eos-in', numPartitions: 1 }, { topic: 'eos-out', numPartitions: 1 }] })
    const producer = kafka.producer()
    await producer.connect()
    for (let start = 0; start < RECORDS; start += 1000) {
      await producer.send({ topic: 'eos-in', messages: Array.from({ length: Math.min(1000, RECORDS - start) }, (_, i) => ({ value: String(start + i) })) })
    }
    await producer.disconnect()
    const committedOffset = async (): Promise<number> => {
      const [topic] = await admin.fetchOffsets({ groupId: 'eos-group', topics: ['eos-in'] })
      return Number(topic?.partitions[0]?.offset ?? -1)
    }

    for (let k = 0; k < KILLS; k++) {
      const client = startClient(bootstrap)
      children.push(client.child)
      // Killed after a seeded number of commits plus a seeded delay: usually mid-transaction.
      const after = 1 + Math.floor(random.next() * 5)
      await until(async () => client.commits() >= after || (await committedOffset()) >= RECORDS, FINISH_TIMEOUT_MS, `${after} commits of client ${k}`)
      await new Promise((r) => setTimeout(r, Math.floor(random.next() * 50)))
      await kill(client.child)
    }
    const last = startClient(bootstrap)
    children.push(last.child)
    await until(async () => (await committedOffset()) >= RECORDS, FINISH_TIMEOUT_MS, 'the group to commit the whole input')
    await kill(last.child)
    await admin.disconnect()

    const raw = await RawClient.connect(broker.port)
    try {
      const committed = await readIsolated(raw, 'eos-out', 0, true)
      const counts = new Map<string, number>()
      for (const v of committed.values) counts.set(v, (counts.get(v) ?? 0) + 1)
      const missing = Array.from({ length: RECORDS }, (_, i) => `out-${i}`).filter((v) => counts.get(v) !== 1)
      expect(missing.slice(0, 10)).toEqual([])
      expect(committed.values.length).toBe(RECORDS)
      const all = await readIsolated(raw, 'eos-out', 0, false)
      console.log(`transactions-eos: ${RECORDS} committed once each; ${all.values.length - RECORDS} records of aborted transactions left in the log`)
    } finally {
      raw.close()
    }
  })
})
