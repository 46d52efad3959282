/**
 * Batches compressed by real clients with every Kafka codec, read back by ringlog: kafka-python
 * produces snappy (xerial-framed), zstd, lz4 and gzip, kcat (librdkafka) and `ringlog produce -z`
 * snappy and zstd, to a
 * `ringlog serve` process; the broker validates them (a zstd bomb is CORRUPT_MESSAGE and
 * nothing is stored); after it stops, the embedded consumer reads every record of every topic
 * from the same data dir, the embedded producer writes snappy and zstd itself, and
 * `ringlog dump-log --records` decodes the segments.
 */
import { execFile, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DumpedFile } from '../../src/cli/dump-log.js'
import { Compression } from '../../src/protocol/compression.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { BATCH_HEADER_SIZE, computeBatchCrc, CRC_OFFSET, encodeRecordBatch, LOG_OVERHEAD } from '../../src/protocol/record-batch.js'
import * as zstdBinding from 'zstd-napi/binding.js'
import { RawClient } from '../broker/raw-client.js'
import { FAST_CONSUMER, openLog } from '../client/helpers.js'
import { startRinglogBroker, type RinglogBroker } from '../cli/ringlog-process.js'
import { ringlogArgv } from '../node-argv.js'

const run = promisify(execFile)
const REPO = fileURLToPath(new URL('../../', import.meta.url))
const PYTHON = '/usr/bin/python3'
const KCAT = '/usr/bin/kcat'
const hasPython = spawnSync(PYTHON, ['-c', 'import kafka, snappy, zstandard, lz4']).status === 0
const hasKcat = existsSync(KCAT)
const COUNT = 500

const PYTHON_PRODUCER = String.raw`
import sys
from kafka import KafkaProducer
bootstrap, codec, topic, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
p = KafkaProducer(bootstrap_servers=bootstrap, acks='all', compression_type=codec, linger_ms=20, batch_size=65536)
futures = [p.send(topic, key=('k%d' % i).encode(), value=(('%s-%d-' % (codec, i)) + 'v' * (i % 300)).encode(), headers=[('n', str(i).encode())]) for i in range(count)]
p.flush(30)
print(sum(1 for f in futures if f.get(timeout=30).offset >= 0))
`

let dir: string
let broker: RinglogBroker | undefined

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ringlog-codecs-'))
})

afterAll(async () => {
  await broker?.stop()
  rmSync(dir, { recursive: true, force: true })
})

function expectedValue(producer: string, i: number): string {
  return `${producer}-${i}-${'v'.repeat(i % 300)}`
}

