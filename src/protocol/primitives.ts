/**
 * Kafka wire primitives: a bounded `Reader` and a growable `Writer`, used by the generated
 * codecs in messages/ and by the request/response headers.
 *
 * int64 fields are plain JS numbers, as everywhere else in ringlog (see readInt64 in
 * record-batch.ts): offsets, timestamps and producer ids stay far below 2^53, where a number
 * is exact, and numbers keep handler code free of bigint/number mixing. A value beyond 2^53
 * (Long.MAX_VALUE as a sentinel, say) decodes rounded, and the writer clamps to the int64 range,
 * so Long.MIN/MAX_VALUE survive a round trip exactly.
 *
 * Decoding never trusts a claimed size: every length and count is checked against the bytes
 * actually present before anything is read or allocated, and every failure is a
 * ProtocolDecodeError (never a RangeError from Buffer).
 */
import { Buffer } from 'node:buffer'
import { ProtocolDecodeError, ProtocolEncodeError } from '../errors.js'

// Defined in the error table; re-exported here, where the codecs have always imported them.
// ProtocolEncodeError: a null in a non-nullable field, a non-ignorable field the version lacks,
// a string too long.
export { ProtocolDecodeError, ProtocolEncodeError }

/** A non-ignorable field set to a non-default value in a version that cannot carry it. */
export function fieldNotInVersion(field: string, version: number): ProtocolEncodeError {
  return new ProtocolEncodeError(`${field} has a non-default value but version ${version} cannot carry it`)
}

/**
 * What an encoder accepts: the decoded shape with every field optional (an absent field is
 * written as its schema default, as Kafka's generated Java does) and arrays read-only.
 */
export type EncodeInput<T> =
  T extends Uint8Array ? T :
  T extends readonly (infer E)[] ? readonly EncodeInput<E>[] :
  T extends object ? { readonly [K in keyof T]?: EncodeInput<T[K]> } :
  T

/** Kafka prints uuids as unpadded base64url; the all-zero uuid is its "no id". */
export const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA'

const TWO_32 = 4294967296
const INT64_MAX = 2n ** 63n - 1n
const INT64_MIN = -(2n ** 63n)

export class Reader {
  offset: number
  readonly end: number

  constructor(readonly buf: Buffer, offset = 0, end = buf.length) {
    if (offset < 0 || end > buf.length || offset > end) throw new ProtocolDecodeError('reader bounds outside the buffer')
    this.offset = offset
    this.end = end
  }

  get remaining(): number { return this.end - this.offset }

  private need(n: number, what: string): number {
    const at = this.offset
    if (n > this.end - at) throw new ProtocolDecodeError(`${what} needs ${n} bytes, ${this.end - at} left`)
    this.offset = at + n
    return at
  }

  int8(): number { return this.buf.readInt8(this.need(1, 'int8')) }
  int16(): number { return this.buf.readInt16BE(this.need(2, 'int16')) }
  uint16(): number { return this.buf.readUInt16BE(this.need(2, 'uint16')) }
  int32(): number { return this.buf.readInt32BE(this.need(4, 'int32')) }
  uint32(): number { return this.buf.readUInt32BE(this.need(4, 'uint32')) }
  float64(): number { return this.buf.readDoubleBE(this.need(8, 'float64')) }

  int64(): number {
    const at = this.need(8, 'int64')
    return this.buf.readInt32BE(at) * TWO_32 + this.buf.readUInt32BE(at + 4)
  }

  bool(): boolean { return this.buf[this.need(1, 'bool')] !== 0 }

  uuid(): string {
    const at = this.need(16, 'uuid')
    return this.buf.toString('base64url', at, at + 16)
  }

  /** Unsigned varint of at most 5 bytes (a 32-bit value), as Kafka's readUnsignedVarint. */
  uvarint(): number {
    let result = 0
    let multiplier = 1
    for (let i = 0; i < 5; i++) {
      const byte = this.buf[this.need(1, 'varint')]
      result += (byte & 0x7f) * multiplier
      if ((byte & 0x80) === 0) {
        if (result > 0xffffffff) throw new ProtocolDecodeError('unsigned varint exceeds 32 bits')
        return result
      }
      multiplier *= 128
    }
    throw new ProtocolDecodeError('unsigned varint longer than 5 bytes')
  }

  /** A length prefix: int16/int32 (-1 = null) or compact uvarint (0 = null). Returns -1 for null. */
  private length(flexible: boolean, wide: boolean, what: string): number {
    const n = flexible ? this.uvarint() - 1 : wide ? this.int32() : this.int16()
    if (n < -1) throw new ProtocolDecodeError(`negative ${what} length ${n}`)
    if (n > this.end - this.offset) throw new ProtocolDecodeError(`${what} length ${n} exceeds the ${this.end - this.offset} bytes left`)
    return n
  }

