/**
 * Reads the file range a `LogEngine.read` points at into memory. The worker's own fd is used
 * when given (no open/close per read, and it stays valid while retention delays deletion);
 * if it fails, or the bytes do not parse (the fd number may have been reused after the segment
 * was retired), the caller retries with `readByPath`, which opens the file itself.
 */
import { Buffer } from 'node:buffer'
import { read } from 'node:fs'
import { open } from 'node:fs/promises'
import { promisify } from 'node:util'

const readAsync = promisify(read)

export interface SegmentRange {
  path: string
  position: number
  length: number
  fd?: number
}

async function readFully(readAt: (buffer: Buffer, offset: number, length: number, position: number) => Promise<number>, length: number, position: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length)
  let done = 0
  while (done < length) {
    const n = await readAt(buffer, done, length - done, position + done)
    if (n === 0) break
    done += n
  }
  return done === length ? buffer : buffer.subarray(0, done)
}

/** The range's bytes (shorter if the file ends early). */
export async function readRange(range: SegmentRange): Promise<Buffer> {
  const fd = range.fd
  if (fd === undefined) return readByPath(range)
  return readFully(async (buffer, offset, length, position) => (await readAsync(fd, buffer, offset, length, position)).bytesRead, range.length, range.position)
}

export async function readByPath(range: SegmentRange): Promise<Buffer> {
  const handle = await open(range.path, 'r')
  try {
    return await readFully(async (buffer, offset, length, position) => (await handle.read(buffer, offset, length, position)).bytesRead, range.length, range.position)
  } finally {
    await handle.close()
  }
}
