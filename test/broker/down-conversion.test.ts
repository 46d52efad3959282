/**
 * Streamed down-conversion (src/broker/down-conversion.ts) against the one-shot conversion:
 * over a real segment-like file, with windows small enough that batches straddle them and one
 * batch is larger than a window, the counted length equals the bytes generated, and those
 * bytes equal converting the whole range at once, for magic 0 and 1, from a fetch offset
 * inside the first batch. The descriptor is closed once released.
 */
import { fstatSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { convertedLength, convertedPart } from '../../src/broker/down-conversion.js'
import { downConvertBatches } from '../../src/protocol/message-set.js'
import { Compression } from '../../src/protocol/compression.js'
import { encodeRecordBatch } from '../../src/protocol/record-batch.js'

const dir = mkdtempSync(join(tmpdir(), 'ringlog-down-conversion-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function segmentBytes(): Buffer {
  const batches: Buffer[] = []
  let offset = 0
  for (let b = 0; b < 12; b++) {
    // Batch 5 holds one record far larger than the window; batch 7 is lz4-compressed.
    const count = b === 5 ? 1 : 3 + (b % 4)
    const records = Array.from({ length: count }, (_, i) => ({ key: `k${b}-${i}`, value: b === 5 ? Buffer.alloc(4096, 1) : `value ${b}-${i}`, timestamp: 1000 + offset + i }))
    const batch = encodeRecordBatch({ baseOffset: offset, records, compression: b === 7 ? Compression.lz4 : Compression.none })
    batches.push(batch)
    offset += count
  }
  return Buffer.concat(batches)
}

function isOpen(fd: number): boolean {
  try {
    fstatSync(fd)
    return true
  } catch {
    return false
  }
}

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const c of chunks) parts.push(c)
  return Buffer.concat(parts)
}

describe('streamed down-conversion', () => {
  it('counts and generates exactly what a one-shot conversion makes, window by window', async () => {
    const bytes = segmentBytes()
    const path = join(dir, 'segment.log')
    const lead = Buffer.alloc(100, 0xee)
    writeFileSync(path, Buffer.concat([lead, bytes]))
    for (const magic of [0, 1] as const) {
      for (const fromOffset of [0, 2]) {
        const range = { file: { path }, position: lead.length, length: bytes.length }
        const expected = downConvertBatches(bytes, magic, fromOffset)
        const length = await convertedLength(range, magic, fromOffset, 300)
        expect(length).toBe(expected.length)
        const generated = await collect(convertedPart(range, magic, fromOffset, length, 300).chunks())
        expect(generated.equals(expected)).toBe(true)
      }
    }
  })

  it('reads through a held descriptor and closes it on release', async () => {
    const bytes = segmentBytes()
    const path = join(dir, 'held.log')
    writeFileSync(path, bytes)
    const fd = openSync(path, 'r')
    const range = { file: { fd, owned: true }, position: 0, length: bytes.length }
    const part = convertedPart(range, 1, 0, await convertedLength(range, 1, 0))
    expect((await collect(part.chunks())).equals(downConvertBatches(bytes, 1, 0))).toBe(true)
    part.release()
    // The close is asynchronous: wait for it, bounded.
    const deadline = Date.now() + 5000
    while (isOpen(fd) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
    expect(isOpen(fd)).toBe(false)
  })
})
