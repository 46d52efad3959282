import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import * as zlib from 'node:zlib'
import * as lz4 from 'lz4-napi'
import { afterEach, describe, expect, it, vi } from 'vitest'
import nativeBinding from '../../native-bindings/index.js'
import { CorruptRecordError, UnsupportedCompressionError } from '../../src/errors.js'
import {
  Compression, DEFAULT_MAX_DECOMPRESSED_BYTES, compress, compressionName, decompress, lz4FrameOutputBound,
} from '../../src/protocol/compression.js'
import { computeBatchCrc, decodeRecordBatch, encodeRecordBatch, LOG_OVERHEAD } from '../../src/protocol/record-batch.js'
import { encodeRecords } from '../../src/protocol/records.js'
import { skipWithout } from '../compat/required-tool.js'

// Wrap (not replace) the decompressors so tests can prove a bomb is refused before, or
// capped inside, the real call.
vi.mock('lz4-napi', async (importOriginal) => {
  const real = await importOriginal<typeof import('lz4-napi')>()
  return { ...real, decompressFrameSync: vi.fn(real.decompressFrameSync) }
})
vi.mock('node:zlib', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:zlib')>()
  return { ...real, gunzipSync: vi.fn(real.gunzipSync) }
})

afterEach(() => { vi.mocked(lz4.decompressFrameSync).mockClear(); vi.mocked(zlib.gunzipSync).mockClear() })

const FIXTURES = fileURLToPath(new URL('../fixtures/lz4-cli/', import.meta.url))
const LZ4_CLI = '/usr/bin/lz4'
const MiB = 1024 * 1024
/** FLG 0x60 (version 1, independent blocks, no checksums), BD 0x40 (64 KiB blocks), header checksum. */
const KAFKA_FRAME_HEADER = Buffer.from('04224d18604082', 'hex')
const END_MARK = Buffer.alloc(4)

function blockWord(size: number, uncompressed = false): Buffer {
  const w = Buffer.alloc(4)
  w.writeUInt32LE((uncompressed ? 0x80000000 : 0) + size)
  return w
}

/** One 64 KiB block of zeros as lz4 compresses it (word + data), cut out of a real frame. */
function denseBlock(): Buffer {
  const frame = lz4.compressFrameSync(Buffer.alloc(64 * 1024))
  expect(frame.subarray(0, 7).equals(KAFKA_FRAME_HEADER)).toBe(true)
  return frame.subarray(7, frame.length - 4)
}

/** A valid LZ4 frame of `blocks` dense blocks: decompresses to blocks x 64 KiB of zeros. */
function lz4Bomb(blocks: number): Buffer {
  const block = denseBlock()
  return Buffer.concat([KAFKA_FRAME_HEADER, ...Array(blocks).fill(block), END_MARK])
}

function sample(size: number): Buffer {
  const text = Buffer.from('kafka record batch payload with some repetition; ')
  const out = Buffer.alloc(size)
  for (let i = 0; i < size; i++) out[i] = i % 7 === 0 ? (i * 31) & 0xff : text[i % text.length]
  return out
}

describe('codecs', () => {
  it('names codecs', () => {
    expect(compressionName(3)).toBe('lz4')
    expect(compressionName(9)).toBeUndefined()
  })

  it.each([['none', 0], ['gzip', 1], ['lz4', 3]] as const)('%s round-trips, empty input included', (_n, codec) => {
    for (const data of [sample(16 * 1024), sample(300 * 1024), Buffer.alloc(0)]) {
      expect(decompress(codec, compress(codec, data)).equals(data)).toBe(true)
    }
  })

  it('writes a Kafka-compatible LZ4 frame header for a 16 KiB batch', () => {
    expect(compress(Compression.lz4, sample(16 * 1024)).subarray(0, 7).equals(KAFKA_FRAME_HEADER)).toBe(true)
  })

  it.runIf(existsSync('/usr/include/lz4frame.h') && process.platform === 'linux' && process.env.RINGLOG_NO_NATIVE !== '1')(
    'compresses with the addon\'s liblz4 where it was built with it, frames lz4-napi reads like its own', () => {
      const native = nativeBinding?.lz4CompressFrame
      expect(typeof native).toBe('function')
      for (const data of [sample(16 * 1024), sample(300 * 1024), Buffer.alloc(0), Buffer.alloc(70 * 1024, 7)]) {
        const frame = native!(data)
        expect(frame.subarray(0, 7).equals(KAFKA_FRAME_HEADER)).toBe(true)
        expect(lz4.decompressFrameSync(frame).equals(data)).toBe(true)
        expect(lz4.decompressFrameSync(lz4.compressFrameSync(data)).equals(data)).toBe(true)
      }
      expect(() => native!('text' as unknown as Uint8Array)).toThrow(TypeError)
    })

  it('does not compress or decompress unknown codecs (5-7)', () => {
    for (const codec of [5, 6, 7]) {
      expect(() => compress(codec, Buffer.from('x'))).toThrow(UnsupportedCompressionError)
      expect(() => decompress(codec, Buffer.from('x'))).toThrow(UnsupportedCompressionError)
    }
  })

  it('turns garbage into CorruptRecordError', () => {
    expect(() => decompress(Compression.gzip, Buffer.from('not gzip at all'))).toThrow(CorruptRecordError)
    expect(() => decompress(Compression.lz4, Buffer.from('not lz4 at all'))).toThrow(CorruptRecordError)
  })
})

