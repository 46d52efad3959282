/**
 * The one atomic-replace helper: through the StorageFs seam it writes a temp file, fsyncs it,
 * renames it over the target and fsyncs the directory, in that order; a failure at any step
 * leaves the old content in place.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { writeFileAtomic, writeFileAtomicSync } from '../../src/storage/atomic-file.js'
import { writeOffsetCheckpoint } from '../../src/storage/checkpoints.js'
import { nodeStorageFs, type StorageFs } from '../../src/storage/storage-fs.js'

const dirs: string[] = []
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }) })

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ringlog-atomic-'))
  dirs.push(dir)
  return dir
}

/** node:fs, recording each call as `op name` (file names only), failing the call named in `failOn`. */
function recordingFs(failOn?: string): { fs: StorageFs; calls: string[] } {
  const calls: string[] = []
  const names = new Map<number, string>()
  const step = (call: string): void => {
    calls.push(call)
    if (call === failOn) throw Object.assign(new Error(`injected failure at ${call}`), { code: 'EIO' })
  }
  const fs: StorageFs = {
    ...nodeStorageFs,
    openSync: (path, flags) => {
      step(`open ${basename(path)} ${flags}`)
      const fd = nodeStorageFs.openSync(path, flags)
      names.set(fd, basename(path))
      return fd
    },
    writeSync: (fd, buffer, offset, length, position) => {
      step(`write ${names.get(fd)}`)
      return nodeStorageFs.writeSync(fd, buffer, offset, length, position)
    },
    fsyncSync: (fd) => {
      step(`fsync ${names.get(fd)}`)
      nodeStorageFs.fsyncSync(fd)
    },
    fsync: (fd, callback) => {
      try {
        step(`fsync ${names.get(fd)}`)
      } catch (error) {
        callback(error as NodeJS.ErrnoException)
        return
      }
      nodeStorageFs.fsync(fd, callback)
    },
    renameSync: (from, to) => {
      step(`rename ${basename(from)} ${basename(to)}`)
      nodeStorageFs.renameSync(from, to)
    },
    closeSync: (fd) => {
      calls.push(`close ${names.get(fd)}`)
      nodeStorageFs.closeSync(fd)
    },
  }
  return { fs, calls }
}

const variants: [string, (path: string, data: Uint8Array, fsi: StorageFs) => Promise<void> | void][] = [
  ['writeFileAtomicSync', writeFileAtomicSync],
  ['writeFileAtomic', writeFileAtomic],
]

describe.each(variants)('storage/atomic-file: %s', (_, write) => {
  it('writes the temp file, fsyncs it, renames it over the target, fsyncs the directory', async () => {
    const dir = tempDir()
    const path = join(dir, 'state')
    writeFileSync(path, 'old')
    const { fs, calls } = recordingFs()
    await write(path, Buffer.from('new content'), fs)
    expect(readFileSync(path, 'utf8')).toBe('new content')
    expect(readdirSync(dir)).toEqual(['state'])
    const dirName = basename(dir)
    expect(calls).toEqual([
      'open state.tmp w', 'write state.tmp', 'fsync state.tmp', 'close state.tmp',
      'rename state.tmp state',
      `open ${dirName} r`, `fsync ${dirName}`, `close ${dirName}`,
    ])
  })

  for (const failOn of ['write state.tmp', 'fsync state.tmp', 'rename state.tmp state']) {
    it(`a failure at "${failOn}" throws and leaves the old content`, async () => {
      const dir = tempDir()
      const path = join(dir, 'state')
      writeFileSync(path, 'old')
      const { fs } = recordingFs(failOn)
      await expect(async () => { await write(path, Buffer.from('new'), fs) }).rejects.toThrow(`injected failure at ${failOn}`)
      expect(readFileSync(path, 'utf8')).toBe('old')
    })
  }
})

describe('storage/atomic-file: its users go through it', () => {
  it('offset checkpoints are written with the same steps through the seam they are given', () => {
    const dir = tempDir()
    const { fs, calls } = recordingFs()
    writeOffsetCheckpoint(fs, join(dir, 'recovery-point-offset-checkpoint'), [{ topic: 't', partition: 0, offset: 7 }])
    expect(calls.slice(0, 5)).toEqual([
      'open recovery-point-offset-checkpoint.tmp w', 'write recovery-point-offset-checkpoint.tmp',
      'fsync recovery-point-offset-checkpoint.tmp', 'close recovery-point-offset-checkpoint.tmp',
      'rename recovery-point-offset-checkpoint.tmp recovery-point-offset-checkpoint',
    ])
    expect(calls).toContain(`fsync ${basename(dir)}`)
  })
})
