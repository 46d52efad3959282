import { describe, expect, it } from 'vitest'
import { CorruptRecordError, InvalidRecordError } from '../../src/errors.js'
import { decodeRecords, encodeRecords, normalizeHeaders } from '../../src/protocol/records.js'

const BASE = 1_700_000_000_000

describe('records', () => {
  it('encodes one record byte for byte as Kafka lays it out', () => {
    const bytes = encodeRecords([{ key: 'k', value: 'vv', headers: [{ key: 'h', value: null }], timestamp: BASE + 2 }], BASE)
    // length 12 | attributes 0 | tsDelta 2 -> 04 | offsetDelta 0 | key len 1 -> 02 'k'
    // | value len 2 -> 04 'vv' | 1 header -> 02 | key len 1 -> 02 'h' | null value -> 01
    expect(bytes.toString('hex')).toBe('18' + '00' + '04' + '00' + '026b' + '047676' + '02' + '0268' + '01')
  })

  it('round-trips null keys and values, empty bytes, headers and negative timestamp deltas', () => {
    const input = [
      { key: null, value: Buffer.from('v0'), timestamp: BASE },
      { key: 'k1', value: null, timestamp: BASE - 7, headers: { a: 'x', b: null } },
      { key: Buffer.alloc(0), value: Buffer.alloc(0), timestamp: BASE + 1_000_000 },
    ]
    const out = decodeRecords(encodeRecords(input, BASE), 3)
    expect(out.map((r) => r.offsetDelta)).toEqual([0, 1, 2])
    expect(out.map((r) => r.timestampDelta)).toEqual([0, -7, 1_000_000])
    expect(out[0].key).toBeNull()
    expect(out[0].value!.toString()).toBe('v0')
    expect(out[1].key!.toString()).toBe('k1')
    expect(out[1].value).toBeNull()
    expect(out[1].headers.map((h) => [h.key, h.value?.toString() ?? null])).toEqual([['a', 'x'], ['b', null]])
    expect(out[2].key!.length).toBe(0)
    expect(out[2].value!.length).toBe(0)
    expect(out.every((r) => r.attributes === 0)).toBe(true)
  })

  it('takes the base timestamp for a record without one', () => {
    expect(decodeRecords(encodeRecords([{ value: 'x' }], BASE), 1)[0].timestampDelta).toBe(0)
  })

  it('refuses a fractional timestamp instead of writing a malformed varint', () => {
    expect(() => encodeRecords([{ value: 'x', timestamp: BASE + 0.5 }], BASE)).toThrow(InvalidRecordError)
    // A delta whose zigzag form passes 2^53 could be written but never read back.
    expect(() => encodeRecords([{ value: 'x', timestamp: 2 ** 52 }], 0)).toThrow(InvalidRecordError)
    expect(decodeRecords(encodeRecords([{ value: 'x', timestamp: 2 ** 52 - 1 }], 0), 1)[0].timestampDelta).toBe(2 ** 52 - 1)
  })

  it('normalizes header objects and keeps header arrays', () => {
    expect(normalizeHeaders({ a: 'b' })).toEqual([{ key: 'a', value: Buffer.from('b') }])
    const list = [{ key: 'x', value: null }]
    expect(normalizeHeaders(list)).toBe(list)
    expect(normalizeHeaders(undefined)).toEqual([])
  })

  describe('hostile input', () => {
    const good = encodeRecords([{ key: 'k', value: 'v', headers: { h: 'x' } }, { value: 'w' }], BASE)

    it('rejects a record count that cannot fit before sizing anything from it', () => {
      expect(() => decodeRecords(good, 2_000_000_000)).toThrow(/does not fit/)
      expect(() => decodeRecords(good, -1)).toThrow(CorruptRecordError)
    })

    it('rejects fewer records than the count and bytes left over', () => {
      expect(() => decodeRecords(good, 1)).toThrow(/left over/)
      expect(() => decodeRecords(good.subarray(0, good.length - 1), 2)).toThrow(CorruptRecordError)
    })

    it('rejects a record length past the end and one that disagrees with its fields', () => {
      const long = Buffer.from(good)
      long[0] = 0x7e // 63: longer than the whole buffer
      expect(() => decodeRecords(long, 2)).toThrow(/exceeds the batch/)
      const short = Buffer.from(good)
      short[0] -= 2 // one byte shorter: the fields run past the record's end
      expect(() => decodeRecords(short, 2)).toThrow(CorruptRecordError)
    })

    it('rejects a huge header count and a null header key', () => {
      // length 8 | attr | ts | off | key null | value null | headers 1000
      const huge = Buffer.from('0e' + '00' + '00' + '00' + '01' + '01' + 'd00f' + '0000', 'hex')
      expect(() => decodeRecords(huge, 1)).toThrow(/header count/)
      // length 8 | attr | ts | off | key null | value null | 1 header | key null | value null
      const nullKey = Buffer.from('10' + '00' + '00' + '00' + '01' + '01' + '02' + '01' + '01', 'hex')
      expect(() => decodeRecords(nullKey, 1)).toThrow(/null header key/)
    })
  })
})