describe('lz4FrameOutputBound', () => {
  it('counts a stored (uncompressed) block exactly and decodes it', () => {
    const frame = Buffer.concat([KAFKA_FRAME_HEADER, blockWord(5, true), Buffer.from('hello'), END_MARK])
    expect(lz4FrameOutputBound(frame)).toBe(5)
    expect(decompress(Compression.lz4, frame).toString()).toBe('hello')
  })

  it('bounds a compressed block by 255x its size, not the declared 4 MiB maximum', () => {
    const frame = lz4.compressFrameSync(sample(300 * 1024)) // lz4-napi picks 4 MiB blocks past 64 KiB
    expect(frame[5] >> 4).toBe(7)
    const bound = lz4FrameOutputBound(frame)
    expect(bound).toBeGreaterThanOrEqual(300 * 1024)
    expect(bound).toBeLessThan(4 * MiB)
  })

  it('rejects malformed frames', () => {
    const good = lz4.compressFrameSync(sample(1000))
    const bad = (edit: (b: Buffer) => void) => { const b = Buffer.from(good); edit(b); return b }
    expect(() => lz4FrameOutputBound(Buffer.from('0422', 'hex'))).toThrow(/not an LZ4 frame/)
    expect(() => lz4FrameOutputBound(bad((b) => { b[4] = 0x20 }))).toThrow(/version/)
    expect(() => lz4FrameOutputBound(bad((b) => { b[5] = 0x10 }))).toThrow(/block size/)
    expect(() => lz4FrameOutputBound(good.subarray(0, good.length - 2))).toThrow(/truncated/)
    expect(() => lz4FrameOutputBound(bad((b) => b.writeUInt32LE(70_000, 7)))).toThrow(/larger than its declared maximum/)
    expect(() => lz4FrameOutputBound(bad((b) => b.writeUInt32LE(60_000, 7)))).toThrow(/past the end/)
  })

  it('is sound: a block that decodes past its declared maximum is refused by the decoder', () => {
    // A raw block of 256 KiB of zeros inside a frame that declares 64 KiB blocks.
    const raw = lz4.compressSync(Buffer.alloc(256 * 1024)).subarray(4)
    const frame = Buffer.concat([KAFKA_FRAME_HEADER, blockWord(raw.length), raw, END_MARK])
    expect(lz4FrameOutputBound(frame)).toBeLessThanOrEqual(64 * 1024)
    expect(() => decompress(Compression.lz4, frame)).toThrow(CorruptRecordError)
  })
})

