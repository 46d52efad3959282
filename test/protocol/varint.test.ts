import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CorruptRecordError } from '../../src/errors.js'
import { endRecords, readBytes, readInt8, readZigzag, startRecord, startRecords } from '../../src/protocol/record-reader.js'
import { readUvarint, unzigzag, writeZigzag, zigzagSize } from '../../src/protocol/varint.js'

function encode(value: number): Buffer {
  const buf = Buffer.alloc(zigzagSize(value))
  expect(writeZigzag(buf, 0, value)).toBe(buf.length)
  return buf
}

/** Reads one zigzag varint with the record decoders' reader (src/protocol/record-reader.ts). */
function decode(bytes: number[], end = bytes.length): number {
  const buf = Buffer.from(bytes)
  startRecords(buf, 0)
  return readZigzag(buf, end)
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
        startRecords(buf, 0)
        expect(readZigzag(buf, buf.length)).toBe(v)
        endRecords(buf) // throws unless the read ended exactly at the buffer's end
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
    expect(() => decode([0x80, 0x01], 1)).toThrow(CorruptRecordError)
  })

  it('reads length-prefixed bytes as Buffer views, null for -1, and checks the length', () => {
    const buf = Buffer.from([0x06, 0x61, 0x62, 0x63, 0x01, 0x08, 0x61])
    startRecords(buf, 0)
    const bytes = readBytes(buf, buf.length)
    expect(Buffer.isBuffer(bytes)).toBe(true)
    expect(bytes!.toString()).toBe('abc')
    expect(bytes!.buffer).toBe(buf.buffer)
    expect(readBytes(buf, buf.length)).toBeNull()
    expect(() => readBytes(buf, buf.length)).toThrow(/exceeds the record/)
    const negative = Buffer.from([0x03]) // -2
    startRecords(negative, 0)
    expect(() => readBytes(negative, 1)).toThrow(CorruptRecordError)
  })

  it('reads record attributes as int8', () => {
    // Two records: length 1 with attributes 0xff, length 1 with attributes 0x05.
    const buf = Buffer.from([0x02, 0xff, 0x02, 0x05])
    startRecords(buf, 0)
    expect(startRecord(buf)).toBe(2)
    expect(readInt8(buf, 2)).toBe(-1)
    expect(startRecord(buf)).toBe(4)
    expect(readInt8(buf, 4)).toBe(5)
    expect(() => readInt8(buf, 4)).toThrow(/record truncated/)
    endRecords(buf)
  })
})
