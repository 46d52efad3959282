/**
 * Issue 18, item 6: a full disk on a real small filesystem (a 32 MiB tmpfs mounted for the test).
 * A `ringlog serve` process (flush always) takes kafkajs appends of incompressible records until
 * the filesystem is full. Then: the producer gets KAFKA_STORAGE_ERROR, every acknowledged record
 * reads back (kcat, no group, so nothing more needs writing), appends resume by themselves once
 * space is freed, SIGTERM on a full disk exits 0, and a kill -9 on a full disk restarts with every
 * acknowledged record. Mounting needs root (CAP_SYS_ADMIN): elsewhere the suite skips, saying why.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import kafkajs from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRinglogBroker, type RinglogBroker } from '../cli/ringlog-process.js'
import { skipWithout } from '../compat/required-tool.js'

const { Kafka, logLevel } = kafkajs
const TOPIC = 'full'
const RECORD_BYTES = 256 * 1024
/** More appends than 32 MiB can hold: the loop always ends on a full disk, never by count. */
const MAX_APPENDS = 200
const KAFKA_STORAGE_ERROR = 56

const mountPoint = mkdtempSync(join(tmpdir(), 'ringlog-disk-full-'))
const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=32m', 'tmpfs', mountPoint]).status === 0
if (!mounted) console.warn(`skipping the real-filesystem disk-full tests: mounting a tmpfs at ${mountPoint} is not permitted here (needs root)`)
const hasKcat = spawnSync('kcat', ['-V']).status === 0
const skip = !mounted || skipWithout('kcat', hasKcat, 'kcat')

describe.skipIf(skip)('a full disk on a real 32 MiB filesystem', () => {
  const dataDir = join(mountPoint, 'data')
  const ballast = join(mountPoint, 'ballast')
  let broker: RinglogBroker | undefined
  /** Keys of every acknowledged record, in offset order. */
  const acknowledged: string[] = []
  let next = 0

  const start = async (): Promise<RinglogBroker> => {
    broker = await startRinglogBroker(['--data-dir', dataDir, '--flush', 'always', '--partitions', '1'])
    return broker
  }
  const client = (b: RinglogBroker) => new Kafka({ clientId: 'disk-full', brokers: [b.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } })

  /** Appends one record; true if acknowledged, false on KAFKA_STORAGE_ERROR (anything else fails the test). */
  const append = async (producer: kafkajs.Producer): Promise<boolean> => {
    const key = `k${next++}`
    try {
      await producer.send({ topic: TOPIC, acks: -1, messages: [{ key, value: randomBytes(RECORD_BYTES) }] })
      acknowledged.push(key)
      return true
    } catch (error) {
      const codes: unknown[] = []
      for (let e: unknown = error; e; e = (e as { cause?: unknown; originalError?: unknown }).cause ?? (e as { originalError?: unknown }).originalError) {
        codes.push((e as { type?: unknown }).type)
        if ((e as { type?: unknown }).type === 'KAFKA_STORAGE_ERROR') return false
      }
      throw new Error(`append failed with something other than KAFKA_STORAGE_ERROR (${KAFKA_STORAGE_ERROR}): ${String(error)} ${JSON.stringify(codes)}`)
    }
  }

  /** Appends until the disk is full; returns how many were acknowledged on the way. */
  const fill = async (producer: kafkajs.Producer): Promise<number> => {
    for (let i = 0; i < MAX_APPENDS; i++) if (!(await append(producer))) return i
    throw new Error(`${MAX_APPENDS} appends of ${RECORD_BYTES} bytes never filled a 32 MiB filesystem`)
  }

  /** Every key in the partition, read with kcat (no group: a read needs no write). */
  const readKeys = (b: RinglogBroker): string[] => {
    const out = execFileSync('kcat', ['-b', b.bootstrap, '-C', '-t', TOPIC, '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '%k\\n'], { encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 20 })
    return out.split('\n').filter((line) => line.length > 0)
  }

  beforeAll(() => {
    // 4 MiB the test frees later to make room again.
    writeFileSync(ballast, Buffer.alloc(4 * 1024 * 1024, 1))
  })

  afterAll(async () => {
    if (broker && broker.child.exitCode === null && broker.child.signalCode === null) process.kill(broker.pid, 'SIGKILL')
    spawnSync('umount', ['-l', mountPoint])
    rmSync(mountPoint, { recursive: true, force: true })
  })

  it('answers KAFKA_STORAGE_ERROR when full, keeps every acknowledged record readable, and appends again once space is freed', async () => {
    const b = await start()
    const admin = client(b).admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }], waitForLeaders: true })
    await admin.disconnect()
    const producer = client(b).producer()
    await producer.connect()
    expect(await fill(producer)).toBeGreaterThan(25)
    expect(readKeys(b)).toEqual(acknowledged)
    unlinkSync(ballast)
    // No restart, no operator action: the next appends are taken (bounded retries while the broker notices).
    let resumed = false
    for (let attempt = 0; attempt < 50 && !resumed; attempt++) {
      resumed = await append(producer)
      if (!resumed) await new Promise((resolve) => setTimeout(resolve, 200))
    }
    expect(resumed).toBe(true)
    expect(await fill(producer)).toBeGreaterThan(0)
    expect(readKeys(b)).toEqual(acknowledged)
    await producer.disconnect()
  }, 180_000)

  it('stops with exit code 0 on SIGTERM while the disk is full, and restarts with every acknowledged record', async () => {
    expect(await broker!.stop()).toBe(0)
    const b = await start()
    expect(readKeys(b)).toEqual(acknowledged)
  }, 120_000)

  it('restarts after kill -9 while the disk is full, with every acknowledged record', async () => {
    const producer = client(broker!).producer()
    await producer.connect()
    // Still full: nothing new is acknowledged.
    expect(await append(producer)).toBe(false)
    await producer.disconnect().catch(() => undefined)
    const dead = new Promise((resolve) => broker!.child.once('exit', resolve))
    process.kill(broker!.pid, 'SIGKILL')
    await dead
    const b = await start()
    expect(readKeys(b)).toEqual(acknowledged)
    expect(await b.stop()).toBe(0)
  }, 120_000)
})
