/**
 * Fetch v0-3 down-conversion that streams: a file range of RecordBatch v2 batches is read a
 * window of whole batches at a time (1 MiB; a batch larger than a window is read alone) and
 * converted to legacy messages (protocol/message-set.ts). The response declares its length
 * before any record byte, so the range is converted twice: once to count the bytes
 * (`convertedLength`), once while the connection writes them (`convertedPart`). Memory stays
 * at about one window plus its converted form, whatever the fetch size; CPU is spent twice,
 * which old clients may cost (Kafka's own down-conversion is lazy and chunked for the same
 * reason). Segment bytes below the high watermark never change, so both passes agree; the
 * writer checks that they did.
 */
import { Buffer } from 'node:buffer'
import { read as readCallback } from 'node:fs'
import { open } from 'node:fs/promises'
import { CorruptRecordError } from '../errors.js'
import { downConvertBatches, downConvertedSize, type LegacyMagic } from '../protocol/message-set.js'
import { batchSizeAt, splitBatches } from '../protocol/record-batch.js'
import type { FileRangePart, GeneratedPart } from './handler.js'
import { releaseFileSource } from './send-file.js'

export const DOWN_CONVERSION_WINDOW_BYTES = 1024 * 1024

function readAt(fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => readCallback(fd, buffer, offset, length, position, (error, n) => error ? reject(error) : resolve(n)))
}

async function readExactly(fd: number, length: number, position: number): Promise<Buffer> {
  const bytes = Buffer.allocUnsafe(length)
  let done = 0
  while (done < length) {
    const n = await readAt(fd, bytes, done, length - done, position + done)
    if (n === 0) throw new CorruptRecordError(`segment ended ${length - done} bytes early`)
    done += n
  }
  return bytes
}

/** The range's batches, a window of whole batches at a time. */
async function* batchWindows(range: FileRangePart, windowBytes: number): AsyncGenerator<Buffer> {
  const file = range.file
  const handle = 'fd' in file ? null : await open(file.path, 'r')
  const fd = 'fd' in file ? file.fd : handle!.fd
  try {
    let done = 0
    while (done < range.length) {
      let window = await readExactly(fd, Math.min(windowBytes, range.length - done), range.position + done)
      let whole = window.length - splitBatches(window).trailingBytes
      if (whole === 0) {
        // One batch larger than the window: read it alone.
        const size = batchSizeAt(window, 0)
        if (size <= 0 || done + size > range.length) throw new CorruptRecordError(`a batch of ${size} bytes at position ${range.position + done} does not fit the range read`)
        window = await readExactly(fd, size, range.position + done)
        whole = size
      }
      yield window.subarray(0, whole)
      done += whole
    }
  } finally {
    await handle?.close()
  }
}

/** Bytes of the range once converted to `magic` from `fromOffset` on (the first pass). */
export async function convertedLength(range: FileRangePart, magic: LegacyMagic, fromOffset: number, windowBytes = DOWN_CONVERSION_WINDOW_BYTES): Promise<number> {
  let total = 0
  for await (const window of batchWindows(range, windowBytes)) total += downConvertedSize(window, magic, fromOffset)
  return total
}

/** The converted range as a response part of `length` bytes, generated while it is written; owns the range's file. */
export function convertedPart(range: FileRangePart, magic: LegacyMagic, fromOffset: number, length: number, windowBytes = DOWN_CONVERSION_WINDOW_BYTES): GeneratedPart {
  return {
    length,
    async *chunks() {
      for await (const window of batchWindows(range, windowBytes)) {
        const converted = downConvertBatches(window, magic, fromOffset)
        if (converted.length > 0) yield converted
      }
    },
    release: () => releaseFileSource(range.file),
  }
}