describe.skipIf(!hasPython || !hasKcat)('client codecs', () => {
  const pythonCodecs = ['snappy', 'zstd', 'lz4', 'gzip'] as const
  const kcatCodecs = ['snappy', 'zstd'] as const

  it('stores what kafka-python and kcat compress with every codec, and refuses a zstd bomb', async () => {
    broker = await startRinglogBroker(['--data-dir', join(dir, 'data'), '--partitions', '1', '--flush', 'always'])
    const bootstrap = `127.0.0.1:${broker.port}`
    for (const codec of pythonCodecs) {
      const { stdout } = await run(PYTHON, ['-c', PYTHON_PRODUCER, bootstrap, codec, `py-${codec}`, String(COUNT)], { timeout: 60_000 })
      expect(stdout.trim()).toBe(String(COUNT))
    }
    for (const codec of kcatCodecs) {
      const lines = Array.from({ length: COUNT }, (_, i) => `k${i}\t${expectedValue(`kcat-${codec}`, i)}`).join('\n')
      const child = execFile(KCAT, ['-b', bootstrap, '-P', '-t', `kcat-${codec}`, '-z', codec, '-K', '\t', '-X', 'acks=all', '-X', 'linger.ms=20'], { timeout: 60_000 })
      const done = new Promise<number | null>((resolve) => child.on('close', resolve))
      child.stdin!.end(`${lines}\n`)
      expect(await done).toBe(0)
    }

    // ringlog's own producer CLI, with the same two codecs.
    for (const codec of kcatCodecs) {
      const lines = Array.from({ length: COUNT }, (_, i) => `k${i}:${expectedValue(`cli-${codec}`, i)}`).join('\n')
      const child = execFile(process.execPath, ringlogArgv(['produce', `cli-${codec}`, '-b', bootstrap, '-K', ':', '-z', codec]), { cwd: REPO, timeout: 60_000 })
      const done = new Promise<number | null>((resolve) => child.on('close', resolve))
      child.stdin!.end(`${lines}\n`)
      expect(await done).toBe(0)
    }

    // A zstd frame that hides its size and inflates to 80 MiB (past the 64 MiB cap): refused, nothing stored.
    const cctx = new zstdBinding.CCtx()
    cctx.setParameter(zstdBinding.CParameter.contentSizeFlag, 0)
    const zeros = Buffer.alloc(80 * 1024 * 1024)
    const out = Buffer.alloc(zstdBinding.compressBound(zeros.length))
    const bomb = out.subarray(0, cctx.compress2(out, zeros))
    const honest = encodeRecordBatch({ records: [{ key: null, value: Buffer.from('x'), headers: [], timestamp: 0 }], compression: Compression.zstd })
    const batch = Buffer.concat([honest.subarray(0, BATCH_HEADER_SIZE), bomb])
    batch.writeInt32BE(batch.length - LOG_OVERHEAD, 8)
    batch.writeUInt32BE(computeBatchCrc(batch, 0, batch.length), CRC_OFFSET)
    const client = await RawClient.connect(broker.port)
    try {
      await client.request(19, 4, { topics: [{ name: 'bombs', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false })
      const response = await client.request<{ responses: { partitionResponses: { errorCode: number }[] }[] }>(0, 7, {
        transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'bombs', partitionData: [{ index: 0, records: batch }] }],
      })
      expect(response.responses[0].partitionResponses[0].errorCode).toBe(ErrorCode.CORRUPT_MESSAGE)
      const offsets = await client.request<{ topics: { partitions: { offset: number }[] }[] }>(2, 5, {
        replicaId: -1, isolationLevel: 0, topics: [{ name: 'bombs', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }],
      })
      expect(offsets.topics[0].partitions[0].offset).toBe(0)
    } finally {
      client.close()
    }
    expect(await broker.stop()).toBe(0)
    broker = undefined
  })

  it('the embedded consumer reads every record of every codec back', async () => {
    const log = await openLog(join(dir, 'data'))
    try {
      const topics = [...pythonCodecs.map((c) => `py-${c}`), ...kcatCodecs.flatMap((c) => [`kcat-${c}`, `cli-${c}`])]
      const consumer = log.consumer({ groupId: 'codec-reader', ...FAST_CONSUMER })
      await consumer.subscribe({ topics, fromBeginning: true })
      const seen = new Map<string, Map<string, string>>()
      for (const t of topics) seen.set(t, new Map())
      let total = 0
      const all = new Promise<void>((resolve, reject) => {
        consumer.run({
          eachMessage: async ({ topic, message }) => {
            seen.get(topic)!.set(message.key!.toString(), message.value!.toString())
            if (++total >= topics.length * COUNT) resolve()
          },
        }).catch(reject)
      })
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`read ${total} of ${topics.length * COUNT} records`)), 60_000).unref())
      await Promise.race([all, timeout])
      await consumer.disconnect()
      for (const codec of pythonCodecs) {
        const got = seen.get(`py-${codec}`)!
        expect(got.size).toBe(COUNT)
        for (let i = 0; i < COUNT; i++) expect(got.get(`k${i}`)).toBe(expectedValue(codec, i))
      }
      for (const topic of kcatCodecs.flatMap((c) => [`kcat-${c}`, `cli-${c}`])) {
        const got = seen.get(topic)!
        expect(got.size).toBe(COUNT)
        for (let i = 0; i < COUNT; i++) expect(got.get(`k${i}`)).toBe(expectedValue(topic, i))
      }
    } finally {
      await log.close()
    }
  })

  it('the embedded producer writes snappy and zstd batches its consumer and dump-log read', async () => {
    const log = await openLog(join(dir, 'data'))
    try {
      for (const codec of ['snappy', 'zstd'] as const) {
        await log.admin().createTopics({ topics: [{ topic: `embedded-${codec}`, numPartitions: 1 }] })
        const producer = log.producer({ compression: codec, acks: -1 })
        await producer.send({ topic: `embedded-${codec}`, messages: Array.from({ length: COUNT }, (_, i) => ({ key: `k${i}`, value: expectedValue(`embedded-${codec}`, i) })) })
        await producer.disconnect()
        const consumer = log.consumer({ groupId: `embedded-${codec}-reader`, ...FAST_CONSUMER })
        await consumer.subscribe({ topics: [`embedded-${codec}`], fromBeginning: true })
        const values: string[] = []
        const all = new Promise<void>((resolve, reject) => {
          consumer.run({ eachMessage: async ({ message }) => { values.push(message.value!.toString()); if (values.length >= COUNT) resolve() } }).catch(reject)
        })
        const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`read ${values.length} of ${COUNT}`)), 60_000).unref())
        await Promise.race([all, timeout])
        await consumer.disconnect()
        expect(values).toEqual(Array.from({ length: COUNT }, (_, i) => expectedValue(`embedded-${codec}`, i)))
      }
    } finally {
      await log.close()
    }
  })

  it('dump-log --records decodes snappy and zstd segments', async () => {
    for (const topic of ['py-snappy', 'py-zstd', 'kcat-snappy', 'kcat-zstd', 'cli-snappy', 'cli-zstd', 'embedded-snappy', 'embedded-zstd']) {
      const { stdout } = await run(process.execPath, ringlogArgv(['dump-log', join(dir, 'data', `${topic}-0`), '--json', '--records']), { cwd: REPO, timeout: 40_000, maxBuffer: 64 * 1024 * 1024 })
      const { files } = JSON.parse(stdout) as { files: DumpedFile[] }
      const batches = files.flatMap((f) => f.batches)
      const codec = topic.endsWith('snappy') ? 'snappy' : 'zstd'
      // Clients send a batch uncompressed when compressing would not shrink it (librdkafka's first, lone record).
      expect(batches.filter((b) => b.compression === codec).length).toBeGreaterThan(0)
      expect(batches.every((b) => (b.compression === codec || b.compression === 'none') && b.recordsError === undefined)).toBe(true)
      const values = batches.flatMap((b) => b.records ?? []).map((r) => r.value)
      expect(values).toHaveLength(COUNT)
      expect(values[COUNT - 1]).toBe(expectedValue(topic.startsWith('py-') ? topic.slice(3) : topic, COUNT - 1))
      if (topic.startsWith('embedded-') || topic.startsWith('cli-')) expect(batches.every((b) => b.compression === codec)).toBe(true)
    }
  })
})
