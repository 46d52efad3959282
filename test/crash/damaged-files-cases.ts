/**
 * Damaged metadata files, case by case: a template data dir is built once per file kind, then
 * each case copies it, damages one file (truncate, zero a range, flip a bit, append garbage)
 * with a seeded random source, opens what reads that file in-process, and checks that it opens,
 * that nothing before the damage point is lost, and that a changed file was renamed aside.
 * Shared by test/crash/damaged-files.test.ts (npm test) and test/soak/damaged-files.test.ts.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ProducerIdAllocator } from '../../src/core/producer-ids.js'
import { TopicRegistry, type TopicInfo } from '../../src/core/topic-registry.js'
import { CORRUPT_SUFFIX, DAMAGED_FILE_WARNING } from '../../src/storage/damaged-file.js'
import { LOG_START_OFFSET_CHECKPOINT, META_DIR, PRODUCER_IDS_FILE, RECOVERY_POINT_CHECKPOINT, TOPICS_FILE } from '../../src/storage/file-names.js'
import { PartitionLog } from '../../src/storage/partition-log.js'
import { validateBatch } from '../../src/protocol/record-batch.js'
import { expect } from 'vitest'
import { randomForTest, type SeededRandom } from '../seed.js'
import { testBatch } from '../storage/log-test-helpers.js'

export type DamageKind = 'truncate' | 'zero' | 'flip' | 'garbage'
export const DAMAGE_KINDS: readonly DamageKind[] = ['truncate', 'zero', 'flip', 'garbage']
export type FileKind = 'topic-registry' | 'producer-ids' | 'recovery-point' | 'log-start'
export const FILE_KINDS: readonly FileKind[] = ['topic-registry', 'producer-ids', 'recovery-point', 'log-start']

/** Damages `data` one way; returns the damaged bytes and where the damage starts. */
export function damage(data: Buffer, kind: DamageKind, random: SeededRandom): { bytes: Buffer; at: number } {
  switch (kind) {
    case 'truncate': {
      const at = random.int(data.length)
      return { bytes: data.subarray(0, at), at }
    }
    case 'zero': {
      const at = random.int(data.length)
      const out = Buffer.from(data)
      out.fill(0, at, Math.min(data.length, at + 1 + random.int(16)))
      return { bytes: out, at }
    }
    case 'flip': {
      const at = random.int(data.length)
      const out = Buffer.from(data)
      out[at] ^= 1 << random.int(8)
      return { bytes: out, at }
    }
    case 'garbage': {
      const extra = Buffer.alloc(1 + random.int(32))
      for (let i = 0; i < extra.length; i++) extra[i] = random.int(256)
      return { bytes: Buffer.concat([data, extra]), at: data.length }
    }
  }
}

export interface Outcome { file: FileKind; damage: DamageKind; quarantined: boolean }

function quarantinedIn(dir: string, name: string): boolean {
  return readdirSync(dir).some((n) => n.startsWith(name + CORRUPT_SUFFIX))
}

/** Counts RINGLOG_DAMAGED_FILE warnings naming a path while `fn` runs (they are emitted on the next tick). */
async function warningsDuring(fn: () => Promise<void>): Promise<string[]> {
  const seen: string[] = []
  const listener = (w: Error & { code?: string }): void => { if (w.code === DAMAGED_FILE_WARNING) seen.push(w.message) }
  process.on('warning', listener)
  try {
    await fn()
    await new Promise((resolve) => setImmediate(resolve))
  } finally {
    process.off('warning', listener)
  }
  return seen
}

const TOPICS: readonly { name: string; partitions: number; configs: Record<string, string> }[] = [
  { name: 'orders', partitions: 3, configs: { 'retention.ms': '3600000' } },
  { name: 'orders-eu-1', partitions: 2, configs: {} },
  { name: 'x', partitions: 1, configs: { 'cleanup.policy': 'delete', 'segment.bytes': '2097152' } },
]

