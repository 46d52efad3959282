import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import nativeBinding from '../../native-bindings/index.js'
import { copyBytes } from '../../src/engine/channel/shared-copy.js'

describe('copyBytes (ring copies)', () => {
  it('has the native memcpy (set RINGLOG_NO_NATIVE=1 to run without it)', () => {
    if (process.env.RINGLOG_NO_NATIVE === '1') return
    expect(typeof nativeBinding?.copyBytes).toBe('function')
  })

  for (const length of [0, 1, 100, 2047, 2048, 16_384, 1_000_003]) {
    it(`copies ${length} bytes between private and shared memory at any offsets`, () => {
      const source = randomBytes(length + 37)
      const shared = new Uint8Array(new SharedArrayBuffer(length + 101))
      shared.fill(0xee)
      copyBytes(shared, 50, source, 37, length)
      expect(Buffer.from(shared.subarray(50, 50 + length)).equals(source.subarray(37))).toBe(true)
      // Nothing around the range is touched.
      expect(shared.subarray(0, 50).every((b) => b === 0xee)).toBe(true)
      expect(shared.subarray(50 + length).every((b) => b === 0xee)).toBe(true)
      const back = Buffer.alloc(length)
      copyBytes(back, 0, shared, 50, length)
      expect(back.equals(source.subarray(37))).toBe(true)
    })
  }

  it.skipIf(nativeBinding === null)('the addon refuses ranges outside either array instead of writing past them', () => {
    const target = new Uint8Array(new SharedArrayBuffer(4096))
    const source = new Uint8Array(4096)
    expect(() => nativeBinding!.copyBytes(target, 1, source, 0, 4096)).toThrow(RangeError)
    expect(() => nativeBinding!.copyBytes(target, 0, source, 4000, 200)).toThrow(RangeError)
    expect(() => nativeBinding!.copyBytes(target, -1, source, 0, 10)).toThrow(RangeError)
    expect(() => nativeBinding!.copyBytes(target, 0, new Uint16Array(10) as unknown as Uint8Array, 0, 10)).toThrow(TypeError)
  })
})
