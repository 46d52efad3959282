import { describe, expect, it } from 'vitest'
import { decodeAppendReply, encodeAppendReply, appendReplySize, FRAME_HEAD_BYTES, frameKind, frameRequestId, FrameKind, readHead, writeHead } from '../../src/engine/channel/frames.js'

describe('engine frame heads', () => {
  it('round-trip every field at its extremes, in plain and shared memory', () => {
    for (const memory of [new Uint8Array(64), new Uint8Array(new SharedArrayBuffer(64))]) {
      for (const [acks, requestId, slot] of [[-1, 0xfffffffe, 0xffffffff], [0, 0, 0], [1, 0x80000000, 65535]]) {
        const view = memory.subarray(3, 3 + FRAME_HEAD_BYTES)
        writeHead(view, FrameKind.AppendRecords, acks, 3, requestId, slot)
        expect(readHead(view)).toEqual({ kind: FrameKind.AppendRecords, acks, compression: 3, requestId, slot })
        expect(frameKind(view)).toBe(FrameKind.AppendRecords)
        expect(frameRequestId(view)).toBe(requestId)
      }
    }
  })

  it('carries an append reply with its error message', () => {
    const reply = { requestId: 0xfffffffe, errorCode: 10, baseOffset: 2 ** 40 + 1, logAppendTimeMs: -1, logStartOffset: 7, errorMessage: 'too large: é' }
    const view = new Uint8Array(new SharedArrayBuffer(appendReplySize(reply.errorMessage)))
    encodeAppendReply(view, reply)
    expect(frameKind(view)).toBe(FrameKind.AppendReply)
    expect(decodeAppendReply(view)).toEqual(reply)
  })
})
