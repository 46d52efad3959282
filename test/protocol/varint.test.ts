import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CorruptRecordError } from '../../src/errors.js'
import { readUvarint, unzigzag, VarintReader, writeZigzag, zigzagSize } from '../../src/protocol/varint.js'

function encode(value: number): Buffer {
  const buf = Buffer.alloc(zigzagSize(value))
  expect(writeZigzag(buf, 0, value)).toBe(buf.length)
  return buf
}

function decode(bytes: number[]): number {
  const buf = Buffer.from(bytes)
  return new VarintReader(buf, 0, buf.length).zigzag()
}

describe('zigzag varints', () => {
  // Expected bytes as Kafka's ByteUtils.writeVarint/writeVarlong produce them.
  it.each([
    [0, '00'], [-1, '01'], [1, '02'], [-2, '03'], [63, '7e'], [-64, '7f'], [64, '8001'],
    [300, 'd804'], [-300, 'd704'], [2147483647, 'feffffff0f'], [-2147483648, 'ffffffff0f'],
    [1700000000000, '80a0abfef962'] // checked against kafka-python's encode_varint,
  ])('encodes %d as %s', (value, hex) => {
    expect(encode(value).toString('hex')).toBe(hex)
    expect(decode([...Buffer.from(hex, 'hex')])).toBe(value)
  })

  it('round-trips every integer whose zigzag form is safe: -2^52 .. 2^52-1', () => {
    fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 }), fc.double({ min: -(2 ** 52), max: 2 ** 52 - 1, noNaN: true }), (small, big) => {
      for (const v of [small, Math.trunc(big) + 0]) {
        const buf = encode(v)
        const r = new VarintReader(buf, 0, buf.length)
        expect(r.zigzag()).toBe(v)
        expect(r.offset).toBe(buf.length)
      }
    }), { numRuns: 500 })
  })

  it('reads back through the engine\'s trusted fast reader (readUvarint + unzigzag) as well', () => {
    fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 }), fc.double({ min: -(2 ** 52), max: 2 ** 52 - 1, noNaN: true }), (small, big) => {
      for (const v of [small, Math.trunc(big) + 0]) {
        const buf = Buffer.concat([Buffer.from([0xaa]), encode(v), Buffer.from([0x55])])
        const cursor = { at: 1 }
        expect(unzigzag(readUvarint(buf, cursor))).toBe(v)
        expect(cursor.at).toBe(buf.length - 1)
      }
    }), { numRuns: 500 })
  })

  it('rejects a varint that runs past the end', () => {
    expect(() => decode([0x80, 0x80])).toThrow(CorruptRecordError)
    expect(() => decode([])).toThrow(CorruptRecordError)
  })

  it('rejects an encoding longer than 10 bytes and a value past 2^53', () => {
    expect(() => decode(Array(11).fill(0x80))).toThrow(/longer than 10 bytes/)
    expect(() => decode([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])).toThrow(/exceeds 2\^53/)
  })

  it('stops at the given end even when the buffer goes on', () => {
    const buf = Buffer.from([0x80, 0x01])
    expect(() => new VarintReader(buf, 0, 1).zigzag()).toThrow(CorruptRecordError)
  })

  it('reads length-prefixed bytes as views, null for -1, and checks the length', () => {
    const buf = Buffer.from([0x06, 0x61, 0x62, 0x63, 0x01, 0x08, 0x61])
    const r = new VarintReader(buf, 0, buf.length)
    const bytes = r.bytes()
    expect(Buffer.from(bytes!).toString()).toBe('abc')
    expect(bytes!.buffer).toBe(buf.buffer)
    expect(r.bytes()).toBeNull()
    expect(() => r.bytes()).toThrow(/exceeds the record/)
    expect(() => new VarintReader(Buffer.from([0x03]), 0, 1).bytes()).toThrow(CorruptRecordError) // -2
  })

  it('reads int8 signed and bounded', () => {
    const r = new VarintReader(Buffer.from([0xff, 0x05]), 0, 2)
    expect(r.int8()).toBe(-1)
    expect(r.int8()).toBe(5)
    expect(() => r.int8()).toThrow(CorruptRecordError)
  })
})
