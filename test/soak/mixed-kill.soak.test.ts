/**
 * Issue 18's mixed soak (npm run test:soak only): a `ringlog serve` process (flush always) under
 * idempotent kafkajs producers (acks=all) on two topics and a two-member consumer group that
 * commits, killed with -9 RINGLOG_SOAK_KILL_SECONDS (30) after each (re)start for RINGLOG_SOAK_MINUTES
 * (30) and restarted on the same port and data dir. The broker's RSS and the machine's load are
 * sampled every 5 s, each restart is timed. Afterwards the group must have received every
 * acknowledged record, and a fresh reader must find each of them in the log exactly once.
 *
 * Every phase is bounded and logs its progress every 10 s (`[soak] ...` lines), so a stall says
 * where it is. The figures end as one JSON line (`[soak] figures {...}`) and, with
 * RINGLOG_SOAK_REPORT=<file>, in that file. On failure the data dir is kept and named.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import kafkajs from 'kafkajs'
import { afterAll, describe, expect, it } from 'vitest'
import { closedPort, startRinglogBroker, type RinglogBroker } from '../cli/ringlog-process.js'
import { AcknowledgingProducer } from './fixtures/acknowledging-producer.js'
import { KeyLedger } from './fixtures/key-ledger.js'

const { Kafka, logLevel } = kafkajs
const MINUTES = Number(process.env.RINGLOG_SOAK_MINUTES ?? 30)
const KILL_SECONDS = Number(process.env.RINGLOG_SOAK_KILL_SECONDS ?? 30)
const REPORT_FILE = process.env.RINGLOG_SOAK_REPORT
const TOPICS = ['soak-a', 'soak-b']
const PARTITIONS = 3
const BATCH = 50
const SAMPLE_MS = 5000
const PROGRESS_MS = 10_000
/** A phase after the run gives up when nothing moved for this long... */
const STALL_MS = 120_000
/** ...or when it has taken this long in all. */
const PHASE_MAX_MS = 12 * 60_000

const dataDir = mkdtempSync(join(tmpdir(), 'ringlog-mixed-soak-'))
let broker: RinglogBroker | undefined
let keepDataDir = true
afterAll(() => {
  if (broker && broker.child.exitCode === null && broker.child.signalCode === null) process.kill(broker.pid, 'SIGKILL')
  if (keepDataDir) console.log(`[soak] data dir kept for inspection: ${dataDir}`)
  else rmSync(dataDir, { recursive: true, force: true })
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const log = (line: string) => console.log(`[soak] ${new Date().toISOString().slice(11, 19)} ${line}`)

function rssMiB(pid: number): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))
    return line ? Math.round(Number(line.split(/\s+/)[1]) / 1024) : undefined
  } catch {
    return undefined // between a kill and the restart
  }
}

function summary(values: readonly number[]): { min: number; median: number; max: number; n: number } {
  const sorted = [...values].sort((a, b) => a - b)
  return { min: sorted[0] ?? Number.NaN, median: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN, max: sorted[sorted.length - 1] ?? Number.NaN, n: sorted.length }
}

/**
 * Waits until `done()`, logging `describe()` every 10 s; gives up (returns false) when `progress()`
 * has not changed for STALL_MS or after PHASE_MAX_MS.
 */
async function boundedPhase(name: string, done: () => boolean, progress: () => number, describe: () => string): Promise<boolean> {
  const started = Date.now()
  let lastProgress = progress()
  let movedAt = started
  let loggedAt = started
  while (!done()) {
    const now = Date.now()
    if (progress() !== lastProgress) {
      lastProgress = progress()
      movedAt = now
    }
    if (now - movedAt > STALL_MS || now - started > PHASE_MAX_MS) {
      log(`${name}: gave up after ${Math.round((now - started) / 1000)} s (${now - movedAt > STALL_MS ? 'no progress for 120 s' : 'phase bound'}): ${describe()}`)
      return false
    }
    if (now - loggedAt >= PROGRESS_MS) {
      loggedAt = now
      log(`${name}: ${describe()}`)
    }
    await sleep(200)
  }
  log(`${name}: done in ${Math.round((Date.now() - started) / 1000)} s: ${describe()}`)
  return true
}

async function withinMs<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms) })
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
  }
}

