/**
 * kcat (librdkafka) against `ringlog serve` run as a child process: lz4 + acks=all produce
 * from a file, consume back byte for byte, metadata listing, SIGTERM exit 0, restart.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Compression } from '../../src/protocol/compression.js'
import { BatchAttribute, readBatchHeader, splitBatches } from '../../src/protocol/record-batch.js'
import { startRinglogBroker, type RinglogBroker } from '../cli/ringlog-process.js'
import { skipWithout } from './required-tool.js'

const run = promisify(execFile)
const KCAT = '/usr/bin/kcat'
const hasKcat = existsSync(KCAT)

let dir: string
let broker: RinglogBroker | undefined

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ringlog-kcat-'))
})

afterAll(async () => {
  await broker?.stop()
  rmSync(dir, { recursive: true, force: true })
})

async function kcat(args: string[]): Promise<string> {
  const { stdout } = await run(KCAT, ['-b', `127.0.0.1:${broker!.port}`, ...args], { timeout: 60_000, maxBuffer: 256 * 1024 * 1024 })
  return stdout
}

describe.skipIf(skipWithout('kcat', hasKcat, 'kcat'))('kcat', () => {
  it('produces lz4 with acks=all, consumes byte for byte, lists metadata, survives a restart', async () => {
    broker = await startRinglogBroker(['--data-dir', join(dir, 'data'), '--partitions', '1', '--flush', 'always'])
    const lines: string[] = []
    for (let i = 0; i < 20_000; i++) lines.push(`key-${i}:value ${i} ${'x'.repeat(i % 97)}`)
    const input = lines.join('\n') + '\n'
    const file = join(dir, 'input.txt')
    writeFileSync(file, input)
    await kcat(['-P', '-t', 'kc', '-K:', '-X', 'compression.codec=lz4', '-X', 'acks=all', '-l', file])
    expect(await kcat(['-C', '-t', 'kc', '-K:', '-e', '-o', 'beginning', '-q'])).toBe(input)

    // librdkafka really compressed (it silently sends plain batches to a broker it thinks cannot
    // take lz4). It also sends a batch plain when lz4 would make it bigger (a tiny tail batch), so
    // every batch of 16+ records must be lz4, and they must hold nearly all records.
    const segment = readFileSync(join(dir, 'data', 'kc-0', '00000000000000000000.log'))
    const headers = splitBatches(segment).batches.map((b) => readBatchHeader(segment, b.offset))
    const lz4Records = headers.filter((h) => (h.attributes & BatchAttribute.CompressionMask) === Compression.lz4).reduce((n, h) => n + h.recordCount, 0)
    for (const h of headers) if (h.recordCount >= 16) expect(h.attributes & BatchAttribute.CompressionMask).toBe(Compression.lz4)
    expect(lz4Records).toBeGreaterThan(lines.length * 0.9)

    const meta = await kcat(['-L', '-t', 'kc'])
    expect(meta).toContain(`broker 0 at 127.0.0.1:${broker.port}`)
    expect(meta).toMatch(/topic "kc" with 1 partitions/)

    expect(await broker.stop()).toBe(0)
    broker = await startRinglogBroker(['--data-dir', join(dir, 'data')])
    expect(await kcat(['-C', '-t', 'kc', '-K:', '-e', '-o', 'beginning', '-q'])).toBe(input)
    expect(readFileSync(file, 'utf8')).toBe(input)
  })

  it('reads settings from the environment and a config file', async () => {
    await broker?.stop()
    const configFile = join(dir, 'config.json')
    writeFileSync(configFile, JSON.stringify({ numPartitions: 4, clusterId: 'from-file' }))
    broker = await startRinglogBroker(['--config', configFile, '--data-dir', join(dir, 'data2')], { RINGLOG_NUM_PARTITIONS: '3' })
    await kcat(['-P', '-t', 'envtopic', '-l', configFile])
    const meta = await kcat(['-L', '-t', 'envtopic'])
    expect(meta).toMatch(/topic "envtopic" with 3 partitions/)
  })
})
