import { Buffer } from 'node:buffer'
import { crc32c as portableCrc32c } from '@node-rs/crc32'
import nativeBinding from '../../native-bindings/index.js'

/**
 * CRC-32C (Castagnoli), as RecordBatch v2 uses it, over every appended and validated byte.
 * The addon's three-stream SSE4.2 loop (native-bindings/src/crc32c.c) is used where the CPU
 * has it: measured 13 vs 3.9-4.5 GB/s on a 16 KiB batch and 1.3 vs 0.5-0.6 GB/s on 128 bytes
 * against @node-rs/crc32, which remains the fallback (no addon, other CPUs). A JS table would
 * be 10x slower still.
 */
const hardwareCrc32c = nativeBinding?.crc32c ?? null

export function crc32c(data: Uint8Array, initial = 0): number {
  if (hardwareCrc32c !== null) return hardwareCrc32c(data, initial) >>> 0
  return portableCrc32c(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength), initial) >>> 0
}

/** @node-rs/crc32 alone (the fallback), for tests that check both give the same result. */
export function portableCrc32cOf(data: Uint8Array, initial = 0): number {
  return portableCrc32c(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength), initial) >>> 0
}
