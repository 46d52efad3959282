import { Buffer } from 'node:buffer'
import { crc32c as portableCrc32c } from '@node-rs/crc32'
import nativeBinding from '../../native-bindings/index.js'

/**
 * CRC-32C (Castagnoli), as RecordBatch v2 uses it, over every appended and validated byte.
 * The addon's three-stream SSE4.2 loop (native-bindings/src/crc32c.c) is used where the CPU
 * has it: 4.25x @node-rs/crc32 on a 16 KiB batch and 1.84x on 128 bytes (bench/micro/
 * codec.bench.ts); @node-rs/crc32 remains the fallback (no addon, other CPUs). A JS table
 * would be 10x slower still.
 */
const hardwareCrc32c = nativeBinding?.crc32c ?? null

export function crc32c(data: Uint8Array, initial = 0): number {
  if (hardwareCrc32c !== null) return hardwareCrc32c(data, initial) >>> 0
  return portableCrc32cOf(data, initial)
}

/** @node-rs/crc32 alone: the fallback, and what tests compare the addon with. */
export function portableCrc32cOf(data: Uint8Array, initial = 0): number {
  return portableCrc32c(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength), initial) >>> 0
}
