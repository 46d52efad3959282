/**
 * Creating a directory so that a power loss cannot take it back: a new directory's name lives
 * in its parent, which needs its own fsync (POSIX), for every level that was created.
 */
import { dirname } from 'node:path'
import type { StorageFs } from './storage-fs.js'

/** mkdir -p, then fsync the parent of each directory it created (outermost first). */
export function mkdirDurable(fsi: StorageFs, dir: string): void {
  const missing: string[] = []
  for (let d = dir; !fsi.existsSync(d); d = dirname(d)) {
    missing.unshift(d)
    if (dirname(d) === d) break
  }
  fsi.mkdirSync(dir)
  for (const created of missing) {
    const fd = fsi.openSync(dirname(created), 'r')
    try {
      fsi.fsyncSync(fd)
    } finally {
      fsi.closeSync(fd)
    }
  }
}
