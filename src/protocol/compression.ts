/**
 * Record batch compression codecs (attributes bits 0-2). ringlog compresses with none, gzip
 * and lz4 (LZ4 *frame* format, as Kafka writes it), and decompresses those three with a hard
 * cap on output size. Snappy and zstd batches are stored and served as received; only
 * decoding them (which the broker never needs) is unsupported.
 */
import { gunzipSync, gzipSync } from 'node:zlib'
import { compressFrameSync, decompressFrameSync } from 'lz4-napi'
import { CorruptRecordError, UnsupportedCompressionError } from '../errors.js'

export const Compression = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const
export type CompressionName = keyof typeof Compression
export type CompressionCode = (typeof Compression)[CompressionName]

export function compressionName(code: number): CompressionName | undefined {
  return (Object.keys(Compression) as CompressionName[]).find((n) => Compression[n] === code)
}

/** Default cap on one batch's decompressed records: far above message.max.bytes, far below a bomb. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024

export function compress(codec: number, data: Buffer): Buffer {
  switch (codec) {
    case Compression.none: return data
    case Compression.gzip: return gzipSync(data, { level: 6 })
    case Compression.lz4: return compressFrameSync(data)
    default: throw new UnsupportedCompressionError(`cannot compress with codec ${compressionName(codec) ?? codec}`)
  }
}

export function decompress(codec: number, data: Buffer, maxBytes = DEFAULT_MAX_DECOMPRESSED_BYTES): Buffer {
  switch (codec) {
    case Compression.none: return data
    case Compression.gzip:
      try {
        return gunzipSync(data, { maxOutputLength: maxBytes })
      } catch (e) {
        throw new CorruptRecordError(`gzip batch does not decompress within ${maxBytes} bytes: ${(e as Error).message}`)
      }
    case Compression.lz4: {
      const bound = lz4FrameOutputBound(data)
      if (bound > maxBytes) throw new CorruptRecordError(`lz4 batch may decompress to ${bound} bytes, over the ${maxBytes} cap`)
      try {
        return decompressFrameSync(data)
      } catch (e) {
        throw new CorruptRecordError(`lz4 batch does not decompress: ${(e as Error).message}`)
      }
    }
    default: throw new UnsupportedCompressionError(`cannot decompress codec ${compressionName(codec) ?? codec}`)
  }
}

const LZ4_MAGIC = 0x184d2204
const LZ4_BLOCK_MAX = [0, 0, 0, 0, 64 << 10, 256 << 10, 1 << 20, 4 << 20]

/**
 * Upper bound of an LZ4 frame's decompressed size, read from its structure without
 * decompressing (lz4-napi has no output limit): the number of blocks times the block size
 * the descriptor declares. Throws on a malformed frame.
 */
export function lz4FrameOutputBound(frame: Buffer): number {
  if (frame.length < 7 || frame.readUInt32LE(0) !== LZ4_MAGIC) throw new CorruptRecordError('not an LZ4 frame')
  const flg = frame[4]
  const bd = frame[5]
  if (flg >> 6 !== 1) throw new CorruptRecordError('unsupported LZ4 frame version')
  const blockMax = LZ4_BLOCK_MAX[(bd >> 4) & 7]
  if (!blockMax) throw new CorruptRecordError('invalid LZ4 block size')
  const blockChecksum = (flg & 0x10) !== 0
  let o = 6 + ((flg & 0x08) ? 8 : 0) + ((flg & 0x01) ? 4 : 0) + 1
  let blocks = 0
  for (;;) {
    if (o + 4 > frame.length) throw new CorruptRecordError('LZ4 frame truncated')
    const word = frame.readUInt32LE(o)
    o += 4
    if (word === 0) break
    const size = word & 0x7fffffff
    if (size > blockMax) throw new CorruptRecordError('LZ4 block larger than its declared maximum')
    o += size + (blockChecksum ? 4 : 0)
    blocks++
  }
  return blocks * blockMax
}
