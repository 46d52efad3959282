import { describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import nativeBinding from '../../native-bindings/index.js'
import { crc32c, portableCrc32cOf } from '../../src/protocol/crc32c.js'

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

  it('gives what @node-rs/crc32 gives at every length and alignment the three-stream loop splits on', () => {
    // Around the short (3 x 256) and long (3 x 2048) round sizes, at every misalignment.
    const lengths = [...Array.from({ length: 80 }, (_, i) => i), 767, 768, 769, 1535, 1536, 1537, 6143, 6144, 6145, 16384, 16384 + 61, 100_003]
    for (const length of lengths) {
      const backing = randomBytes(length + 8)
      for (const start of [0, 1, 3, 7]) {
        const data = backing.subarray(start, start + length)
        const initial = (length * 2654435761) >>> 0
        expect(crc32c(data, initial)).toBe(portableCrc32cOf(data, initial))
      }
    }
  })

  it('reads SharedArrayBuffer views (ring frames) like any other', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(20000))
    shared.set(randomBytes(20000))
    expect(crc32c(shared.subarray(3, 19001))).toBe(portableCrc32cOf(Buffer.from(shared.subarray(3, 19001))))
  })

  it.runIf(process.platform === 'linux' && process.arch === 'x64' && process.env.RINGLOG_NO_NATIVE !== '1')('uses the addon on this x64 machine', () => {
    expect(typeof nativeBinding?.crc32c).toBe('function')
    expect(() => nativeBinding!.crc32c!('not bytes' as unknown as Uint8Array)).toThrow(TypeError)
  })
})
