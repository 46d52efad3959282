/**
 * Producer compression by name ('none', 'gzip', 'snappy', 'lz4', 'zstd') or by Kafka codec
 * number (what kafkajs's CompressionTypes hold). The engine writes all five.
 */
import { InvalidRequestError, UnsupportedCompressionError } from '../errors.js'
import { Compression, compressionName } from '../protocol/compression.js'
import type { CompressionOption } from './types.js'

const WRITABLE = new Set<number>([Compression.none, Compression.gzip, Compression.snappy, Compression.lz4, Compression.zstd])

export function resolveCompression(option: CompressionOption): number {
  const code = typeof option === 'number' ? option : (Compression as Record<string, number>)[option]
  if (code === undefined || compressionName(code) === undefined) {
    throw new InvalidRequestError(`compression must be one of ${Object.keys(Compression).join(', ')} or its codec number, got ${String(option)}`)
  }
  if (!WRITABLE.has(code)) throw new UnsupportedCompressionError(`the embedded producer cannot compress with ${compressionName(code)}; use none, gzip, snappy, lz4 or zstd`)
  return code
}
