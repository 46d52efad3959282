import { describe, expect, it } from 'vitest'
import { crc32c } from '../../src/protocol/crc32c.js'

describe('crc32c', () => {
  it('matches the standard check value', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283)
  })

  // iSCSI test vectors, RFC 3720 appendix B.4.
  it.each([
    ['32 zero bytes', Buffer.alloc(32), 0x8a9136aa],
    ['32 0xff bytes', Buffer.alloc(32, 0xff), 0x62a8ab43],
    ['32 ascending bytes', Buffer.from(Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e],
    ['32 descending bytes', Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c],
  ])('matches RFC 3720 vector: %s', (_name, data, expected) => {
    expect(crc32c(data)).toBe(expected)
  })

  it('is 0 for no bytes and always unsigned', () => {
    expect(crc32c(new Uint8Array(0))).toBe(0)
    expect(crc32c(Buffer.from('123456789'))).toBeGreaterThan(0x7fffffff)
  })

  it('continues from a previous value, so a checksum can be built in pieces', () => {
    const whole = Buffer.from('123456789')
    expect(crc32c(whole.subarray(4), crc32c(whole.subarray(0, 4)))).toBe(0xe3069283)
  })

  it('accepts a plain Uint8Array view at an offset', () => {
    const backing = new Uint8Array(20)
    backing.set(Buffer.from('123456789'), 5)
    expect(crc32c(backing.subarray(5, 14))).toBe(0xe3069283)
  })
})
