/**
 * Record batch compression codecs (attributes bits 0-2): none, gzip, snappy, lz4 (LZ4 *frame*
 * format, as Kafka writes it) and zstd, each compressed and decompressed here with a hard cap
 * on decompressed size (decompression bombs). Snappy comes in two forms: Kafka's Java and
 * librdkafka clients write xerial framing (a 16-byte header, then length-prefixed raw blocks),
 * others a bare raw block; both are read, xerial is written.
 */
import { gunzipSync, gzipSync } from 'node:zlib'
import { compressFrameSync, decompressFrameSync } from 'lz4-napi'
import { compressSync as snappyCompressRaw, uncompressSync as snappyUncompressRaw } from 'snappy'
import { createRequire } from 'node:module'
import type * as ZstdBinding from 'zstd-napi/binding.js'
import nativeBinding from '../../native-bindings/index.js'
import { CorruptRecordError, UnsupportedCompressionError } from '../errors.js'

export const Compression = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const
export type CompressionName = keyof typeof Compression
export type CompressionCode = (typeof Compression)[CompressionName]

export function compressionName(code: number): CompressionName | undefined {
  return (Object.keys(Compression) as CompressionName[]).find((n) => Compression[n] === code)
}

/**
 * LZ4 frames are made by the addon's liblz4 where it was built with it (3.7x lz4-napi's speed
 * on 16 KiB batches, see native-bindings/src/lz4.c), else by lz4-napi. Both write Kafka's
 * frame header and independent 64 KiB blocks.
 */
const lz4CompressFrame: (data: Buffer) => Buffer = nativeBinding?.lz4CompressFrame ?? compressFrameSync

/** Default cap on one batch's decompressed records: far above message.max.bytes, far below a bomb. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024

export function compress(codec: number, data: Buffer): Buffer {
  switch (codec) {
    case Compression.none: return data
    case Compression.gzip: return gzipSync(data, { level: 6 })
    case Compression.snappy: return snappyCompressXerial(data)
    case Compression.lz4: return lz4CompressFrame(data)
    case Compression.zstd: return zstdCompress(data)
    default: throw new UnsupportedCompressionError(`cannot compress with codec ${compressionName(codec) ?? codec}`)
  }
}

export function decompress(codec: number, data: Buffer, maxBytes = DEFAULT_MAX_DECOMPRESSED_BYTES): Buffer {
  switch (codec) {
    case Compression.none: return data
    case Compression.gzip: {
      // zlib stops once its output passes maxOutputLength, so a bomb costs at most the cap.
      let out: Buffer
      try {
        out = gunzipSync(data, { maxOutputLength: Math.max(1, maxBytes) })
      } catch (e) {
        throw new CorruptRecordError(`gzip batch does not decompress within ${maxBytes} bytes: ${(e as Error).message}`)
      }
      if (out.length > maxBytes) throw new CorruptRecordError(`gzip batch decompresses past the ${maxBytes} byte cap`)
      return out
    }
    case Compression.lz4: {
      const bound = checkLz4Bound(data, maxBytes)
      let out: Buffer
      try {
        out = decompressFrameSync(data)
      } catch (e) {
        throw new CorruptRecordError(`lz4 batch does not decompress: ${(e as Error).message}`)
      }
      if (out.length > bound) throw new CorruptRecordError(`lz4 batch decompressed to ${out.length} bytes, past its ${bound} byte bound`)
      return out
    }
    case Compression.snappy: return snappyDecompress(data, maxBytes)
    case Compression.zstd: return zstdDecompress(data, maxBytes)
    default: throw new UnsupportedCompressionError(`cannot decompress codec ${compressionName(codec) ?? codec}`)
  }
}

/**
 * Refuses (CorruptRecordError) a compressed records section that may decompress past
 * `maxBytes` or is not of its codec's format, before it is stored. lz4 and snappy are judged
 * from their structure alone (block tables, length preambles); zstd from the content sizes its
 * frames declare, else by decompressing under the cap (the partition worker runs this, never
 * the coordinator thread).
 */
export function checkDecompressedBound(codec: number, data: Buffer, maxBytes = DEFAULT_MAX_DECOMPRESSED_BYTES): void {
  switch (codec) {
    case Compression.lz4:
      checkLz4Bound(data, maxBytes)
      return
    case Compression.snappy: {
      const size = snappyOutputSize(data)
      if (size > maxBytes) throw new CorruptRecordError(`snappy batch declares ${size} decompressed bytes, over the ${maxBytes} cap`)
      return
    }
    case Compression.zstd: {
      const declared = zstdDeclaredSize(data)
      if (declared === null) zstdDecompress(data, maxBytes)
      else if (declared > maxBytes) throw new CorruptRecordError(`zstd batch declares ${declared} decompressed bytes, over the ${maxBytes} cap`)
      return
    }
    default:
      // gzip is bounded while it decompresses (maxOutputLength); none needs no bound.
  }
}

