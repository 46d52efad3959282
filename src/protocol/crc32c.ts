import { Buffer } from 'node:buffer'
import { crc32c as nativeCrc32c } from '@node-rs/crc32'

/**
 * CRC-32C (Castagnoli), as RecordBatch v2 uses it. Backed by @node-rs/crc32 (SSE4.2,
 * ~4 GB/s); a JS table would be 10x slower and this runs on every appended byte.
 */
export function crc32c(data: Uint8Array, initial = 0): number {
  return nativeCrc32c(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength), initial) >>> 0
}
