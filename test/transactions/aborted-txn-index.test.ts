/**
 * The aborted-transaction index a read_committed fetch asks for the transactions overlapping its
 * range: random entries (short transactions and a few long ones that span many later markers)
 * against a plain filter of every entry, through `add`, after a reload from the `.txnindex`
 * files, and after truncation and retention drop entries. The scan stops early (no entry past a
 * bound can begin before the range's end); these check it never stops before an overlapping one.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { AbortedTxnIndex, type AbortedTxn } from '../../src/storage/aborted-txn-index.js'
import { randomForTest, type SeededRandom } from '../seed.js'

const dirs: string[] = []
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }) })

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ringlog-txnindex-'))
  dirs.push(dir)
  return dir
}

/** Plain filter: marker at or after `from`, first offset before `to`. */
function overlappingByScan(entries: readonly AbortedTxn[], from: number, to: number): AbortedTxn[] {
  return entries.filter((e) => e.lastOffset >= from && e.firstOffset < to)
}

/** Entries with increasing marker offsets; about one in ten spans hundreds of offsets before its marker. */
function randomEntries(random: SeededRandom, count: number): AbortedTxn[] {
  const out: AbortedTxn[] = []
  let offset = 0
  for (let i = 0; i < count; i++) {
    offset += 1 + random.int(50)
    const span = random.int(10) === 0 ? 100 + random.int(2_000) : random.int(30)
    out.push({ producerId: random.int(20), firstOffset: Math.max(0, offset - span), lastOffset: offset, lastStableOffset: Math.max(0, offset - span) })
  }
  return out
}

function expectSameAsScan(index: AbortedTxnIndex, entries: readonly AbortedTxn[], random: SeededRandom, end: number): void {
  for (let q = 0; q < 2_000; q++) {
    const from = random.int(end + 10)
    const to = from + random.int(600)
    expect(index.overlapping(from, to), `overlapping(${from}, ${to})`).toEqual(overlappingByScan(entries, from, to))
  }
}

describe('AbortedTxnIndex.overlapping', () => {
  it('answers as a scan of every entry would, after adds, a reload, a truncation and a retention drop', () => {
    const random = randomForTest()
    console.log(`seed=${random.seed}`)
    const entries = randomEntries(random, 400)
    const end = entries[entries.length - 1]!.lastOffset + 1
    const dir = freshDir()
    const index = AbortedTxnIndex.load(dir, 0, 0)
    // Markers spread over segments of 1,000 offsets.
    for (const e of entries) index.add(e, Math.floor(e.lastOffset / 1_000) * 1_000)
    expectSameAsScan(index, entries, random, end)

    const reloaded = AbortedTxnIndex.load(dir, 0, end)
    expectSameAsScan(reloaded, entries, random, end)

    const cut = entries[Math.floor(entries.length * 0.7)]!.lastOffset
    reloaded.truncateFrom(cut)
    const kept = entries.filter((e) => e.lastOffset < cut)
    expectSameAsScan(reloaded, kept, random, cut)

    const start = entries[Math.floor(entries.length * 0.2)]!.lastOffset
    reloaded.dropBelow(start)
    expectSameAsScan(reloaded, kept.filter((e) => e.lastOffset >= start), random, cut)
  })
})
