/**
 * Issue 18's mixed soak (npm run test:soak only): a `ringlog serve` process (flush always) under
 * idempotent kafkajs producers (acks=all) on two topics and a two-member consumer group that
 * commits, killed with -9 every RINGLOG_SOAK_KILL_SECONDS (30) for RINGLOG_SOAK_MINUTES (30) and
 * restarted on the same port and data dir; the broker's RSS is sampled before each kill.
 * Afterwards a fresh reader finds every acknowledged record (0 lost) and counts duplicates.
 * Prints its figures as one JSON line (rounds, acknowledged, lost, duplicates, peak RSS).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import kafkajs from 'kafkajs'
import { afterAll, describe, expect, it } from 'vitest'
import { closedPort, startRinglogBroker, type RinglogBroker } from '../cli/ringlog-process.js'

const { Kafka, logLevel } = kafkajs
const MINUTES = Number(process.env.RINGLOG_SOAK_MINUTES ?? 30)
const KILL_SECONDS = Number(process.env.RINGLOG_SOAK_KILL_SECONDS ?? 30)
const TOPICS = ['soak-a', 'soak-b']
const PARTITIONS = 3

const dataDir = mkdtempSync(join(tmpdir(), 'ringlog-mixed-soak-'))
let broker: RinglogBroker | undefined
afterAll(() => {
  if (broker && broker.child.exitCode === null && broker.child.signalCode === null) process.kill(broker.pid, 'SIGKILL')
  rmSync(dataDir, { recursive: true, force: true })
})

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))
  return line ? Math.round(Number(line.split(/\s+/)[1]) / 1024) : 0
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('mixed soak: produce, consume and commit while the broker is killed -9', () => {
  it(`loses no acknowledged record over ${MINUTES} min with a kill every ${KILL_SECONDS} s`, async () => {
    const port = await closedPort()
    const start = async () => { broker = await startRinglogBroker(['--data-dir', dataDir, '--flush', 'always', '--port', String(port)]) }
    await start()
    const kafka = new Kafka({ clientId: 'mixed-soak', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 } })
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: TOPICS.map((topic) => ({ topic, numPartitions: PARTITIONS })), waitForLeaders: true })
    await admin.disconnect()

    let stopping = false
    const acknowledged = new Set<string>()
    let failedSends = 0
    const producing = TOPICS.map(async (topic) => {
      let producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
      await producer.connect()
      let next = 0
      let failuresInARow = 0
      while (!stopping) {
        const keys = Array.from({ length: 50 }, () => `${topic}/${next++}`)
        try {
          await producer.send({ topic, acks: -1, messages: keys.map((key) => ({ key, value: `v-${key}` })) })
          for (const key of keys) acknowledged.add(key)
          failuresInARow = 0
        } catch {
          failedSends++
          if (++failuresInARow >= 3) {
            await producer.disconnect().catch(() => undefined)
            producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
            await producer.connect().catch(() => undefined)
          }
          await sleep(200)
        }
      }
      await producer.disconnect().catch(() => undefined)
    })

    const consumed = new Set<string>()
    const consumers = [0, 1].map(() => kafka.consumer({ groupId: 'soak-group', sessionTimeout: 10_000, heartbeatInterval: 1000 }))
    for (const consumer of consumers) {
      await consumer.connect()
      await consumer.subscribe({ topics: TOPICS, fromBeginning: true })
      await consumer.run({ eachMessage: async ({ message }) => { consumed.add(message.key!.toString()) } })
    }

    const rss: number[] = []
    let rounds = 0
    const endAt = Date.now() + MINUTES * 60_000
    while (Date.now() + KILL_SECONDS * 1000 <= endAt) {
      await sleep(KILL_SECONDS * 1000)
      rss.push(rssMiB(broker!.pid))
      const dead = new Promise((resolve) => broker!.child.once('exit', resolve))
      process.kill(broker!.pid, 'SIGKILL')
      await dead
      rounds++
      await start()
    }
    stopping = true
    await Promise.all(producing)

    // The group goes on to the end of what was acknowledged (at least once), bounded.
    for (let waited = 0; waited < 240 && [...acknowledged].some((key) => !consumed.has(key)); waited++) await sleep(500)
    for (const consumer of consumers) await consumer.disconnect().catch(() => undefined)

    // A fresh reader of every partition from the beginning: nothing acknowledged is missing.
    const seen = new Map<string, number>()
    const reader = kafka.consumer({ groupId: 'soak-verify' })
    await reader.connect()
    await reader.subscribe({ topics: TOPICS, fromBeginning: true })
    let total = 0
    const readTo = new Map<string, number>()
    await reader.run({
      eachMessage: async ({ topic, partition, message }) => {
        const key = message.key!.toString()
        seen.set(key, (seen.get(key) ?? 0) + 1)
        total++
        readTo.set(`${topic}/${partition}`, Number(message.offset) + 1)
      },
    })
    for (let waited = 0; waited < 240 && [...acknowledged].some((key) => !seen.has(key)); waited++) await sleep(500)
    await sleep(2000)
    await reader.disconnect()
    // Where each partition ends and how far the reader got: tells a lost record from a stalled read.
    const ends: Record<string, { logEnd: number; readTo: number }> = {}
    const inspect = kafka.admin()
    await inspect.connect()
    for (const topic of TOPICS) {
      for (const p of await inspect.fetchTopicOffsets(topic)) ends[`${topic}/${p.partition}`] = { logEnd: Number(p.high), readTo: readTo.get(`${topic}/${p.partition}`) ?? 0 }
    }
    await inspect.disconnect()
    rss.push(rssMiB(broker!.pid))
    expect(await broker!.stop()).toBe(0)

    const lost = [...acknowledged].filter((key) => !seen.has(key))
    const duplicates = [...seen.values()].filter((n) => n > 1).length
    const groupMissed = [...acknowledged].filter((key) => !consumed.has(key)).length
    console.log(JSON.stringify({ minutes: MINUTES, killEverySeconds: KILL_SECONDS, rounds, acknowledged: acknowledged.size, recordsInLog: total, lost: lost.length, duplicates, failedSends, groupMissed, partitions: ends, rssMiB: { first: rss[0], max: Math.max(...rss), last: rss[rss.length - 1] } }))
    expect(rounds).toBeGreaterThan(0)
    expect(acknowledged.size).toBeGreaterThan(0)
    expect(lost.slice(0, 10)).toEqual([])
    expect(duplicates).toBe(0)
    expect(groupMissed).toBe(0)
  })
})
