/**
 * The file-system calls the log makes, as one small injectable object. Production uses
 * node:fs; tests pass a wrapper that fails chosen calls (ENOSPC, EIO), since a real disk
 * cannot be filled or broken in CI.
 */
import * as fs from 'node:fs'

export interface FileStat { size: number; mtimeMs: number }

export interface StorageFs {
  openSync(path: string, flags: string): number
  closeSync(fd: number): void
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number
  ftruncateSync(fd: number, length: number): void
  fstatSync(fd: number): FileStat
  statSync(path: string): FileStat
  /** Runs on the libuv threadpool so appends continue while the disk flushes. */
  fdatasync(fd: number, callback: (error: NodeJS.ErrnoException | null) => void): void
  fsyncSync(fd: number): void
  /** fsync on the libuv threadpool (file data and metadata, directories too). */
  fsync(fd: number, callback: (error: NodeJS.ErrnoException | null) => void): void
  renameSync(from: string, to: string): void
  unlinkSync(path: string): void
  readdirSync(path: string): string[]
  mkdirSync(path: string): void
  existsSync(path: string): boolean
  readFileSync(path: string): Buffer
}

export const nodeStorageFs: StorageFs = {
  openSync: (path, flags) => fs.openSync(path, flags),
  closeSync: (fd) => fs.closeSync(fd),
  writeSync: (fd, buffer, offset, length, position) => fs.writeSync(fd, buffer, offset, length, position),
  readSync: (fd, buffer, offset, length, position) => fs.readSync(fd, buffer, offset, length, position),
  ftruncateSync: (fd, length) => fs.ftruncateSync(fd, length),
  fstatSync: (fd) => fs.fstatSync(fd),
  statSync: (path) => fs.statSync(path),
  fdatasync: (fd, callback) => fs.fdatasync(fd, callback),
  fsyncSync: (fd) => fs.fsyncSync(fd),
  fsync: (fd, callback) => fs.fsync(fd, callback),
  renameSync: (from, to) => fs.renameSync(from, to),
  unlinkSync: (path) => fs.unlinkSync(path),
  readdirSync: (path) => fs.readdirSync(path),
  mkdirSync: (path) => { fs.mkdirSync(path, { recursive: true }) },
  existsSync: (path) => fs.existsSync(path),
  readFileSync: (path) => fs.readFileSync(path),
}

/** Writes all of `length` bytes (a file write may be short, e.g. just before ENOSPC). */
export function writeFully(fsi: StorageFs, fd: number, buffer: Uint8Array, offset: number, length: number, position: number): void {
  let done = 0
  while (done < length) {
    const n = fsi.writeSync(fd, buffer, offset + done, length - done, position + done)
    if (n <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' })
    done += n
  }
}

/** Reads up to `length` bytes, looping over short reads; returns the count read (less only at end of file). */
export function readFully(fsi: StorageFs, fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number {
  let done = 0
  while (done < length) {
    const n = fsi.readSync(fd, buffer, offset + done, length - done, position + done)
    if (n <= 0) break
    done += n
  }
  return done
}

export function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined
}

/** Out of space (or quota): the write is refused but nothing is broken. */
export function isDiskFull(error: unknown): boolean {
  const code = errnoCode(error)
  return code === 'ENOSPC' || code === 'EDQUOT'
}
