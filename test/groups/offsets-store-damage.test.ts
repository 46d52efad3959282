/**
 * M2 (issue 18): a damaged record in the middle of the offsets log (bit rot) must cost only that
 * record: every intact record before and after it is kept, the damaged bytes are copied aside
 * and reported. A bad record at the very end is still a torn tail and is cut. Seeded: each case
 * flips one random bit of a random record (RINGLOG_SEED replays).
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { OffsetsStore } from '../../src/groups/offsets-store.js'
import { randomForTest } from '../seed.js'

let dir: string
const entry = (partition: number, offset: number) => ({ topic: 't', partition, offset, leaderEpoch: 1, metadata: 'm' })

beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'ringlog-offsets-damage-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

/** Commits one record per partition 0..count-1 (offset 100 + p) and returns the log file and each record's byte range. */
async function writeRecords(count: number): Promise<{ path: string; ranges: [number, number][] }> {
  const store = await OffsetsStore.open({ dir })
  const ranges: [number, number][] = []
  for (let p = 0; p < count; p++) {
    const before = store.stats.logBytes
    await store.commit('g', p, [entry(p, 100 + p)])
    ranges.push([before, store.stats.logBytes])
  }
  await store.close()
  const [log] = (await readdir(dir)).filter((n) => n.endsWith('.log'))
  return { path: join(dir, log), ranges }
}

describe('OffsetsStore with a damaged record (M2)', () => {
  it('keeps every intact record when one bit flips in the oldest record, and reports it', async () => {
    const { path, ranges } = await writeRecords(5)
    const data = await readFile(path)
    data[ranges[0][0] + 12] ^= 0x10
    await writeFile(path, data)
    const reports: string[] = []
    const store = await OffsetsStore.open({ dir, onDamage: (m) => reports.push(m) })
    expect(store.get('g', 't', 0)).toBeUndefined()
    for (let p = 1; p < 5; p++) expect(store.get('g', 't', p)?.offset).toBe(100 + p)
    expect(store.stats.damagedRecords).toBe(1)
    expect(reports).toHaveLength(1)
    expect(reports[0]).toContain(path)
    const aside = (await readdir(dir)).filter((n) => n.includes('.damaged-'))
    expect(aside).toHaveLength(1)
    expect((await readFile(join(dir, aside[0]))).length).toBe(ranges[0][1] - ranges[0][0])
    // New commits land after the kept records and survive another reopen.
    await store.commit('g', 9, [entry(0, 500)])
    await store.close()
    const again = await OffsetsStore.open({ dir, onDamage: () => undefined })
    expect(again.get('g', 't', 0)?.offset).toBe(500)
    expect(again.get('g', 't', 4)?.offset).toBe(104)
    await again.close()
  })

  it('loses only the record hit, whichever bit of whichever record but the last flips (seeded)', async () => {
    const random = randomForTest()
    const count = 6
    const { path, ranges } = await writeRecords(count)
    const pristine = await readFile(path)
    for (let round = 0; round < 40; round++) {
      const victim = random.int(count - 1)
      const [from, to] = ranges[victim]
      const data = Buffer.from(pristine)
      const bit = random.int((to - from) * 8)
      data[from + (bit >> 3)] ^= 1 << (bit & 7)
      await writeFile(path, data)
      for (const n of (await readdir(dir)).filter((n) => n.includes('.damaged-'))) await rm(join(dir, n))
      const store = await OffsetsStore.open({ dir, onDamage: () => undefined })
      for (let p = 0; p < count; p++) {
        if (p !== victim) expect(store.get('g', 't', p)?.offset, `round ${round}: record ${p} (victim ${victim}, bit ${bit})`).toBe(100 + p)
      }
      await store.close()
    }
  })

  it('still cuts a damaged last record as a torn tail', async () => {
    const { path, ranges } = await writeRecords(3)
    const data = await readFile(path)
    data[ranges[2][0] + 10] ^= 0x01
    await writeFile(path, data)
    const store = await OffsetsStore.open({ dir, onDamage: () => undefined })
    expect(store.get('g', 't', 1)?.offset).toBe(101)
    expect(store.get('g', 't', 2)).toBeUndefined()
    expect(store.stats.damagedRecords).toBe(0)
    expect(store.stats.truncatedBytes).toBe(ranges[2][1] - ranges[2][0])
    await store.close()
  })
})
