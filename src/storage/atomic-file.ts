import { closeSync, fsyncSync, openSync, renameSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'

/**
 * Replaces `path` with `data` so that a crash leaves either the old or the new file, never a
 * mix: write a temp file, fsync it, rename over the target, fsync the directory.
 */
export function writeFileAtomicSync(path: string, data: Uint8Array): void {
  const temp = `${path}.tmp`
  writeFileSync(temp, data)
  const fd = openSync(temp, 'r')
  try { fsyncSync(fd) } finally { closeSync(fd) }
  renameSync(temp, path)
  const dirFd = openSync(dirname(path), 'r')
  try { fsyncSync(dirFd) } finally { closeSync(dirFd) }
}
