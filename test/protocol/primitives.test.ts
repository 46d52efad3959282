import { describe, expect, it } from 'vitest'
import { ProtocolDecodeError, ProtocolEncodeError, Reader, Writer, ZERO_UUID } from '../../src/protocol/primitives.js'
import { RinglogError } from '../../src/errors.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'

const written = (fill: (w: Writer) => void): Buffer => {
  const w = new Writer(16)
  fill(w)
  return Buffer.from(w.finish())
}

describe('ProtocolDecodeError', () => {
  it('is a RinglogError with INVALID_REQUEST', () => {
    const e = new ProtocolDecodeError('x')
    expect(e).toBeInstanceOf(RinglogError)
    expect(e.code).toBe(ErrorCode.INVALID_REQUEST)
    expect(e.name).toBe('ProtocolDecodeError')
  })
})

describe('int64 as JS numbers', () => {
  it('is exact up to 2^53 in both directions', () => {
    for (const v of [0, 1, -1, 2 ** 32, 2 ** 32 + 1, -(2 ** 32) - 1, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53]) {
      const bytes = written((w) => w.int64(v))
      expect(bytes.readBigInt64BE(0)).toBe(BigInt(v))
      expect(new Reader(bytes).int64()).toBe(v)
    }
  })

  it('keeps Long.MAX_VALUE and Long.MIN_VALUE through a round trip', () => {
    for (const big of [2n ** 63n - 1n, -(2n ** 63n)]) {
      const b = Buffer.alloc(8)
      b.writeBigInt64BE(big)
      const n = new Reader(b).int64()
      expect(written((w) => w.int64(n)).readBigInt64BE(0)).toBe(big)
    }
  })
})

describe('Reader bounds', () => {
  it('fixed-size reads past the end throw ProtocolDecodeError, not RangeError', () => {
    const r = new Reader(Buffer.from([1, 2, 3]))
    expect(() => r.int32()).toThrow(ProtocolDecodeError)
    expect(r.int16()).toBe(0x0102)
    expect(() => r.int16()).toThrow(ProtocolDecodeError)
    expect(() => new Reader(Buffer.alloc(15)).uuid()).toThrow(ProtocolDecodeError)
  })

  it('respects an end before the buffer end', () => {
    const r = new Reader(Buffer.alloc(10), 2, 4)
    r.int16()
    expect(() => r.int8()).toThrow(ProtocolDecodeError)
  })

  it('string and bytes lengths are checked against the bytes present', () => {
    expect(() => new Reader(Buffer.from('0005616263', 'hex')).string(false)).toThrow(/exceeds/)
    expect(() => new Reader(Buffer.from('fffe', 'hex')).nullableString(false)).toThrow(/negative/)
    expect(() => new Reader(Buffer.from('7fffffff00', 'hex')).bytes(false)).toThrow(ProtocolDecodeError)
    expect(() => new Reader(Buffer.from('ffff', 'hex')).string(false)).toThrow(/null/)
    expect(new Reader(Buffer.from('00', 'hex')).nullableString(true)).toBeNull()
    expect(new Reader(Buffer.from('0461626300', 'hex')).string(true)).toBe('abc')
  })

  it('array counts are checked against the bytes present before any element is read', () => {
    let reads = 0
    const r = new Reader(Buffer.from('00000003' + '0000000100000002', 'hex'))
    expect(() => r.array(false, 4, () => { reads++; return r.int32() })).toThrow(/cannot fit/)
    expect(reads).toBe(0)
    expect(new Reader(Buffer.from('ffffffff', 'hex')).nullableArray(false, 4, () => 0)).toBeNull()
    expect(() => new Reader(Buffer.from('fffffffe', 'hex')).nullableArray(false, 4, () => 0)).toThrow(/negative/)
  })

  it('unsigned varints: at most 5 bytes and 32 bits', () => {
    expect(new Reader(Buffer.from('ffffffff0f', 'hex')).uvarint()).toBe(0xffffffff)
    expect(() => new Reader(Buffer.from('ffffffff1f', 'hex')).uvarint()).toThrow(/32 bits/)
    expect(() => new Reader(Buffer.from('8080808080', 'hex')).uvarint()).toThrow(/5 bytes/)
    expect(() => new Reader(Buffer.from('80', 'hex')).uvarint()).toThrow(ProtocolDecodeError)
  })

  it('bytes are copied, records are views', () => {
    const buf = Buffer.from('00000002abcd', 'hex')
    const copy = new Reader(buf).bytes(false)
    const view = new Reader(buf).records(false)
    expect(copy.equals(view)).toBe(true)
    buf[4] = 0
    expect(copy[0]).toBe(0xab)
    expect(view[0]).toBe(0)
  })

  it('tagged fields: known ones get a bounded reader, the rest are skipped', () => {
    const seen: [number, number][] = []
    const r = new Reader(Buffer.from('02' + '01' + '02' + 'beef' + '07' + '01' + 'ff' + '99', 'hex'))
    r.taggedFields((tag, t) => { if (tag === 1) seen.push([tag, t.uint16()]) })
    expect(seen).toEqual([[1, 0xbeef]])
    expect(r.int8()).toBe(-0x67)
    expect(() => new Reader(Buffer.from('05' + '0001', 'hex')).taggedFields()).toThrow(ProtocolDecodeError)
    expect(() => new Reader(Buffer.from('01' + '00' + '05' + '00', 'hex')).taggedFields()).toThrow(ProtocolDecodeError)
  })
})

