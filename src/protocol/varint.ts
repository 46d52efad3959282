/**
 * Zigzag varints as RecordBatch v2 records use them. Values stay JS numbers: a varlong is
 * accepted up to 2^53 (timestamps and deltas in practice), and a longer or overlong encoding
 * is rejected rather than silently truncated. Records are read with record-reader.ts.
 */

export function zigzagSize(value: number): number {
  return uvarintSize(zigzag(value))
}

/** Writes `value` zigzag-encoded at `offset`; returns the offset after it. */
export function writeZigzag(buf: Uint8Array, offset: number, value: number): number {
  return writeUvarint(buf, offset, zigzag(value))
}

// ---------------------------------------------------------------- hot-path helpers
// The engine's batch building works on already-zigzagged unsigned values (u = zigzag(n)),
// with a 32-bit fast path that avoids floating-point division for the common small values.

/** Zigzag of a safe integer as an unsigned number. */
export function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1
}

/** Bytes of the unsigned varint `u` (u < 2^54). */
export function uvarintSize(u: number): number {
  if (u < 0x80) return 1
  if (u < 0x4000) return 2
  if (u < 0x200000) return 3
  if (u < 0x10000000) return 4
  let size = 5
  for (let v = Math.floor(u / 0x800000000); v > 0; v = Math.floor(v / 128)) size++
  return size
}

/** Writes unsigned varint `u` at `o`; returns the offset after it. */
export function writeUvarint(out: Uint8Array, o: number, u: number): number {
  if (u < 0x80) {
    out[o] = u
    return o + 1
  }
  if (u < 0x100000000) {
    while (u >= 0x80) {
      out[o++] = (u & 0x7f) | 0x80
      u >>>= 7
    }
    out[o] = u
    return o + 1
  }
  while (u >= 128) {
    out[o++] = (u % 128) | 0x80
    u = Math.floor(u / 128)
  }
  out[o] = u
  return o + 1
}

/**
 * Reads an unsigned varint at `o` from trusted bytes (the engine's own frames): returns the
 * value and leaves the offset after it in `cursor.at`. No bounds or length checks.
 */
export function readUvarint(buf: Uint8Array, cursor: { at: number }): number {
  let o = cursor.at
  let byte = buf[o++]
  if (byte < 0x80) {
    cursor.at = o
    return byte
  }
  let result = byte & 0x7f
  let multiplier = 128
  do {
    byte = buf[o++]
    result += (byte & 0x7f) * multiplier
    multiplier *= 128
  } while (byte >= 0x80)
  cursor.at = o
  return result
}

/** Inverse of `zigzag`. */
export function unzigzag(u: number): number {
  return u % 2 === 0 ? u / 2 : -(u + 1) / 2
}
