/**
 * Reads the file range a `LogEngine.read(..., { holdFile: true })` points at into memory,
 * through the descriptor the read handed over (`heldFd`, a dup or fresh open the worker made
 * for this read alone), then closes it. The descriptor names the segment file as it was when
 * the range was located, so retention or a topic deletion that closes the worker's own fd
 * meanwhile cannot make this read another file's bytes. Without one (an engine that could not
 * hold the file), the path is opened instead.
 */
import { Buffer } from 'node:buffer'
import { close, read } from 'node:fs'
import { open } from 'node:fs/promises'
import { promisify } from 'node:util'

const readAsync = promisify(read)
const closeAsync = promisify(close)

export interface HeldSegmentRange {
  path: string
  position: number
  length: number
  /** Owned by this read: closed once the bytes are in. */
  heldFd?: number
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

/** The range's bytes (shorter if the file ends early); the held descriptor is closed whatever happens. */
export async function readHeldRange(range: HeldSegmentRange): Promise<Buffer> {
  const fd = range.heldFd
  if (fd === undefined) return readByPath(range)
  try {
    return await readFully(async (buffer, offset, length, position) => (await readAsync(fd, buffer, offset, length, position)).bytesRead, range.length, range.position)
  } finally {
    await closeAsync(fd).catch(() => undefined)
  }
}

/** Closes a held descriptor whose range will not be read. */
export function releaseHeldRange(range: HeldSegmentRange | null): void {
  if (range?.heldFd !== undefined) close(range.heldFd, () => undefined)
}

async function readByPath(range: HeldSegmentRange): Promise<Buffer> {
  const handle = await open(range.path, 'r')
  try {
    return await readFully(async (buffer, offset, length, position) => (await handle.read(buffer, offset, length, position)).bytesRead, range.length, range.position)
  } finally {
    await handle.close()
  }
}