describe('Writer', () => {
  it('grows from a tiny buffer and keeps what it wrote', () => {
    const w = new Writer(1)
    for (let i = 0; i < 1000; i++) w.int32(i)
    const r = new Reader(Buffer.from(w.finish()))
    for (let i = 0; i < 1000; i++) expect(r.int32()).toBe(i)
  })

  it('compact and classic strings, bytes, arrays and nulls', () => {
    expect(written((w) => w.string(false, 'é')).toString('hex')).toBe('0002c3a9')
    expect(written((w) => w.string(true, 'é')).toString('hex')).toBe('03c3a9')
    expect(written((w) => w.nullableString(true, null)).toString('hex')).toBe('00')
    expect(written((w) => w.nullableString(false, null)).toString('hex')).toBe('ffff')
    expect(written((w) => w.bytes(false, null, true)).toString('hex')).toBe('ffffffff')
    expect(written((w) => w.array(true, [1, 2], (v) => w.int8(v))).toString('hex')).toBe('030102')
    expect(written((w) => w.array(false, null, () => {}, true)).toString('hex')).toBe('ffffffff')
    expect(() => written((w) => w.string(false, null))).toThrow(ProtocolEncodeError)
    expect(() => written((w) => w.array(false, null, () => {}))).toThrow(ProtocolEncodeError)
    expect(() => written((w) => w.string(false, 'x'.repeat(40000)))).toThrow(/int16/)
  })

  it('varints', () => {
    expect(written((w) => w.uvarint(0)).toString('hex')).toBe('00')
    expect(written((w) => w.uvarint(127)).toString('hex')).toBe('7f')
    expect(written((w) => w.uvarint(128)).toString('hex')).toBe('8001')
    expect(written((w) => w.uvarint(0xffffffff)).toString('hex')).toBe('ffffffff0f')
    expect(() => written((w) => w.uvarint(-1))).toThrow(ProtocolEncodeError)
  })

  it('uuids are base64url of 16 bytes', () => {
    expect(written((w) => w.uuid(ZERO_UUID)).equals(Buffer.alloc(16))).toBe(true)
    const id = Buffer.from('00112233445566778899aabbccddeeff', 'hex')
    const encoded = id.toString('base64url')
    expect(new Reader(written((w) => w.uuid(encoded))).uuid()).toBe(encoded)
    expect(() => written((w) => w.uuid('short'))).toThrow(ProtocolEncodeError)
  })

  it('a tagged field value is prefixed by its size, also past one varint byte', () => {
    for (const size of [0, 1, 127, 128, 300, 20000]) {
      const bytes = written((w) => { w.int8(9); w.taggedField(5, () => { for (let i = 0; i < size; i++) w.int8(i % 100) }); w.int8(7) })
      const r = new Reader(bytes)
      expect(r.int8()).toBe(9)
      expect(r.uvarint()).toBe(5)
      expect(r.uvarint()).toBe(size)
      for (let i = 0; i < size; i++) expect(r.int8()).toBe(i % 100)
      expect(r.int8()).toBe(7)
      expect(r.remaining).toBe(0)
    }
  })

  it('setInt32 patches a size prefix, only inside what was written', () => {
    const w = new Writer()
    w.int32(0)
    w.int16(1)
    w.setInt32(0, 2)
    expect(w.finish().toString('hex')).toBe('000000020001')
    expect(() => w.setInt32(4, 1)).toThrow(ProtocolEncodeError)
    w.reset()
    expect(w.length).toBe(0)
  })
})
