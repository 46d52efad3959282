import { afterEach, describe, expect, it, vi } from 'vitest'
import { FrameDecoder, InvalidFrameSizeError } from '../../src/protocol/frame.js'
import { ProtocolDecodeError } from '../../src/protocol/primitives.js'

function frame(payload: Buffer): Buffer {
  const size = Buffer.alloc(4)
  size.writeInt32BE(payload.length)
  return Buffer.concat([size, payload])
}

const payloads = [Buffer.from('hello'), Buffer.alloc(0), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9]), Buffer.from('x')]
const stream = Buffer.concat(payloads.map(frame))

function feed(decoder: FrameDecoder, chunks: Buffer[]): string[] {
  return chunks.flatMap((c) => decoder.push(c)).map((f) => f.toString('hex'))
}
const expected = payloads.map((p) => p.toString('hex'))

afterEach(() => { vi.restoreAllMocks() })

describe('FrameDecoder', () => {
  it('splits a stream cut in two at every byte boundary', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new FrameDecoder()
      expect(feed(d, [stream.subarray(0, cut), stream.subarray(cut)])).toEqual(expected)
      expect(d.bufferedBytes).toBe(0)
    }
  })

  it('splits a stream cut in three at every pair of boundaries', () => {
    for (let a = 0; a <= stream.length; a++) {
      for (let b = a; b <= stream.length; b++) {
        const d = new FrameDecoder()
        expect(feed(d, [stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)])).toEqual(expected)
      }
    }
  })

  it('handles one byte at a time', () => {
    const d = new FrameDecoder()
    expect(feed(d, [...stream].map((b) => Buffer.from([b])))).toEqual(expected)
  })

  it('returns frames inside one chunk as views, without copying', () => {
    const frames = new FrameDecoder().push(stream)
    expect(frames[0].buffer).toBe(stream.buffer)
    expect(frames[0].byteOffset).toBe(stream.byteOffset + 4)
  })

  it('keeps an incomplete frame pending', () => {
    const d = new FrameDecoder()
    expect(d.push(stream.subarray(0, 7))).toEqual([])
    expect(d.bufferedBytes).toBe(7)
  })

  it('joins a large frame from many chunks with a single copy', () => {
    const payload = Buffer.alloc(1 << 20, 0xab)
    payload[12345] = 1
    const data = frame(payload)
    const concat = vi.spyOn(Buffer, 'concat')
    const d = new FrameDecoder()
    const out: Buffer[] = []
    for (let at = 0; at < data.length; at += 1000) out.push(...d.push(data.subarray(at, at + 1000)))
    expect(out).toHaveLength(1)
    expect(out[0].equals(payload)).toBe(true)
    expect(concat).toHaveBeenCalledTimes(1)
  })

  it('rejects a negative size', () => {
    const d = new FrameDecoder()
    expect(() => d.push(Buffer.from([0xff, 0xff, 0xff, 0xfe]))).toThrow(InvalidFrameSizeError)
  })

  it('rejects a size over the limit, even when the prefix arrives split, and stays failed', () => {
    const d = new FrameDecoder(1000)
    expect(d.push(Buffer.from([0, 0]))).toEqual([])
    let error: unknown
    try { d.push(Buffer.from([0x03, 0xe9])) } catch (e) { error = e }
    expect(error).toBeInstanceOf(InvalidFrameSizeError)
    expect(error).toBeInstanceOf(ProtocolDecodeError)
    expect((error as InvalidFrameSizeError).size).toBe(1001)
    expect(() => d.push(frame(Buffer.from('ok')))).toThrow(InvalidFrameSizeError)
  })

  it('accepts a frame of exactly the limit', () => {
    const d = new FrameDecoder(16)
    expect(d.push(frame(Buffer.alloc(16, 7)))).toHaveLength(1)
  })
})