  nullableString(flexible: boolean): string | null {
    const n = this.length(flexible, false, 'string')
    if (n < 0) return null
    const at = this.offset
    this.offset += n
    return this.buf.toString('utf8', at, at + n)
  }

  string(flexible: boolean): string {
    const s = this.nullableString(flexible)
    if (s === null) throw new ProtocolDecodeError('null in a non-nullable string')
    return s
  }

  /** A copy: bytes fields (group metadata, assignments) are kept past the request's life. */
  nullableBytes(flexible: boolean): Buffer | null {
    const view = this.nullableRecords(flexible)
    return view === null ? null : Buffer.from(view)
  }

  bytes(flexible: boolean): Buffer {
    const b = this.nullableBytes(flexible)
    if (b === null) throw new ProtocolDecodeError('null in non-nullable bytes')
    return b
  }

  /** A view into the frame, no copy: record sets are large and passed straight on. */
  nullableRecords(flexible: boolean): Buffer | null {
    const n = this.length(flexible, true, 'bytes')
    if (n < 0) return null
    const at = this.offset
    this.offset += n
    return this.buf.subarray(at, at + n)
  }

  records(flexible: boolean): Buffer {
    const b = this.nullableRecords(flexible)
    if (b === null) throw new ProtocolDecodeError('null in non-nullable records')
    return b
  }

  /**
   * An array whose elements take at least `minElementSize` bytes each, so a count larger than
   * the bytes left can justify is rejected before any element is read. Elements are pushed one
   * by one; nothing is sized from the claimed count.
   */
  nullableArray<T>(flexible: boolean, minElementSize: number, readElement: () => T): T[] | null {
    const count = flexible ? this.uvarint() - 1 : this.int32()
    if (count < -1) throw new ProtocolDecodeError(`negative array length ${count}`)
    if (count < 0) return null
    if (count * minElementSize > this.end - this.offset) {
      throw new ProtocolDecodeError(`array of ${count} elements cannot fit in ${this.end - this.offset} bytes`)
    }
    const out: T[] = []
    for (let i = 0; i < count; i++) out.push(readElement())
    return out
  }

  array<T>(flexible: boolean, minElementSize: number, readElement: () => T): T[] {
    const a = this.nullableArray(flexible, minElementSize, readElement)
    if (a === null) throw new ProtocolDecodeError('null in a non-nullable array')
    return a
  }

  /**
   * The tagged-field section that ends every struct in a flexible version. `readKnown` gets
   * each tag with a reader bounded to that field's bytes; whatever it does not read (an unknown
   * tag, say) is skipped.
   */
  taggedFields(readKnown?: (tag: number, field: Reader) => void): void {
    const count = this.uvarint()
    if (count * 2 > this.end - this.offset) throw new ProtocolDecodeError(`${count} tagged fields cannot fit in ${this.end - this.offset} bytes`)
    for (let i = 0; i < count; i++) {
      const tag = this.uvarint()
      const size = this.uvarint()
      const at = this.need(size, `tagged field ${tag}`)
      if (readKnown) readKnown(tag, new Reader(this.buf, at, at + size))
    }
  }
}

export class Writer {
  private buf: Buffer
  private pos = 0

  constructor(initialCapacity = 256) {
    this.buf = Buffer.allocUnsafe(Math.max(16, initialCapacity))
  }

  /** Bytes written so far. */
  get length(): number { return this.pos }

  /** A view of the bytes written (valid until the next write or reset). */
  finish(): Buffer { return this.buf.subarray(0, this.pos) }

  /** Forgets the content and keeps the capacity, to reuse one writer for many messages. */
  reset(): void { this.pos = 0 }

