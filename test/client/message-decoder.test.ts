import { describe, expect, it } from 'vitest'
import { decodeMessages } from '../../src/client/message-decoder.js'
import { CorruptRecordError } from '../../src/errors.js'
import { Compression } from '../../src/protocol/compression.js'
import { decodeRecordBatch, encodeRecordBatch, recordOffset, recordTimestamp } from '../../src/protocol/record-batch.js'

const MAX = 64 * 1024 * 1024

function batch(baseOffset: number, values: string[], extra: Partial<Parameters<typeof encodeRecordBatch>[0]> = {}): Buffer {
  return encodeRecordBatch({ baseOffset, records: values.map((v, i) => ({ key: `k${v}`, value: v, timestamp: 5000 + i, headers: { h: `x${v}` } })), ...extra })
}

describe('decodeMessages (segment bytes -> kafkajs messages)', () => {
  it('agrees with decodeRecordBatch field for field, for every codec', () => {
    for (const compression of [Compression.none, Compression.gzip, Compression.lz4]) {
      const bytes = batch(100, ['a', 'b', 'c'], { compression })
      const reference = decodeRecordBatch(bytes)
      const { messages, nextOffset } = decodeMessages(bytes, 0, MAX)
      expect(nextOffset).toBe(103)
      expect(messages.map((m) => [m.offset, m.timestamp, m.key?.toString(), m.value?.toString(), m.headers.h?.toString()])).toEqual(
        reference.records.map((r) => [String(recordOffset(reference.header, r)), String(recordTimestamp(reference.header, r)), r.key?.toString(), r.value?.toString(), r.headers[0].value?.toString()]),
      )
    }
  })

  it('skips records below the wanted offset inside the first batch and stops before a partial batch', () => {
    const whole = Buffer.concat([batch(0, ['a', 'b', 'c', 'd']), batch(4, ['e', 'f'])])
    const cut = whole.subarray(0, whole.length - 5)
    const { messages, nextOffset } = decodeMessages(cut, 2, MAX)
    expect(messages.map((m) => m.value!.toString())).toEqual(['c', 'd'])
    expect(nextOffset).toBe(4)
    expect(decodeMessages(whole, 5, MAX).messages.map((m) => m.offset)).toEqual(['5'])
  })

  it('steps over control batches and reports log-append time when the batch says so', () => {
    const control = encodeRecordBatch({ baseOffset: 0, records: [{ key: Buffer.from([0, 0, 0, 1]), value: Buffer.from([0, 0, 0, 0, 0, 0]) }], control: true, transactional: true })
    const appendTime = encodeRecordBatch({ baseOffset: 1, records: [{ value: 'x', timestamp: 10 }, { value: 'y', timestamp: 20 }], logAppendTime: true })
    const { messages, nextOffset } = decodeMessages(Buffer.concat([control, appendTime]), 0, MAX)
    expect(messages.map((m) => [m.offset, m.value!.toString(), m.timestamp])).toEqual([['1', 'x', '20'], ['2', 'y', '20']])
    expect(nextOffset).toBe(3)
  })

  it('keeps a header named __proto__ as a header and rejects a corrupted batch', () => {
    const bytes = encodeRecordBatch({ records: [{ value: 'v', headers: [{ key: '__proto__', value: Buffer.from('p') }] }] })
    const [message] = decodeMessages(bytes, 0, MAX).messages
    expect(Object.keys(message.headers)).toEqual(['__proto__'])
    // biome-ignore lint/suspicious/noProto: the test is that a header named __proto__ stays a plain key
    // biome-ignore lint/complexity/useLiteralKeys: the bracket form is the one an attacker's key takes
    expect(message.headers['__proto__']?.toString()).toBe('p')
    expect(Object.getPrototypeOf(message.headers)).toBe(Object.prototype)
    const damaged = Buffer.from(bytes)
    damaged[damaged.length - 2] ^= 0xff
    expect(() => decodeMessages(damaged, 0, MAX)).toThrow(CorruptRecordError)
  })

  it('writes offsets as decimal strings across thousands, and keys and values of every length class', () => {
    const bases = [0, 995, 999_990, 123_456_999, 2 ** 40 - 3, 2 ** 52 + 5]
    const values = Array.from({ length: 12 }, (_, i) => 'v'.repeat(i * 13))
    for (const base of bases) {
      const { messages } = decodeMessages(batch(base, values), 0, MAX)
      expect(messages.map((m) => m.offset)).toEqual(values.map((_, i) => String(base + i)))
    }
    const keys = [null, Buffer.alloc(0), Buffer.alloc(63, 1), Buffer.alloc(64, 2), Buffer.alloc(9000, 3)]
    const bytes = encodeRecordBatch({ records: keys.map((key, i) => ({ key, value: i % 2 === 0 ? null : Buffer.alloc(70 * i, i) })) })
    const decoded = decodeMessages(bytes, 0, MAX).messages
    expect(decoded.map((m) => m.key)).toEqual(keys)
    expect(decoded.map((m) => m.value)).toEqual(keys.map((_, i) => (i % 2 === 0 ? null : Buffer.alloc(70 * i, i))))
  })
})
