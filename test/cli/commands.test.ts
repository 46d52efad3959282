/**
 * The topics, produce, consume and dump-log commands, each run as a real `ringlog` process
 * (the compiled bin/ringlog.js) against one `ringlog serve` child process on 127.0.0.1:0.
 * Independent commands run concurrently; every step waits on the processes it started, never
 * on a timer.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { partitionForKey } from '../../src/client/partitioner.js'
import { formatRecord, lineEnd, type ConsumedRecord } from '../../src/cli/consume.js'
import type { DumpedFile } from '../../src/cli/dump-log.js'
import type { TopicDescription } from '../../src/cli/topics.js'
import { assertBuilt, runProcess, runRinglog, startRinglogBroker, type RinglogBroker, type RunResult } from './ringlog-process.js'

const KCAT = '/usr/bin/kcat'
const KCAT_TIMEOUT_MS = 60_000

/** Runs kcat with its output collected; killed by PID if it hangs. */
function runKcat(args: string[]): Promise<RunResult> {
  return runProcess(KCAT, args, { timeoutMs: KCAT_TIMEOUT_MS })
}

let broker: RinglogBroker
let dir: string
let bootstrap: string

function ringlog(args: string[], input = ''): Promise<RunResult> {
  return runRinglog(args, { input })
}

async function ok(args: string[], input = ''): Promise<string> {
  const result = await ringlog(args, input)
  if (result.code !== 0) throw new Error(`ringlog ${args.join(' ')} exited ${result.code}: ${result.stderr}`)
  return result.stdout
}

beforeAll(async () => {
  assertBuilt()
  dir = mkdtempSync(join(tmpdir(), 'ringlog-cli-'))
  broker = await startRinglogBroker(['--data-dir', join(dir, 'data'), '--partitions', '1', '--flush', 'never'])
  bootstrap = broker.bootstrap
})

