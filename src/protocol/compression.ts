/**
 * Record batch compression codecs (attributes bits 0-2). ringlog compresses with none, gzip
 * and lz4 (LZ4 *frame* format, as Kafka writes it), and decompresses those three with a hard
 * cap on output size. Snappy and zstd batches are stored and served as received; only
 * decoding them (which the broker never needs) is unsupported.
 */
import { gunzipSync, gzipSync } from 'node:zlib'
import { compressFrameSync, decompressFrameSync } from 'lz4-napi'
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
    case Compression.lz4: return lz4CompressFrame(data)
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
    default: throw new UnsupportedCompressionError(`cannot decompress codec ${compressionName(codec) ?? codec}`)
  }
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