/** Builds each template once; `runCase` copies one per case. */
export class DamageFixture {
  private readonly root = mkdtempSync(join(tmpdir(), 'ringlog-damage-'))
  private readonly templates = new Map<FileKind, string>()
  private expectedLog: { start: number; end: number; firstBase: number; bytes: Buffer } | undefined
  private caseNo = 0

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true })
  }

  private async template(kind: FileKind): Promise<string> {
    const existing = this.templates.get(kind)
    if (existing) return existing
    const dir = join(this.root, `template-${kind}`)
    if (kind === 'topic-registry') {
      const registry = TopicRegistry.open(join(dir, META_DIR))
      for (const t of TOPICS) {
        registry.create(t.name, t.partitions, t.configs)
        for (let p = 0; p < t.partitions; p++) mkdirSync(join(dir, `${t.name}-${p}`))
      }
    } else if (kind === 'producer-ids') {
      const ids = ProducerIdAllocator.open(join(dir, META_DIR), 1000)
      for (let i = 0; i < 1500; i++) ids.allocate()
    } else {
      await this.buildLog(join(dir, 't-0'))
    }
    this.templates.set(kind, dir)
    return dir
  }

  /** A log of several segments whose start was moved past its first segment (DeleteRecords), closed cleanly. */
  private async buildLog(dir: string): Promise<void> {
    const log = await PartitionLog.open(dir, { segmentBytes: 4096 })
    for (let i = 0; i < 60; i++) log.append(testBatch(i, 1 + (i % 3), undefined, 200), { leaderEpoch: 0 })
    await log.flush()
    log.deleteRecordsBefore(Math.floor(log.logEndOffset / 3))
    const start = log.logStartOffset
    const end = log.logEndOffset
    await log.close()
    const firstBase = Math.min(...readdirSync(dir).filter((n) => n.endsWith('.log')).map((n) => Number(n.slice(0, -4))))
    if (!(firstBase < start)) throw new Error(`template: log start ${start} should lie past the first segment ${firstBase}`)
    const reopened = await PartitionLog.open(dir, { segmentBytes: 4096 })
    this.expectedLog = { start, end, firstBase, bytes: readAll(reopened, start) }
    await reopened.close()
  }

  /** One case: copy the template, damage the file, open, check. Throws (an expect) on a violation. */
  async runCase(kind: FileKind, how: DamageKind, random: SeededRandom, check: (ok: boolean, message: string) => void): Promise<Outcome> {
    const template = await this.template(kind)
    const dir = join(this.root, `case-${this.caseNo++}`)
    cpSync(template, dir, { recursive: true })
    try {
      const metaDir = join(dir, META_DIR)
      const target = kind === 'topic-registry' ? join(metaDir, TOPICS_FILE)
        : kind === 'producer-ids' ? join(metaDir, PRODUCER_IDS_FILE)
          : join(dir, 't-0', kind === 'recovery-point' ? RECOVERY_POINT_CHECKPOINT : LOG_START_OFFSET_CHECKPOINT)
      const original = readFileSync(target)
      const damaged = damage(original, how, random)
      writeFileSync(target, damaged.bytes)
      const changed = !damaged.bytes.equals(original)
      const where = `${kind} ${how} at ${damaged.at} of ${original.length}`
      let quarantined = false
      const warnings = await warningsDuring(async () => {
        if (kind === 'topic-registry') {
          const registry = TopicRegistry.open(metaDir)
          quarantined = quarantinedIn(metaDir, TOPICS_FILE)
          const got = registry.list().map((t) => ({ name: t.name, partitions: t.partitions })).sort((a, b) => a.name.localeCompare(b.name))
          const want = TOPICS.map((t) => ({ name: t.name, partitions: t.partitions })).sort((a, b) => a.name.localeCompare(b.name))
          check(JSON.stringify(got) === JSON.stringify(want), `${where}: topics ${JSON.stringify(got)}, want ${JSON.stringify(want)}`)
          if (!quarantined) check(registry.list().every((t: TopicInfo) => JSON.stringify(t.configs) === JSON.stringify(TOPICS.find((x) => x.name === t.name)?.configs)), `${where}: configs changed without quarantine`)
          // The rebuilt registry was saved sealed: the next open reads it as is.
          const again = TopicRegistry.open(metaDir).list().map((t) => `${t.name}:${t.partitions}`).sort().join(',')
          check(again === got.map((t) => `${t.name}:${t.partitions}`).sort().join(','), `${where}: reopened registry differs`)
        } else if (kind === 'producer-ids') {
          const ids = ProducerIdAllocator.open(metaDir, 1000)
          quarantined = quarantinedIn(metaDir, PRODUCER_IDS_FILE)
          const id = ids.allocate()
          check(id >= 2000, `${where}: allocated ${id}, ids below 2000 may have been handed out`)
        } else {
          const log = await PartitionLog.open(join(dir, 't-0'), { segmentBytes: 4096 })
          try {
            quarantined = quarantinedIn(join(dir, 't-0'), kind === 'recovery-point' ? RECOVERY_POINT_CHECKPOINT : LOG_START_OFFSET_CHECKPOINT)
            const want = this.expectedLog!
            check(log.logEndOffset === want.end, `${where}: log end ${log.logEndOffset}, want ${want.end}`)
            check(log.logStartOffset <= want.start && log.logStartOffset >= want.firstBase, `${where}: log start ${log.logStartOffset} outside [${want.firstBase}, ${want.start}]`)
            check(readAll(log, want.start).equals(want.bytes), `${where}: the records from ${want.start} differ`)
          } finally {
            await log.close()
          }
        }
      })
      if (changed && !quarantined) {
        // Only a cut exactly before the crc32c trailer leaves a whole Kafka-format checkpoint; its values are intact.
        check(kind === 'recovery-point' || kind === 'log-start', `${where}: a changed ${kind} file was accepted`)
      }
      if (quarantined) check(warnings.some((w) => w.includes(target)), `${where}: quarantined without a warning naming ${target}`)
      return { file: kind, damage: how, quarantined }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** Every batch from `from` to the log end, checked batch by batch (a batch whose CRC fails throws). */
function readAll(log: PartitionLog, from: number): Buffer {
  const parts: Buffer[] = []
  let offset = from
  for (let guard = 0; offset < log.logEndOffset && guard < 10_000; guard++) {
    const slice = log.read(offset, 1 << 20, { maxOffset: log.logEndOffset })
    if (slice.length === 0) break
    const bytes = log.readBytes(slice)
    for (let pos = 0; pos < bytes.length;) {
      const size = 12 + bytes.readInt32BE(pos + 8)
      validateBatch(bytes.subarray(pos, pos + size))
      pos += size
    }
    parts.push(bytes)
    offset = slice.nextOffset
  }
  return Buffer.concat(parts)
}

/** Runs `cases` cases round-robin over file and damage kinds; prints the seed and a tally. */
export async function runDamageCases(fixtureToUse: DamageFixture, cases: number): Promise<Outcome[]> {
  const random = randomForTest()
  process.stdout.write(`damaged-files: seed=${random.seed} cases=${cases}\n`)
  const outcomes: Outcome[] = []
  for (let i = 0; i < cases; i++) {
    const file = FILE_KINDS[i % FILE_KINDS.length]
    const how = DAMAGE_KINDS[Math.floor(i / FILE_KINDS.length) % DAMAGE_KINDS.length]
    outcomes.push(await fixtureToUse.runCase(file, how, random, (ok, message) => expect(ok, message).toBe(true)))
  }
  const tally = new Map<string, { cases: number; quarantined: number }>()
  for (const o of outcomes) {
    const key = `${o.file}/${o.damage}`
    const t = tally.get(key) ?? { cases: 0, quarantined: 0 }
    t.cases++
    if (o.quarantined) t.quarantined++
    tally.set(key, t)
  }
  for (const [key, t] of [...tally].sort()) process.stdout.write(`  ${key}: ${t.cases} cases, ${t.quarantined} quarantined, all opened\n`)
  return outcomes
}