afterAll(async () => {
  await broker?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('ringlog CLI', () => {
  // Keys chosen so all three partitions get records; every 7th line has no separator (null key).
  const lines = Array.from({ length: 3000 }, (_, i) => (i % 7 === 3 ? `keyless ${i}` : `user-${i % 41}:value ${i} ${'x'.repeat(i % 50)}`))

  // The timeout bounds a hang; it is no speed check (about 20 processes start one after another here).
  it('topics create, list and describe; produce lines, consume them back; dump-log the partition files; delete', { timeout: 180_000 }, async () => {
    const [created, createdSingle, badPartition] = await Promise.all([
      ok(['topics', 'create', 'events', '-b', bootstrap, '--partitions', '3', '--config', 'retention.ms=86400000']),
      ok(['topics', 'create', 'single', '-b', bootstrap, '-p', '1']),
      ringlog(['topics', 'create', 'broken', '-b', bootstrap, '--config', 'no.such.config=1']),
    ])
    expect(created).toBe('created topic events with 3 partitions\n')
    expect(createdSingle).toBe('created topic single with 1 partition\n')
    expect(badPartition.code).toBe(1)
    expect(badPartition.stderr).toMatch(/cannot create topic "broken": INVALID_CONFIG/)

    const [listed, produced, producedSingle] = await Promise.all([
      ok(['topics', 'list', '-b', bootstrap]),
      ok(['produce', 'events', '-b', bootstrap, '-K', ':', '-z', 'gzip', '-H', 'source=cli', '--batch-bytes', '8192'], lines.join('\n') + '\n'),
      ok(['produce', 'single', '-b', bootstrap, '-K', ':', '-z', 'lz4', '--acks', '1'], lines.join('\n')),
    ])
    expect(listed.split('\n').filter(Boolean)).toEqual(['events', 'single'])
    expect(produced).toBe('produced 3000 records to events\n')
    expect(producedSingle).toBe('produced 3000 records to single\n')

    const [consumedJson, consumedSingle, consumedOwnNewline, kcat, described] = await Promise.all([
      ok(['consume', 'events', '-b', bootstrap, '--from-beginning', '--exit-at-end', '--json']),
      ok(['consume', 'single', '-b', bootstrap, '--from-beginning', '-e', '--format', '%k:%v']),
      // kcat's habit: the format ends with its own newline, which replaces the default one.
      ok(['consume', 'single', '-b', bootstrap, '--from-beginning', '-e', '-F', '%v\\n']),
      existsSync(KCAT) ? runKcat(['-b', bootstrap, '-C', '-t', 'single', '-e', '-q', '-o', 'beginning', '-K', ':']) : Promise.resolve(null),
      ok(['topics', 'describe', 'events', '-b', bootstrap, '--json']),
    ])

    // Every line back, keys and values intact, in input order within each partition.
    const records = consumedJson.trim().split('\n').map((l) => JSON.parse(l) as { partition: number; offset: number; key: string | null; value: string; headers: { key: string; value: string }[] })
    expect(records).toHaveLength(lines.length)
    const expected = lines.map((line) => {
      const at = line.indexOf(':')
      return at < 0 ? { key: null, value: line } : { key: line.slice(0, at), value: line.slice(at + 1) }
    })
    for (let p = 0; p < 3; p++) {
      const got = records.filter((r) => r.partition === p)
      expect(got.map((r) => r.offset)).toEqual(got.map((_, i) => i))
      const keyedHere = expected.filter((e) => e.key !== null && partitionForKey(Buffer.from(e.key), 3) === p)
      // Keyed records follow murmur2; keyless ones may be anywhere, but order is kept.
      expect(got.filter((r) => r.key !== null).map((r) => `${r.key}:${r.value}`)).toEqual(keyedHere.map((e) => `${e.key}:${e.value}`))
      const keylessHere = new Set(got.filter((r) => r.key === null).map((r) => r.value))
      expect(got.map((r) => `${r.key}:${r.value}`)).toEqual(expected.filter((e) => (e.key === null ? keylessHere.has(e.value) : partitionForKey(Buffer.from(e.key), 3) === p)).map((e) => `${e.key}:${e.value}`))
    }
    expect(records.every((r) => r.headers.length === 1 && r.headers[0].key === 'source' && r.headers[0].value === 'cli')).toBe(true)

    // A single partition keeps the whole input order; kcat (librdkafka) reads the same bytes.
    const asPrinted = expected.map((e) => `${e.key ?? ''}:${e.value}`).join('\n') + '\n'
    expect(consumedSingle).toBe(asPrinted)
    expect(consumedOwnNewline).toBe(expected.map((e) => `${e.value}\n`).join(''))
    if (kcat) {
      expect(kcat.code).toBe(0)
      expect(kcat.stdout).toBe(asPrinted)
    }

    const description = JSON.parse(described) as TopicDescription
    expect(description.partitions.map((p) => [p.partition, p.leader, p.logStartOffset, p.error])).toEqual([[0, 0, 0, null], [1, 0, 0, null], [2, 0, 0, null]])
    expect(description.partitions.map((p) => p.logEndOffset)).toEqual([0, 1, 2].map((p) => records.filter((r) => r.partition === p).length))

    // dump-log on the live partition directory, and on damaged copies of its segment.
    const partitionDir = join(dir, 'data', 'events-0')
    const segment = join(partitionDir, '00000000000000000000.log')
    const damaged = join(dir, 'damaged')
    mkdirSync(damaged)
    const flipped = join(damaged, '00000000000000000000.log')
    const torn = join(damaged, '00000000000000000500.log')
    copyFileSync(segment, flipped)
    copyFileSync(segment, torn)
    const bytes = readFileSync(flipped)
    bytes[100] ^= 0xff // inside the first batch's records: its CRC no longer matches
    writeFileSync(flipped, bytes)
    truncateSync(torn, bytes.length - 7)

    const [dumpedLive, dumpedDamaged, dumpedText] = await Promise.all([
      ok(['dump-log', partitionDir, '--json', '--records']),
      ok(['dump-log', damaged, '--json']),
      ok(['dump-log', segment]),
    ])
    const live = (JSON.parse(dumpedLive) as { files: DumpedFile[] }).files
    expect(live).toHaveLength(1)
    const batches = live[0].batches
    expect(batches.length).toBeGreaterThan(1)
    expect(live[0].tail).toBeNull()
    expect(batches.every((b) => b.crcValid && b.compression === 'gzip' && b.producerId === -1)).toBe(true)
    expect(batches.map((b) => b.baseOffset)).toEqual([0, ...batches.slice(0, -1).map((b) => b.lastOffset + 1)])
    const dumpedRecords = batches.flatMap((b) => b.records ?? [])
    const partition0 = records.filter((r) => r.partition === 0)
    expect(dumpedRecords.map((r) => [r.offset, r.key, r.value])).toEqual(partition0.map((r) => [r.offset, r.key, r.value]))

    const [flippedDump, tornDump] = (JSON.parse(dumpedDamaged) as { files: DumpedFile[] }).files
    expect(flippedDump.batches[0].crcValid).toBe(false)
    expect(flippedDump.batches.slice(1).every((b) => b.crcValid)).toBe(true)
    expect(flippedDump.batches).toHaveLength(batches.length)
    expect(tornDump.batches).toHaveLength(batches.length - 1)
    expect(tornDump.tail).toMatchObject({ position: batches[batches.length - 1].position, reason: expect.stringMatching(/runs past the end/) })

    expect(dumpedText).toMatch(/^Dumping .*00000000000000000000\.log\nbaseOffset: 0 lastOffset: \d+ count: \d+ /)
    expect(dumpedText).toContain(`Summary: ${batches.length} batches, ${partition0.length} records, 0 with a bad CRC`)

    const deleted = await ok(['topics', 'delete', 'events', '-b', bootstrap])
    expect(deleted).toBe('deleted topic events\n')
    const [listedAfter, describeGone, produceBadPartition] = await Promise.all([
      ok(['topics', 'list', '-b', bootstrap]),
      ringlog(['topics', 'describe', 'events', '-b', bootstrap]),
      ringlog(['produce', 'single', '-b', bootstrap, '--partition', '4'], 'a\n'),
    ])
    expect(listedAfter).toBe('single\n')
    expect(describeGone.code).toBe(1)
    expect(describeGone.stderr).toContain('topic "events" does not exist')
    expect(produceBadPartition.code).toBe(1)
    expect(produceBadPartition.stderr).toContain('has partitions 0-0, not 4')
  })

  it('formats records with every --format token', () => {
    const record: ConsumedRecord = {
      topic: 't', partition: 2, offset: 41, timestamp: 1700000000000, key: Buffer.from('k'), value: Buffer.from('v'),
      headers: [{ key: 'a', value: Buffer.from('1') }, { key: 'b', value: null }],
    }
    expect(formatRecord('%t/%p@%o %T %k=%v [%h] 100%%\\t|\\n', record)).toBe('t/2@41 1700000000000 k=v [a=1,b=] 100%\t|\n')
    expect(formatRecord('%k|%v', { ...record, key: null, value: null })).toBe('|')
  })

  it('ends a record with a newline unless the format ends with its own', () => {
    expect(lineEnd('%v')).toBe('\n')
    expect(lineEnd('%v\\n')).toBe('')
    expect(lineEnd('%v\n')).toBe('')
    expect(lineEnd('%k\\n%v')).toBe('\n')
    // An escaped backslash followed by n is not a newline.
    expect(lineEnd('%v\\\\n')).toBe('\n')
  })
})