describe('mixed soak: produce, consume and commit while the broker is killed -9', () => {
  it(`loses no acknowledged record over ${MINUTES} min with a kill every ${KILL_SECONDS} s`, async () => {
    const port = await closedPort()
    const start = async () => { broker = await startRinglogBroker(['--data-dir', dataDir, '--flush', 'always', '--port', String(port)]) }
    await start()
    log(`broker pid ${broker!.pid} on 127.0.0.1:${port}, data dir ${dataDir}; ${MINUTES} min, kill -9 every ${KILL_SECONDS} s`)
    const kafka = new Kafka({ clientId: 'mixed-soak', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 } })
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: TOPICS.map((topic) => ({ topic, numPartitions: PARTITIONS })), waitForLeaders: true })
    await admin.disconnect()

    const ledger = new KeyLedger(TOPICS)
    let stopping = false
    /** Set once a killed broker has exited; the first acknowledgement after it records how long producing stopped. */
    let killedAt: number | undefined
    const firstAckAfterKillMs: number[] = []
    const producers = TOPICS.map((topic) => ({ topic, producer: new AcknowledgingProducer(kafka, { replaceAfterFailure: true }) }))
    const producing = producers.map(async ({ topic, producer }) => {
      let next = 0
      while (!stopping) {
        const first = next
        next += BATCH
        const keys = Array.from({ length: BATCH }, (_, i) => `${topic}/${first + i}`)
        if (await producer.send(topic, keys)) {
          ledger.acknowledge(topic, first, BATCH)
          if (killedAt !== undefined) {
            firstAckAfterKillMs.push(Date.now() - killedAt)
            killedAt = undefined
          }
        } else {
          await sleep(200)
        }
      }
      await producer.close()
    })
    const failedSends = () => producers.reduce((sum, { producer }) => sum + producer.failures, 0)

    let consumerCrashes = 0
    const consumers = [0, 1].map(() => kafka.consumer({ groupId: 'soak-group', sessionTimeout: 10_000, heartbeatInterval: 1000 }))
    for (const consumer of consumers) {
      consumer.on(consumer.events.CRASH, () => { consumerCrashes++ })
      await consumer.connect()
      await consumer.subscribe({ topics: TOPICS, fromBeginning: true })
      await consumer.run({ eachMessage: async ({ message }) => { ledger.consume(message.key!.toString()) } })
    }

    // RSS of whichever broker process is up, and the machine's 1-minute load, every 5 s.
    const runStarted = Date.now()
    const rssSamples: Array<{ atS: number; mib: number }> = []
    const loadSamples: number[] = []
    const sampler = setInterval(() => {
      const mib = broker ? rssMiB(broker.pid) : undefined
      if (mib !== undefined) rssSamples.push({ atS: Math.round((Date.now() - runStarted) / 1000), mib })
      loadSamples.push(loadavg()[0])
    }, SAMPLE_MS)

    const kills: Array<{ round: number; atS: number; rssMiB: number | undefined; exitMs: number; restartMs: number }> = []
    const endAt = runStarted + MINUTES * 60_000
    try {
      while (Date.now() + KILL_SECONDS * 1000 <= endAt) {
        // 30 s of service after each restart (a fixed clock would kill a slow restart at once).
        await sleep(KILL_SECONDS * 1000)
        const victim = broker!
        const rss = rssMiB(victim.pid)
        const dead = new Promise((resolve) => victim.child.once('exit', resolve))
        const killAt = Date.now()
        process.kill(victim.pid, 'SIGKILL')
        await withinMs(10_000, `exit of killed broker ${victim.pid}`, dead)
        const exitedAt = Date.now()
        // Counted from the kill, but only acknowledgements after the exit (not one already on its way).
        killedAt = killAt
        await start()
        const kill = { round: kills.length + 1, atS: Math.round((killAt - runStarted) / 1000), rssMiB: rss, exitMs: exitedAt - killAt, restartMs: Date.now() - exitedAt }
        kills.push(kill)
        log(`kill ${kill.round} at ${kill.atS} s: rss before ${rss} MiB, restart ${kill.restartMs} ms; acknowledged ${ledger.acknowledged}, group pending ${ledger.groupPending}, failed sends ${failedSends()}, load ${loadavg()[0].toFixed(1)}`)
      }
    } finally {
      stopping = true
    }
    const runMs = Date.now() - runStarted

    // Phase 1: the producers finish their last send (kafkajs retries are bounded: 8, up to 2 s).
    const drainStarted = Date.now()
    await withinMs(120_000, 'the producers\' last sends', Promise.all(producing))
    log(`producers stopped in ${Date.now() - drainStarted} ms: acknowledged ${ledger.acknowledged} records, ${failedSends()} failed sends`)

    // Phase 2: the group goes on to the end of what was acknowledged (at least once).
    const groupStarted = Date.now()
    const groupCaughtUp = await boundedPhase('group catch-up', () => ledger.groupPending === 0, () => ledger.groupPending,
      () => `${ledger.groupPending} acknowledged records not yet delivered to the group`)
    const groupMs = Date.now() - groupStarted
    for (const consumer of consumers) await withinMs(60_000, 'group consumer disconnect', consumer.disconnect()).catch((e) => log(String(e)))
    clearInterval(sampler)

    // Phase 3: a fresh reader of every partition from the beginning to the log end.
    const verifyStarted = Date.now()
    ledger.startReading()
    const ends = new Map<string, { logEnd: number; readTo: number }>()
    const inspect = kafka.admin()
    await inspect.connect()
    for (const topic of TOPICS) {
      for (const p of await inspect.fetchTopicOffsets(topic)) ends.set(`${topic}/${p.partition}`, { logEnd: Number(p.high), readTo: 0 })
    }
    await inspect.disconnect()
    const reader = kafka.consumer({ groupId: 'soak-verify', maxBytes: 16 << 20 })
    await reader.connect()
    await reader.subscribe({ topics: TOPICS, fromBeginning: true })
    await reader.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) ledger.read(message.key!.toString(), batch.partition, Number(message.offset))
        const end = ends.get(`${batch.topic}/${batch.partition}`)
        const last = batch.messages[batch.messages.length - 1]
        if (end && last) end.readTo = Math.max(end.readTo, Number(last.offset) + 1)
      },
    })
    const readToEnd = () => [...ends.values()].every((e) => e.readTo >= e.logEnd)
    const readComplete = await boundedPhase('verify read', readToEnd, () => ledger.recordsRead,
      () => `read ${ledger.recordsRead} records, ${ledger.unseenByReader} acknowledged not yet seen; ${[...ends].map(([p, e]) => `${p} ${e.readTo}/${e.logEnd}`).join(', ')}`)
    await withinMs(60_000, 'verify reader disconnect', reader.disconnect()).catch((e) => log(String(e)))
    const verifyMs = Date.now() - verifyStarted
    const finalRss = rssMiB(broker!.pid)
    expect(await broker!.stop()).toBe(0)

    const lost = ledger.lost(1000)
    const groupMissed = ledger.groupMissed(1000)
    const restart = summary(kills.map((k) => k.restartMs))
    const figures = {
      date: new Date().toISOString(),
      minutes: MINUTES,
      killEverySeconds: KILL_SECONDS,
      runSeconds: Math.round(runMs / 1000),
      kills: kills.length,
      acknowledged: ledger.acknowledged,
      recordsInLog: ledger.recordsRead,
      lost: ledger.unseenByReader,
      duplicates: ledger.duplicates,
      foreignRecords: ledger.foreign,
      failedSends: failedSends(),
      producersStarted: producers.reduce((sum, { producer }) => sum + producer.producersStarted, 0),
      groupMissed: ledger.groupPending,
      groupRedelivered: ledger.groupRedelivered,
      consumerCrashes,
      restartMs: restart,
      firstAckAfterKillMs: summary(firstAckAfterKillMs),
      exitAfterKillMs: summary(kills.map((k) => k.exitMs)),
      brokerRssMiB: { ...summary(rssSamples.map((s) => s.mib)), atEnd: finalRss, beforeEachKill: kills.map((k) => k.rssMiB) },
      load1: summary(loadSamples.map((l) => Math.round(l * 10) / 10)),
      phaseSeconds: { run: Math.round(runMs / 1000), groupCatchUp: Math.round(groupMs / 1000), verifyRead: Math.round(verifyMs / 1000) },
      restartMsPerKill: kills.map((k) => k.restartMs),
      partitions: Object.fromEntries(ends),
    }
    log(`figures ${JSON.stringify(figures)}`)
    log(`| kills ${figures.kills} | acknowledged ${figures.acknowledged} | in log ${figures.recordsInLog} | lost ${figures.lost} | duplicates ${figures.duplicates} | restart ms min/median/max ${restart.min}/${restart.median}/${restart.max} | RSS MiB min/median/max ${figures.brokerRssMiB.min}/${figures.brokerRssMiB.median}/${figures.brokerRssMiB.max} | load1 min/median/max ${figures.load1.min}/${figures.load1.median}/${figures.load1.max} |`)
    if (REPORT_FILE) writeFileSync(REPORT_FILE, `${JSON.stringify(figures, null, 2)}\n`)
    if (lost.length > 0) {
      // Where the neighbours of the first lost keys sit (partition and offset) locates the gap.
      const near = (key: string, d: number) => {
        const slash = key.lastIndexOf('/')
        return ledger.where(`${key.slice(0, slash)}/${Number(key.slice(slash + 1)) + d}`)
      }
      const neighbours = lost.slice(0, 5).map((key) => ({ key, before: [near(key, -3), near(key, -2), near(key, -1)], after: [near(key, 1), near(key, 2), near(key, 3)] }))
      log(`lost ${JSON.stringify({ first: lost.slice(0, 40), neighbours })}`)
    }
    if (groupMissed.length > 0) log(`group missed ${JSON.stringify(groupMissed.slice(0, 40))}`)

    expect(kills.length).toBeGreaterThan(0)
    expect(ledger.acknowledged).toBeGreaterThan(0)
    expect(readComplete, 'the reader reached every partition\'s log end').toBe(true)
    expect(lost.slice(0, 10)).toEqual([])
    expect(ledger.duplicates).toBe(0)
    expect(ledger.foreign).toBe(0)
    expect(groupCaughtUp, 'the group received every acknowledged record').toBe(true)
    expect(groupMissed.slice(0, 10)).toEqual([])
    keepDataDir = false
  })
})
