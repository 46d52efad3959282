/**
 * snappy (xerial-framed and raw) and zstd: round trips, interop with the codecs Kafka's Python
 * clients use (python3-snappy via kafka-python's xerial framing, python3-zstandard), the cap
 * on decompressed size (bombs refused from their declared sizes, or cut off while streaming),
 * and malformed input as CorruptRecordError. Random data takes a seed (printed; replay with
 * RINGLOG_SEED).
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import * as zstdBinding from 'zstd-napi/binding.js'
import { compressSync as snappyRaw } from 'snappy'
import { CorruptRecordError } from '../../src/errors.js'
import { checkDecompressedBound, Compression, compress, decompress, snappyOutputSize } from '../../src/protocol/compression.js'

const PYTHON = '/usr/bin/python3'
const hasPythonCodecs = spawnSync(PYTHON, ['-c', 'import snappy, zstandard, kafka.codec']).status === 0
const SEED = Number(process.env.RINGLOG_SEED ?? Date.now() % 1_000_000)
console.log(`compression-snappy-zstd seed ${SEED} (replay: RINGLOG_SEED=${SEED})`)

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32 }
}

/** Compressible but not trivial: words from a small alphabet. */
function sample(size: number, next: () => number): Buffer {
  const out = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) out[i] = next() < 0.2 ? Math.floor(next() * 256) : 97 + Math.floor(next() * 6)
  return out
}

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00])

describe('snappy and zstd codecs', () => {
  it('round-trip sizes from empty to several xerial blocks; snappy is written xerial-framed', () => {
    const next = rng(SEED)
    for (const size of [0, 1, 100, 32 * 1024, 32 * 1024 + 1, 200_000]) {
      const data = sample(size, next)
      for (const codec of [Compression.snappy, Compression.zstd]) {
        const packed = compress(codec, data)
        expect(decompress(codec, packed).equals(data)).toBe(true)
        expect(() => checkDecompressedBound(codec, packed)).not.toThrow()
      }
      const framed = compress(Compression.snappy, data)
      expect(framed.subarray(0, 8).equals(XERIAL_MAGIC)).toBe(true)
      expect(snappyOutputSize(framed)).toBe(size)
    }
  })

  it('reads raw (unframed) snappy', () => {
    const data = sample(50_000, rng(SEED + 1))
    expect(decompress(Compression.snappy, snappyRaw(data)).equals(data)).toBe(true)
  })

  it('reads zstd frames that do not declare their size (streamed), and several frames in a row', () => {
    const data = sample(300_000, rng(SEED + 2))
    const cctx = new zstdBinding.CCtx()
    cctx.setParameter(zstdBinding.CParameter.contentSizeFlag, 0)
    const out = Buffer.alloc(zstdBinding.compressBound(data.length))
    const n = cctx.compress2(out, data)
    const streamed = out.subarray(0, n)
    expect(zstdBinding.getFrameContentSize(streamed)).toBeNull()
    expect(decompress(Compression.zstd, streamed).equals(data)).toBe(true)
    const two = Buffer.concat([compress(Compression.zstd, data.subarray(0, 1000)), streamed])
    expect(decompress(Compression.zstd, two).equals(Buffer.concat([data.subarray(0, 1000), data]))).toBe(true)
  })

  it('refuses bombs: declared sizes past the cap before decompressing, undeclared ones once the output passes it', () => {
    const zeros = Buffer.alloc(2 * 1024 * 1024)
    const cap = 1024 * 1024
    for (const codec of [Compression.snappy, Compression.zstd]) {
      const packed = compress(codec, zeros)
      expect(packed.length).toBeLessThan(200 * 1024)
      expect(() => decompress(codec, packed, cap)).toThrow(CorruptRecordError)
      expect(() => checkDecompressedBound(codec, packed, cap)).toThrow(CorruptRecordError)
      expect(decompress(codec, packed, zeros.length).length).toBe(zeros.length)
    }
    const cctx = new zstdBinding.CCtx()
    cctx.setParameter(zstdBinding.CParameter.contentSizeFlag, 0)
    const out = Buffer.alloc(zstdBinding.compressBound(zeros.length))
    const hidden = out.subarray(0, cctx.compress2(out, zeros))
    expect(() => decompress(Compression.zstd, hidden, cap)).toThrow(/past the 1048576 byte cap/)
    expect(() => checkDecompressedBound(Compression.zstd, hidden, cap)).toThrow(CorruptRecordError)
    // A raw snappy block whose preamble claims 4 GiB is refused from those 5 bytes.
    const liar = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00])
    expect(() => decompress(Compression.snappy, liar)).toThrow(/over the/)
  })

  it('turns malformed input into CorruptRecordError', () => {
    const data = sample(10_000, rng(SEED + 3))
    const framed = compress(Compression.snappy, data)
    const zst = compress(Compression.zstd, data)
    const cases: [number, Buffer][] = [
      [Compression.snappy, framed.subarray(0, framed.length - 3)],
      [Compression.snappy, Buffer.concat([framed.subarray(0, 16), Buffer.from([0x7f, 0xff, 0xff, 0xff])])],
      [Compression.snappy, Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80])],
      [Compression.snappy, Buffer.concat([snappyRaw(data).subarray(0, 1), Buffer.alloc(20, 0xff)])],
      [Compression.zstd, zst.subarray(0, zst.length - 5)],
      [Compression.zstd, Buffer.from('definitely not zstd')],
      [Compression.zstd, Buffer.alloc(0)],
    ]
    for (const [codec, bad] of cases) expect(() => decompress(codec, bad), `codec ${codec}, ${bad.subarray(0, 8).toString('hex')}`).toThrow(CorruptRecordError)
  })

  it.skipIf(!hasPythonCodecs)('interoperates with kafka-python\'s xerial snappy and python3-zstandard, both ways', () => {
    const data = sample(100_000, rng(SEED + 4))
    const script = String.raw`
import sys, zstandard
from kafka.codec import snappy_encode, snappy_decode
lines = sys.stdin.read().split()
data = bytes.fromhex(lines[0])
mine = {k: bytes.fromhex(v) for k, v in (a.split('=') for a in lines[1:])}
assert snappy_decode(mine['snappy']) == data, 'snappy'
assert zstandard.ZstdDecompressor().decompress(mine['zstd']) == data, 'zstd'
print(snappy_encode(data, xerial_compatible=True).hex())
print(zstandard.ZstdCompressor().compress(data).hex())
`
    const input = [data.toString('hex'), `snappy=${compress(Compression.snappy, data).toString('hex')}`, `zstd=${compress(Compression.zstd, data).toString('hex')}`].join('\n')
    const out = execFileSync(PYTHON, ['-c', script], { input, maxBuffer: 64 * 1024 * 1024 }).toString().trim().split('\n')
    const [theirSnappy, theirZstd] = out.map((hex) => Buffer.from(hex, 'hex'))
    expect(theirSnappy.subarray(0, 8).equals(XERIAL_MAGIC)).toBe(true)
    expect(decompress(Compression.snappy, theirSnappy).equals(data)).toBe(true)
    expect(decompress(Compression.zstd, theirZstd).equals(data)).toBe(true)
  })
})
