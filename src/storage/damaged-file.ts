/**
 * What ringlog does with a metadata file that fails its checksum or its format check: say so
 * with the file's path (a process warning, code RINGLOG_DAMAGED_FILE, which Node prints to
 * stderr from any thread), and rename it aside to `<name>.corrupt-<stamp>` so
 * an operator can inspect it and the next start does not trip over it again.
 */
import { nodeStorageFs, type StorageFs } from './storage-fs.js'

export const DAMAGED_FILE_WARNING = 'RINGLOG_DAMAGED_FILE'
export const CORRUPT_SUFFIX = '.corrupt-'

/** Thrown by a reader whose file is damaged; carries the path and what was wrong. */
export class DamagedFileError extends Error {
  constructor(readonly path: string, readonly reason: string) {
    super(`${path} is damaged: ${reason}`)
    this.name = 'DamagedFileError'
  }
}

/** Reports a damaged file and what was done about it. */
export function reportDamagedFile(path: string, reason: string, action: string): void {
  process.emitWarning(`damaged file ${path}: ${reason}; ${action}`, { code: DAMAGED_FILE_WARNING })
}

/** Renames `path` aside (never deletes it) and reports it; returns the new name. */
export function quarantineFile(path: string, reason: string, action: string, fsi: StorageFs = nodeStorageFs): string {
  const aside = `${path}${CORRUPT_SUFFIX}${new Date().toISOString().replace(/[:.]/g, '-')}`
  fsi.renameSync(path, aside)
  reportDamagedFile(path, reason, `renamed to ${aside}; ${action}`)
  return aside
}