  /** Reserves `n` bytes and returns their offset. It may replace `this.buf`: read `this.buf`
   * only after calling it. */
  private ensure(n: number): number {
    const at = this.pos
    if (at + n > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, at + n))
      this.buf.copy(grown, 0, 0, at)
      this.buf = grown
    }
    this.pos = at + n
    return at
  }

  /** Overwrites an int32 already written at `offset` (a size prefix known only at the end). */
  setInt32(offset: number, value: number): void {
    if (offset < 0 || offset + 4 > this.pos) throw new ProtocolEncodeError(`setInt32 at ${offset} outside the ${this.pos} bytes written`)
    this.buf.writeInt32BE(value, offset)
  }

  int8(v: number): void { const at = this.ensure(1); this.buf.writeInt8(v, at) }
  int16(v: number): void { const at = this.ensure(2); this.buf.writeInt16BE(v, at) }
  uint16(v: number): void { const at = this.ensure(2); this.buf.writeUInt16BE(v, at) }
  int32(v: number): void { const at = this.ensure(4); this.buf.writeInt32BE(v, at) }
  uint32(v: number): void { const at = this.ensure(4); this.buf.writeUInt32BE(v, at) }
  float64(v: number): void { const at = this.ensure(8); this.buf.writeDoubleBE(v, at) }
  bool(v: boolean): void { const at = this.ensure(1); this.buf[at] = v ? 1 : 0 }

  int64(v: number): void {
    const at = this.ensure(8)
    if (Number.isSafeInteger(v)) {
      const high = Math.floor(v / TWO_32)
      this.buf.writeInt32BE(high, at)
      this.buf.writeUInt32BE(v - high * TWO_32, at + 4)
      return
    }
    if (!Number.isFinite(v)) throw new ProtocolEncodeError(`int64 value ${v} is not finite`)
    const big = BigInt(Math.trunc(v))
    this.buf.writeBigInt64BE(big > INT64_MAX ? INT64_MAX : big < INT64_MIN ? INT64_MIN : big, at)
  }

  uuid(v: string): void {
    const bytes = Buffer.from(v, 'base64url')
    if (bytes.length !== 16) throw new ProtocolEncodeError(`uuid ${JSON.stringify(v)} is not 16 bytes of base64url`)
    const at = this.ensure(16)
    bytes.copy(this.buf, at)
  }

  uvarint(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new ProtocolEncodeError(`unsigned varint ${v} out of range`)
    while (v >= 0x80) {
      const at = this.ensure(1)
      this.buf[at] = (v & 0x7f) | 0x80
      v = Math.floor(v / 128)
    }
    const at = this.ensure(1)
    this.buf[at] = v
  }

  private lengthPrefix(flexible: boolean, wide: boolean, n: number): void {
    if (flexible) this.uvarint(n + 1)
    else if (wide) this.int32(n)
    else {
      if (n > 0x7fff) throw new ProtocolEncodeError(`string of ${n} bytes exceeds the int16 length limit`)
      this.int16(n)
    }
  }

  nullableString(flexible: boolean, v: string | null): void {
    if (v === null) { this.lengthPrefix(flexible, false, -1); return }
    const n = Buffer.byteLength(v, 'utf8')
    this.lengthPrefix(flexible, false, n)
    const at = this.ensure(n)
    this.buf.write(v, at, n, 'utf8')
  }

  /** `nullable` says whether this version allows null (generated code passes a version test). */
  string(flexible: boolean, v: string | null, nullable = false): void {
    if (v === null && !nullable) throw new ProtocolEncodeError('null in a non-nullable string')
    this.nullableString(flexible, v)
  }

  nullableBytes(flexible: boolean, v: Uint8Array | null): void {
    if (v === null) { this.lengthPrefix(flexible, true, -1); return }
    this.lengthPrefix(flexible, true, v.length)
    const at = this.ensure(v.length)
    this.buf.set(v, at)
  }

  bytes(flexible: boolean, v: Uint8Array | null, nullable = false): void {
    if (v === null && !nullable) throw new ProtocolEncodeError('null in non-nullable bytes')
    this.nullableBytes(flexible, v)
  }

  nullableArray<T>(flexible: boolean, items: readonly T[] | null, writeElement: (item: T) => void): void {
    if (items === null) {
      if (flexible) this.uvarint(0)
      else this.int32(-1)
      return
    }
    if (flexible) this.uvarint(items.length + 1)
    else this.int32(items.length)
    for (const item of items) writeElement(item)
  }

  array<T>(flexible: boolean, items: readonly T[] | null, writeElement: (item: T) => void, nullable = false): void {
    if (items === null && !nullable) throw new ProtocolEncodeError('null in a non-nullable array')
    this.nullableArray(flexible, items, writeElement)
  }

  /**
   * One entry of a tagged-field section: the tag, the value's size, the value. The value is
   * written in place first and then shifted right by the size prefix's width, so no scratch
   * buffer is needed.
   */
  taggedField(tag: number, writeValue: () => void): void {
    this.uvarint(tag)
    const start = this.pos
    writeValue()
    const size = this.pos - start
    let width = 1
    while (size >= 128 ** width) width++
    this.ensure(width)
    this.buf.copyWithin(start + width, start, start + size)
    const end = this.pos
    this.pos = start
    this.uvarint(size)
    this.pos = end
  }
}
