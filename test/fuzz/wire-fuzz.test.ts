/**
 * Wire fuzzing against a live broker, a fixed number of seeded cases: frames captured from a real kafkajs
 * producer/admin (recorded by a kafkajs socket factory), mutated (bit flips, byte stores, truncation,
 * extension, size-prefix lies, field splices) and sent alongside purely random frames. The
 * broker must stay up, and afterwards kafkajs still produces and raw Fetch reads it back.
 */
import { connect, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import kafkajs from 'kafkajs'
import { FrameDecoder } from '../../src/protocol/frame.js'
import { RawClient } from '../broker/raw-client.js'
import { fetchAll } from '../broker/fetch-all.js'
import { startTestBroker, type TestBroker } from '../broker/test-broker.js'
import { randomForTest } from '../seed.js'

const { Kafka, logLevel } = kafkajs
// A fixed number of cases, so a seed replays the same run on any machine; `npm run test:soak`
// raises the count and caps the time with RINGLOG_FUZZ_MS instead.
const CASES = Number(process.env.RINGLOG_FUZZ_CASES ?? 400)
const FUZZ_MS = process.env.RINGLOG_FUZZ_MS === undefined ? undefined : Number(process.env.RINGLOG_FUZZ_MS)
/** CreateTopics/DeleteTopics frames are left out of the corpus: a mutated partition count
 * would legitimately create thousands of partitions, which tests nothing about robustness. */
const SKIPPED_API_KEYS = new Set([19, 20])

let broker: TestBroker
/** Handler crashes and encoder failures are logged at error level: a fuzz case found a bug. */
const internalErrors: string[] = []

beforeAll(async () => {
  broker = await startTestBroker({ numPartitions: 2 }, { info: () => undefined, warn: () => undefined, error: (m) => internalErrors.push(m) })
})

afterAll(async () => {
  await broker?.destroy()
})

/** A kafkajs socket factory that records every frame the client sends. */
function recordingSocketFactory(captured: Buffer[]): (args: { host: string; port: number; onConnect: () => void }) => Socket {
  return ({ host, port, onConnect }) => {
    const socket = connect({ host, port }, onConnect)
    const decoder = new FrameDecoder()
    const write = socket.write.bind(socket) as (chunk: unknown, ...rest: unknown[]) => boolean
    socket.write = ((chunk: unknown, ...rest: unknown[]) => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array)
      for (const f of decoder.push(bytes)) captured.push(Buffer.from(f))
      return write(chunk, ...rest)
    }) as typeof socket.write
    return socket
  }
}

function kafkaAt(port: number, captured?: Buffer[]): InstanceType<typeof Kafka> {
  return new Kafka({
    clientId: 'fuzz', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100 },
    ...(captured ? { socketFactory: recordingSocketFactory(captured) as never } : {}),
  })
}

function mutate(body: Buffer, random: () => number): Buffer {
  const out = Buffer.from(body)
  const int = (n: number): number => Math.floor(random() * n)
  const kind = int(7)
  if (kind === 0) for (let i = 0; i < 1 + int(8); i++) out[int(out.length)] ^= 1 << int(8)
  else if (kind === 1) for (let i = 0; i < 1 + int(4); i++) out[int(out.length)] = [0, 0xff, 0x7f, 0x80][int(4)]
  else if (kind === 2) return out.subarray(0, int(out.length))
  else if (kind === 3) return Buffer.concat([out, Buffer.from(Array.from({ length: 1 + int(64) }, () => int(256)))])
  else if (kind === 4 && out.length >= 12) {
    // Overwrite an aligned int32 somewhere after the header (counts and lengths live there).
    const at = 8 + 4 * int(Math.max(1, (out.length - 12) >> 2))
    out.writeInt32BE([-1, 0x7fffffff, -2147483648, 1 << 24, int(1000)][int(5)], Math.min(at, out.length - 4))
  } else if (kind === 5 && out.length > 8) {
    const from = 8 + int(out.length - 8)
    return Buffer.concat([out.subarray(0, from), out.subarray(from + int(16))])
  } else if (kind === 6) {
    // Keep the api key but claim another version.
    out.writeInt16BE(int(20) - 2, 2)
  }
  return out
}

function randomFrame(random: () => number): Buffer {
  const len = Math.floor(random() * 200)
  const body = Buffer.from(Array.from({ length: len }, () => Math.floor(random() * 256)))
  if (len >= 4 && random() < 0.7) {
    // A plausible header: a real api key and version, the rest random.
    body.writeInt16BE([0, 1, 2, 3, 18, 22][Math.floor(random() * 6)], 0)
    body.writeInt16BE(Math.floor(random() * 13), 2)
  }
  return body
}

/** Sends one connection's worth of frames, waits briefly for the broker to answer or close. */
async function fire(port: number, frames: Buffer[], lieAboutSize: boolean, random: () => number): Promise<void> {
  const socket = connect({ port, host: '127.0.0.1' })
  socket.on('error', () => undefined)
  socket.on('data', () => undefined)
  await new Promise<void>((resolve) => socket.once('connect', resolve).once('error', () => resolve()))
  for (const f of frames) {
    const prefix = Buffer.alloc(4)
    prefix.writeInt32BE(lieAboutSize ? f.length + 1 + Math.floor(random() * 3) : f.length)
    socket.write(Buffer.concat([prefix, f]))
  }
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 30)
    socket.once('close', () => { clearTimeout(timer); resolve() })
  })
  socket.destroy()
}

describe('wire fuzzing', () => {
  it(`keeps serving through ${FUZZ_MS === undefined ? CASES : `up to ${CASES}`} connections of mutated and random frames`, async () => {
    const random = randomForTest().next
    const captured: Buffer[] = []
    const recorded = kafkaAt(broker.port, captured)
    const admin = recorded.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: 'fz', numPartitions: 2 }] })
    const producer = recorded.producer({ idempotent: true })
    await producer.connect()
    await producer.send({ topic: 'fz', messages: [{ key: 'a', value: 'b', headers: { h: 'v' } }, { value: 'c' }] })
    await admin.fetchTopicOffsets('fz')
    await producer.disconnect()
    await admin.disconnect()
    const corpus = captured.filter((f) => !SKIPPED_API_KEYS.has(f.readInt16BE(0)))
    expect(corpus.length).toBeGreaterThan(3)
    expect(corpus.some((f) => f.readInt16BE(0) === 0)).toBe(true)

    const deadline = FUZZ_MS === undefined ? Number.POSITIVE_INFINITY : Date.now() + FUZZ_MS
    let cases = 0
    while (cases < CASES && Date.now() < deadline) {
      const frames: Buffer[] = []
      const count = 1 + Math.floor(random() * 4)
      for (let i = 0; i < count; i++) {
        const pick = corpus[Math.floor(random() * corpus.length)]
        frames.push(random() < 0.8 ? mutate(pick, random) : randomFrame(random))
      }
      await fire(broker.port, frames, random() < 0.05, random)
      cases++
    }
    if (FUZZ_MS === undefined) expect(cases).toBe(CASES)
    expect(internalErrors).toEqual([])

    const kafka = kafkaAt(broker.port)
    const after = kafka.producer()
    await after.connect()
    await after.send({ topic: 'fz-after', messages: [{ key: 'k', value: 'still alive' }] })
    await after.disconnect()
    const client = await RawClient.connect(broker.port)
    const records = await fetchAll(client, 'fz-after', 2)
    expect(records.map((r) => r.value?.toString())).toEqual(['still alive'])
    client.close()
  })
})