describe('decompression bombs', () => {
  it('refuses an lz4 frame of many dense blocks over the cap without decompressing it', () => {
    const bomb = lz4Bomb(2048) // 128 MiB of zeros in ~0.6 MB
    expect(bomb.length).toBeLessThan(MiB)
    expect(lz4FrameOutputBound(bomb)).toBe(128 * MiB)
    expect(() => decompress(Compression.lz4, bomb)).toThrow(CorruptRecordError)
    expect(() => decompress(Compression.lz4, bomb)).toThrow(/over the 67108864 cap/)
    expect(lz4.decompressFrameSync).not.toHaveBeenCalled()
  })

  it('draws the lz4 line at the cap exactly', () => {
    expect(decompress(Compression.lz4, lz4Bomb(16), MiB).length).toBe(MiB)
    expect(() => decompress(Compression.lz4, lz4Bomb(17), MiB)).toThrow(CorruptRecordError)
  })

  it('refuses an lz4 bomb inside a valid batch with CorruptRecordError', () => {
    const template = encodeRecordBatch({ records: [{ value: 'x' }], compression: Compression.lz4 })
    const batch = Buffer.concat([template.subarray(0, 61), lz4Bomb(2048)])
    batch.writeInt32BE(batch.length - LOG_OVERHEAD, 8)
    batch.writeUInt32BE(computeBatchCrc(batch, 0, batch.length), 17)
    expect(() => decodeRecordBatch(batch)).toThrow(CorruptRecordError)
    expect(lz4.decompressFrameSync).not.toHaveBeenCalled()
  })

  it('stops a gzip bomb at the cap (zlib maxOutputLength), single member and concatenated members', () => {
    const single = zlib.gzipSync(Buffer.alloc(32 * MiB), { level: 9 })
    const member = zlib.gzipSync(Buffer.alloc(MiB), { level: 9 })
    const multi = Buffer.concat(Array(256).fill(member)) // 256 MiB of zeros
    for (const bomb of [single, multi]) {
      expect(bomb.length).toBeLessThan(MiB)
      expect(() => decompress(Compression.gzip, bomb, 4 * MiB)).toThrow(CorruptRecordError)
    }
    for (const call of vi.mocked(zlib.gunzipSync).mock.calls) expect(call[1]).toEqual({ maxOutputLength: 4 * MiB })
    expect(() => decompress(Compression.gzip, multi)).toThrow(/within 67108864 bytes/)
    expect(decompress(Compression.gzip, member, MiB).length).toBe(MiB) // exactly at the cap is fine
  })

  it('keeps the default cap far above a 1 MiB batch and far below a bomb', () => {
    expect(DEFAULT_MAX_DECOMPRESSED_BYTES).toBe(64 * MiB)
  })
})

describe('LZ4 interop with the lz4 CLI (committed fixtures)', () => {
  const input = readFileSync(FIXTURES + 'input.bin')
  const variants = Object.keys(JSON.parse(readFileSync(FIXTURES + 'expected.json', 'utf8')).variants as Record<string, string[]>)

  it.each(variants)('decompresses the CLI frame "%s"', (name) => {
    const frame = readFileSync(`${FIXTURES}${name}.lz4`)
    expect(decompress(Compression.lz4, frame).equals(input)).toBe(true)
  })

  it('covers block checksums, linked blocks, content size and content checksum', () => {
    const flags = variants.map((n) => readFileSync(`${FIXTURES}${n}.lz4`)[4])
    expect(flags.some((f) => f & 0x10)).toBe(true) // block checksum
    expect(flags.some((f) => (f & 0x20) === 0)).toBe(true) // linked blocks
    expect(flags.some((f) => f & 0x08)).toBe(true) // content size
    expect(flags.some((f) => f & 0x04)).toBe(true) // content checksum
  })
})

describe.skipIf(skipWithout('the lz4 CLI', existsSync(LZ4_CLI), 'lz4'))('LZ4 interop with the lz4 CLI (live child process)', () => {
  function cli(args: string[], input: Buffer): Buffer {
    const r = spawnSync(LZ4_CLI, args, { input, maxBuffer: 64 * MiB, timeout: 20_000 })
    if (r.status !== 0) throw new Error(`lz4 ${args.join(' ')} failed: ${r.stderr.toString()}`)
    return r.stdout
  }

  it('lz4 -d restores what we compressed (16 KiB, 300 KiB, a batch body)', () => {
    const body = encodeRecords(Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, value: sample(100) })), 0)
    for (const data of [sample(16 * 1024), sample(300 * 1024), body]) {
      expect(cli(['-d', '-c'], compress(Compression.lz4, data)).equals(data)).toBe(true)
    }
    const batch = encodeRecordBatch({ records: [{ value: sample(2000) }], compression: Compression.lz4, baseTimestamp: 1 })
    expect(cli(['-d', '-c'], batch.subarray(61)).equals(encodeRecords([{ value: sample(2000) }], 1))).toBe(true)
  })

  it.each([[[] as string[]], [['-B4', '-BX']], [['-B4', '-BD', '--no-frame-crc']], [['-9', '-B5']]])('we decompress what lz4 %j makes', (flags) => {
    const data = sample(200 * 1024)
    expect(decompress(Compression.lz4, cli(['-z', '-c', ...flags], data)).equals(data)).toBe(true)
  })
})