// ------------------------------------------------------------------ snappy

/** Xerial's snappy-java stream header: magic, then version 1 and minimum compatible version 1 (big-endian int32s). */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00])
const XERIAL_HEADER_BYTES = 16
/** snappy-java's default block size: each block is one raw snappy block of at most this much input. */
const XERIAL_BLOCK_BYTES = 32 * 1024

function isXerial(data: Buffer): boolean {
  return data.length >= XERIAL_HEADER_BYTES && data.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC)
}

function snappyCompressXerial(data: Buffer): Buffer {
  const header = Buffer.alloc(XERIAL_HEADER_BYTES)
  XERIAL_MAGIC.copy(header)
  header.writeInt32BE(1, 8)
  header.writeInt32BE(1, 12)
  const parts: Buffer[] = [header]
  for (let at = 0; at < data.length; at += XERIAL_BLOCK_BYTES) {
    const block = snappyCompressRaw(data.subarray(at, Math.min(data.length, at + XERIAL_BLOCK_BYTES)))
    const length = Buffer.allocUnsafe(4)
    length.writeInt32BE(block.length, 0)
    parts.push(length, block)
  }
  return Buffer.concat(parts)
}

/** A raw snappy block starts with its decompressed length as a little-endian base-128 varint (at most 32 bits). */
function rawSnappyLength(block: Buffer): number {
  let value = 0
  for (let i = 0; i < 5; i++) {
    if (i >= block.length) throw new CorruptRecordError('snappy block truncated in its length preamble')
    const byte = block[i]
    value += (byte & 0x7f) * 2 ** (7 * i)
    if ((byte & 0x80) === 0) {
      if (value > 0xffffffff) throw new CorruptRecordError('snappy block length preamble over 32 bits')
      return value
    }
  }
  throw new CorruptRecordError('snappy block length preamble longer than 5 bytes')
}

/** The blocks of a xerial stream (each a raw snappy block), or the whole input for raw snappy. */
function snappyBlocks(data: Buffer): Buffer[] {
  if (!isXerial(data)) return [data]
  const blocks: Buffer[] = []
  let at = XERIAL_HEADER_BYTES
  while (at < data.length) {
    if (at + 4 > data.length) throw new CorruptRecordError('xerial snappy block length truncated')
    const length = data.readInt32BE(at)
    at += 4
    if (length < 0 || at + length > data.length) throw new CorruptRecordError('xerial snappy block runs past the end of the batch')
    blocks.push(data.subarray(at, at + length))
    at += length
  }
  return blocks
}

/** Total decompressed size the snappy data declares (read from its preambles, nothing decompressed). */
export function snappyOutputSize(data: Buffer): number {
  let total = 0
  for (const block of snappyBlocks(data)) total += rawSnappyLength(block)
  return total
}

function snappyDecompress(data: Buffer, maxBytes: number): Buffer {
  const declared = snappyOutputSize(data)
  if (declared > maxBytes) throw new CorruptRecordError(`snappy batch declares ${declared} decompressed bytes, over the ${maxBytes} cap`)
  const blocks = snappyBlocks(data)
  try {
    // The decoder allocates what a block's preamble says (checked above) and fails on any mismatch.
    const parts = blocks.map((block) => snappyUncompressRaw(block, { asBuffer: true }) as Buffer)
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, declared)
  } catch (e) {
    throw new CorruptRecordError(`snappy batch does not decompress: ${(e as Error).message}`)
  }
}

// ------------------------------------------------------------------ zstd

/**
 * zstd-napi's thin binding (its high-level Decompressor has no output limit). Loaded with
 * require: its exports come from a .node file, which an ESM named or namespace import cannot see.
 */
const zstd = createRequire(import.meta.url)('zstd-napi/binding.js') as typeof ZstdBinding
const ZSTD_LEVEL = 3
let zstdCompressContext: ZstdBinding.CCtx | undefined
let zstdDecompressContext: ZstdBinding.DCtx | undefined

function zstdCompress(data: Buffer): Buffer {
  zstdCompressContext ??= new zstd.CCtx()
  const out = Buffer.allocUnsafe(zstd.compressBound(data.length))
  const written = zstdCompressContext.compress(out, data, ZSTD_LEVEL)
  return out.subarray(0, written)
}

/** The sum of the content sizes every frame declares, or null if one does not declare it. */
function zstdDeclaredSize(data: Buffer): number | null {
  let total = 0
  let frame = data
  try {
    while (frame.length > 0) {
      const size = zstd.getFrameContentSize(frame)
      if (size === null) return null
      total += size
      frame = frame.subarray(zstd.findFrameCompressedSize(frame))
    }
  } catch (e) {
    throw new CorruptRecordError(`not a zstd frame: ${(e as Error).message}`)
  }
  return total
}

