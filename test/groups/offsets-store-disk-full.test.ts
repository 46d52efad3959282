/**
 * M1 (issue 18): one ENOSPC on the offsets log must fail only the commits it hit; once space is
 * back commits succeed again, without a restart, and the log holds no partial record. The disk
 * is filled by wrapping node:fs/promises' open: the offsets log's writes store half their bytes,
 * then fail with ENOSPC, while `full` is set (a real disk cannot be filled in CI).
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { DiskFullError } from '../../src/errors.js'
import { OffsetsStore } from '../../src/groups/offsets-store.js'

const disk = vi.hoisted(() => ({ full: false }))

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>()
  const open: typeof real.open = async (path, flags, mode) => {
    const handle = await real.open(path, flags, mode)
    if (!String(path).endsWith('.log')) return handle
    const write = handle.write.bind(handle) as (buffer: Buffer, offset: number, length: number, position: number) => Promise<{ bytesWritten: number; buffer: Buffer }>
    let shortWriteDone = false
    Object.assign(handle, {
      write: async (buffer: Buffer, offset: number, length: number, position: number) => {
        if (!disk.full) { shortWriteDone = false; return write(buffer, offset, length, position) }
        if (!shortWriteDone && length > 1) { shortWriteDone = true; return write(buffer, offset, length >> 1, position) }
        throw Object.assign(new Error('ENOSPC: injected'), { code: 'ENOSPC' })
      },
    })
    return handle
  }
  return { ...real, open }
})

let dir: string
const entry = (partition: number, offset: number) => ({ topic: 't', partition, offset, leaderEpoch: 1, metadata: '' })

beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'ringlog-offsets-full-')); disk.full = false })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

describe('OffsetsStore on a full disk (M1)', () => {
  it('fails the commit that hit ENOSPC, cuts its partial bytes, and commits again once space is back', async () => {
    const store = await OffsetsStore.open({ dir })
    await store.commit('g', 1, [entry(0, 10)])
    const [log] = (await readdir(dir)).filter((n) => n.endsWith('.log'))
    const sizeBefore = (await stat(join(dir, log))).size
    disk.full = true
    await expect(store.commit('g', 2, [entry(0, 20), entry(1, 21)])).rejects.toBeInstanceOf(DiskFullError)
    expect((await stat(join(dir, log))).size).toBe(sizeBefore)
    expect(store.get('g', 't', 0)?.offset).toBe(10)
    disk.full = false
    await store.commit('g', 3, [entry(1, 30)])
    expect(store.get('g', 't', 1)?.offset).toBe(30)
    await store.close()
    const reopened = await OffsetsStore.open({ dir })
    expect(reopened.get('g', 't', 0)?.offset).toBe(10)
    expect(reopened.get('g', 't', 1)?.offset).toBe(30)
    expect(reopened.stats.truncatedBytes).toBe(0)
    await reopened.close()
  })
})
