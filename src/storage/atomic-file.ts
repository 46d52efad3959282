/**
 * Replacing a whole small file (checkpoints, producer-state and offsets snapshots, topic and
 * producer-id metadata) so that a crash, power loss included, leaves the old or the new
 * content, never a mix: write `<path>.tmp`, fsync it, rename it over `path`, then fsync the
 * directory (the rename is a change to the directory, which POSIX makes durable only with
 * the directory's own fsync). Every call goes through the StorageFs seam, so fault tests
 * reach these writes too.
 */
import { dirname } from 'node:path'
import { TEMP_SUFFIX } from './file-names.js'
import { nodeStorageFs, writeFully, type StorageFs } from './storage-fs.js'

/** The temp file a replacement of `path` writes first (a crash can leave it behind; readers ignore it). */
export function atomicTempPath(path: string): string {
  return path + TEMP_SUFFIX
}

/** Writes `data` as the whole of `path` and fsyncs it (blocking); no rename: the caller places it. */
export function writeFileFlushedSync(path: string, data: Uint8Array, fsi: StorageFs = nodeStorageFs): void {
  const fd = fsi.openSync(path, 'w')
  try {
    writeFully(fsi, fd, data, 0, data.length, 0)
    fsi.fsyncSync(fd)
  } finally {
    fsi.closeSync(fd)
  }
}

/** Blocking: for worker threads and start-up, where a short stall is fine. */
export function writeFileAtomicSync(path: string, data: Uint8Array, fsi: StorageFs = nodeStorageFs): void {
  const temp = atomicTempPath(path)
  writeFileFlushedSync(temp, data, fsi)
  fsi.renameSync(temp, path)
  fsyncDirectory(fsi, dirname(path))
}

/** The same steps with both fsyncs on the libuv threadpool, for the coordinator thread (which must not block on a disk flush). */
export async function writeFileAtomic(path: string, data: Uint8Array, fsi: StorageFs = nodeStorageFs): Promise<void> {
  const temp = atomicTempPath(path)
  const fd = fsi.openSync(temp, 'w')
  try {
    writeFully(fsi, fd, data, 0, data.length, 0)
    await fsyncAsync(fsi, fd)
  } finally {
    fsi.closeSync(fd)
  }
  fsi.renameSync(temp, path)
  const dirFd = fsi.openSync(dirname(path), 'r')
  try {
    await fsyncAsync(fsi, dirFd)
  } finally {
    fsi.closeSync(dirFd)
  }
}

/** Makes a rename or a new file in `dir` durable (POSIX: the directory entry needs its own fsync). */
export function fsyncDirectory(fsi: StorageFs, dir: string): void {
  const fd = fsi.openSync(dir, 'r')
  try {
    fsi.fsyncSync(fd)
  } finally {
    fsi.closeSync(fd)
  }
}

function fsyncAsync(fsi: StorageFs, fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsi.fsync(fd, (error) => (error ? reject(error) : resolve())))
}