/**
 * Streams the frames through one reused context, stopping as soon as the output passes
 * `maxBytes`: a frame that hides its size (streamed producers) costs at most the cap.
 */
function zstdDecompress(data: Buffer, maxBytes: number): Buffer {
  if (data.length === 0) throw new CorruptRecordError('empty zstd batch')
  const declared = zstdDeclaredSize(data)
  if (declared !== null && declared > maxBytes) throw new CorruptRecordError(`zstd batch declares ${declared} decompressed bytes, over the ${maxBytes} cap`)
  zstdDecompressContext ??= new zstd.DCtx()
  const dctx = zstdDecompressContext
  dctx.reset(zstd.ResetDirective.sessionOnly)
  const chunks: Buffer[] = []
  let total = 0
  let input = data
  let pending = 1
  try {
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(Math.max(declared ?? 0, 64 * 1024), maxBytes - total + 1))
      const [left, produced, consumed] = dctx.decompressStream(chunk, input)
      pending = left
      input = input.subarray(consumed)
      total += produced
      if (total > maxBytes) throw new CorruptRecordError(`zstd batch decompresses past the ${maxBytes} byte cap`)
      chunks.push(chunk.subarray(0, produced))
      if (input.length === 0 && (produced < chunk.length || pending === 0)) break
      if (consumed === 0 && produced === 0) throw new CorruptRecordError('zstd batch makes no progress')
    }
  } catch (e) {
    dctx.reset(zstd.ResetDirective.sessionOnly)
    if (e instanceof CorruptRecordError) throw e
    throw new CorruptRecordError(`zstd batch does not decompress: ${(e as Error).message}`)
  }
  if (pending !== 0) throw new CorruptRecordError('zstd batch ends inside a frame')
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total)
}

const LZ4_MAGIC = 0x184d2204
const LZ4_BLOCK_MAX = [0, 0, 0, 0, 64 << 10, 256 << 10, 1 << 20, 4 << 20]

/**
 * An LZ4 block of n compressed bytes decodes to at most 255n bytes: the densest sequence is a
 * token, a 2-byte offset and match-length bytes of 255 each, every byte adding at most 255.
 */
const LZ4_MAX_BLOCK_EXPANSION = 255

/**
 * Upper bound of an LZ4 frame's decompressed size, read from its structure without
 * decompressing (lz4-napi has no output limit). Per block: the stored size for an uncompressed
 * block, else min(declared block maximum, 255 x compressed size), so a frame of tiny blocks
 * that declares 4 MiB blocks is not over-counted and a frame of many dense blocks is counted
 * in full. lz4-napi rejects a block that decodes past the declared maximum, which keeps the
 * bound sound. Only the first frame counts: lz4-napi stops there. Throws on a malformed frame.
 */
/**
 * Refuses (CorruptRecordError) an lz4 frame that may decompress past `maxBytes`, judged from its
 * block table alone; returns the bound. lz4-napi has no output limit, so this runs before any
 * decompression, and the broker runs it on append so it never stores what its decoders refuse.
 */
export function checkLz4Bound(frame: Buffer, maxBytes = DEFAULT_MAX_DECOMPRESSED_BYTES): number {
  const bound = lz4FrameOutputBound(frame)
  if (bound > maxBytes) throw new CorruptRecordError(`lz4 batch may decompress to ${bound} bytes, over the ${maxBytes} cap`)
  return bound
}

export function lz4FrameOutputBound(frame: Buffer): number {
  if (frame.length < 7 || frame.readUInt32LE(0) !== LZ4_MAGIC) throw new CorruptRecordError('not an LZ4 frame')
  const flg = frame[4]
  const bd = frame[5]
  if (flg >> 6 !== 1) throw new CorruptRecordError('unsupported LZ4 frame version')
  const blockMax = LZ4_BLOCK_MAX[(bd >> 4) & 7]
  if (!blockMax) throw new CorruptRecordError('invalid LZ4 block size')
  const blockChecksum = (flg & 0x10) !== 0
  let o = 6 + ((flg & 0x08) ? 8 : 0) + ((flg & 0x01) ? 4 : 0) + 1
  let bound = 0
  for (;;) {
    if (o + 4 > frame.length) throw new CorruptRecordError('LZ4 frame truncated')
    const word = frame.readUInt32LE(o)
    o += 4
    if (word === 0) break
    const size = word & 0x7fffffff
    if (size > blockMax) throw new CorruptRecordError('LZ4 block larger than its declared maximum')
    const uncompressed = (word & 0x80000000) !== 0
    o += size + (blockChecksum ? 4 : 0)
    if (o > frame.length) throw new CorruptRecordError('LZ4 block runs past the end of the frame')
    bound += uncompressed ? size : Math.min(blockMax, size * LZ4_MAX_BLOCK_EXPANSION)
  }
  if ((flg & 0x04) && o + 4 > frame.length) throw new CorruptRecordError('LZ4 frame content checksum truncated')
  return bound
}
