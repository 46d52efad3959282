import { appendFile, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { OffsetsStore } from '../../src/groups/offsets-store.js'
import { LogClosedError } from '../../src/errors.js'

let dir: string
const open = (compactBytes?: number): Promise<OffsetsStore> => OffsetsStore.open({ dir, compactBytes })
const entry = (topic: string, partition: number, offset: number, metadata = '') => ({ topic, partition, offset, leaderEpoch: 1, metadata })
const logFiles = async (): Promise<string[]> => (await readdir(dir)).filter((n) => n.endsWith('.log')).sort()

beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'ringlog-offsets-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

describe('OffsetsStore', () => {
  it('commits, overwrites and lists offsets', async () => {
    const store = await open()
    await store.commit('g', 100, [entry('b', 1, 5, 'x'), entry('a', 0, 7), entry('b', 0, 3)])
    await store.commit('g', 200, [entry('b', 1, 9)])
    expect(store.get('g', 'b', 1)).toEqual({ topic: 'b', partition: 1, offset: 9, leaderEpoch: 1, metadata: '', commitTimestamp: 200 })
    expect(store.list('g').map((o) => `${o.topic}-${o.partition}:${o.offset}`)).toEqual(['a-0:7', 'b-0:3', 'b-1:9'])
    expect(store.get('h', 'a', 0)).toBeUndefined()
    await store.close()
  })

  it('keeps everything across reopen, deletions included', async () => {
    const store = await open()
    await store.commit('g1', 1, [entry('t', 0, 10, 'meta'), entry('t', 1, 11)])
    await store.commit('g2', 2, [entry('t', 0, 20)])
    await store.delete('g1', [{ topic: 't', partition: 1 }])
    await store.close()
    const reopened = await open()
    expect(reopened.get('g1', 't', 0)).toMatchObject({ offset: 10, metadata: 'meta', commitTimestamp: 1 })
    expect(reopened.get('g1', 't', 1)).toBeUndefined()
    expect(reopened.get('g2', 't', 0)?.offset).toBe(20)
    expect(reopened.groupIds().sort()).toEqual(['g1', 'g2'])
    expect(reopened.stats.truncatedBytes).toBe(0)
    await reopened.close()
  })

  it('batches concurrent commits into fewer fdatasyncs', async () => {
    const store = await open()
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.commit('g', i, [entry('t', i, i)])))
    expect(store.stats.recordsAppended).toBe(50)
    expect(store.stats.syncs).toBeLessThan(50)
    expect(store.list('g')).toHaveLength(50)
    await store.close()
  })

  it('cuts a torn tail and keeps appending after it', async () => {
    const store = await open()
    await store.commit('g', 1, [entry('t', 0, 1)])
    await store.commit('g', 2, [entry('t', 0, 2)])
    await store.close()
    const [log] = await logFiles()
    const goodSize = (await stat(join(dir, log))).size
    // A record header claiming 100 bytes followed by only 5: a write cut short by a crash.
    const torn = Buffer.alloc(13)
    torn.writeUInt32BE(100, 0)
    await appendFile(join(dir, log), torn)
    const reopened = await open()
    expect(reopened.stats.truncatedBytes).toBe(13)
    expect((await stat(join(dir, log))).size).toBe(goodSize)
    expect(reopened.get('g', 't', 0)?.offset).toBe(2)
    await reopened.commit('g', 3, [entry('t', 0, 3)])
    await reopened.close()
    const again = await open()
    expect(again.get('g', 't', 0)?.offset).toBe(3)
    expect(again.stats.truncatedBytes).toBe(0)
    await again.close()
  })

  it('cuts at a record whose checksum fails', async () => {
    const store = await open()
    await store.commit('g', 1, [entry('t', 0, 1)])
    const [log] = await logFiles()
    const firstSize = (await stat(join(dir, log))).size
    await store.commit('g', 2, [entry('t', 0, 2)])
    await store.close()
    const path = join(dir, log)
    const { readFile } = await import('node:fs/promises')
    const data = await readFile(path)
    data[data.length - 1] ^= 0xff
    await writeFile(path, data)
    const reopened = await open()
    expect(reopened.get('g', 't', 0)?.offset).toBe(1)
    expect((await stat(path)).size).toBe(firstSize)
    await reopened.close()
  })

  it('compacts into a snapshot and a new log when the log grows', async () => {
    const store = await open(2048)
    for (let i = 0; i < 200; i++) await store.commit('g', i, [entry('t', i % 7, i, 'some metadata')])
    expect(store.stats.snapshots).toBeGreaterThan(0)
    expect(store.stats.logBytes).toBeLessThan(4096)
    const files = await readdir(dir)
    expect(files).toContain('offsets.snapshot')
    expect(await logFiles()).toHaveLength(1)
    await store.close()
    const reopened = await open(2048)
    for (let p = 0; p < 7; p++) expect(reopened.get('g', 't', p)?.offset).toBe(199 - ((199 - p) % 7))
    await reopened.close()
  })

  it('explicit compaction keeps state; a crash between new log and snapshot loses nothing', async () => {
    const store = await open()
    await store.commit('g', 1, [entry('t', 0, 1)])
    await store.compact()
    await store.commit('g', 2, [entry('t', 1, 2)])
    await store.close()
    expect(await logFiles()).toEqual(['offsets-00000000000000000001.log'])
    // Simulate a crash right after the next compaction created its empty log.
    await writeFile(join(dir, 'offsets-00000000000000000002.log'), Buffer.alloc(0))
    const reopened = await open()
    expect(reopened.get('g', 't', 0)?.offset).toBe(1)
    expect(reopened.get('g', 't', 1)?.offset).toBe(2)
    await reopened.commit('g', 3, [entry('t', 2, 3)])
    await reopened.compact()
    await reopened.close()
    expect(await logFiles()).toEqual(['offsets-00000000000000000003.log'])
    const last = await open()
    expect(last.list('g').map((o) => o.offset)).toEqual([1, 2, 3])
    await last.close()
  })

  it('refuses a snapshot that fails its checksum instead of forgetting offsets', async () => {
    const store = await open()
    await store.commit('g', 1, [entry('t', 0, 1)])
    await store.compact()
    await store.close()
    await writeFile(join(dir, 'offsets.snapshot'), Buffer.from('garbage!'))
    await expect(open()).rejects.toThrow(/checksum/)
  })

  it('rejects commits after close', async () => {
    const store = await open()
    await store.close()
    await expect(store.commit('g', 1, [entry('t', 0, 1)])).rejects.toBeInstanceOf(LogClosedError)
  })
})
