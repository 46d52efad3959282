/**
 * Frames between the router (main thread) and a partition worker, carried by the two SPSC
 * rings of that worker (request ring: router -> worker, reply ring: worker -> router).
 *
 * Every frame starts with a 12-byte little-endian head:
 *   u8 kind | i8 acks | u8 compression | u8 reserved | u32 requestId | u32 slot
 *
 * Hot frames (appends and their replies) are fixed binary layouts. Control messages (open,
 * drop, close, stats, offsetForTimestamp, read) are msgpackr-encoded after the head and go
 * through the same request ring rather than postMessage: the ring keeps them in order with the
 * appends before them (a read or close sees every earlier append), and one channel means one
 * place where a dead worker's pending calls are failed.
 */
import { Buffer } from 'node:buffer'
import { Packr } from '../../msgpack.js'
import type { PartitionSettings } from '../log-engine.js'

export const FRAME_HEAD_BYTES = 12

export const enum FrameKind {
  AppendBatches = 1,
  AppendRecords = 2,
  Control = 3,
  AppendReply = 4,
  ControlReply = 5,
  ControlError = 6,
  /**
   * The router's event-loop turn that wrote AppendRecords frames has ended (flush 'always'
   * only): the worker may now seal its open batch for the next group commit, knowing the
   * sends made in that turn are all in the ring. No body, no reply.
   */
  TurnEnd = 7,
  /**
   * A follower's append: the leader's batches, stored verbatim (offsets, epochs, CRCs). The reply
   * is an AppendReply whose `baseOffset` carries the log end offset after the append.
   */
  AppendAsFollower = 8,
  /**
   * AppendAsFollower of batches already in the follower staging area (follower-staging.ts): the
   * body is their place there instead of the bytes (STAGED_APPEND_BYTES). Same reply.
   */
  AppendAsFollowerStaged = 9,
}

/** Request id 0 is never used for a call that expects a reply (acks=0 appends use it). */
export const NO_REPLY = 0

export const packr = new Packr({ useRecords: false, moreTypes: false })

export interface FrameHead {
  kind: number
  acks: number
  compression: number
  requestId: number
  slot: number
}

/** Written byte by byte: a DataView per frame was garbage on both threads for 12 bytes. */
export function writeHead(view: Uint8Array, kind: number, acks: number, compression: number, requestId: number, slot: number): void {
  view[0] = kind
  view[1] = acks & 0xff
  view[2] = compression
  view[3] = 0
  writeU32(view, 4, requestId)
  writeU32(view, 8, slot)
}

/**
 * An AppendAsFollower body starts with the offset its batches must start at (float64, exact for
 * every offset; -1: no check), then the batches.
 */
export const FOLLOWER_APPEND_HEAD_BYTES = 8

export function writeFollowerAppendHead(view: Uint8Array, at: number, expectedLogEnd: number): void {
  new DataView(view.buffer, view.byteOffset, view.byteLength).setFloat64(at, expectedLogEnd, true)
}

export function readFollowerAppendHead(view: Uint8Array, at: number): number {
  return new DataView(view.buffer, view.byteOffset, view.byteLength).getFloat64(at, true)
}

/** An AppendAsFollowerStaged body: expected log end (float64), then the batches' byte offset and length in the staging area (u32 each). */
export const STAGED_APPEND_BYTES = FOLLOWER_APPEND_HEAD_BYTES + 8

export function writeStagedAppend(view: Uint8Array, at: number, expectedLogEnd: number, areaOffset: number, length: number): void {
  const data = new DataView(view.buffer, view.byteOffset, view.byteLength)
  data.setFloat64(at, expectedLogEnd, true)
  data.setUint32(at + 8, areaOffset, true)
  data.setUint32(at + 12, length, true)
}

export function readStagedAppend(view: Uint8Array, at: number): { expectedLogEnd: number; areaOffset: number; length: number } {
  const data = new DataView(view.buffer, view.byteOffset, view.byteLength)
  return { expectedLogEnd: data.getFloat64(at, true), areaOffset: data.getUint32(at + 8, true), length: data.getUint32(at + 12, true) }
}

export function readHead(view: Uint8Array): FrameHead {
  return { kind: view[0], acks: (view[1] << 24) >> 24, compression: view[2], requestId: readU32(view, 4), slot: readU32(view, 8) }
}

/** The head's kind and request id without a head object (the router's reply path). */
export function frameKind(view: Uint8Array): number {
  return view[0]
}

export function frameRequestId(view: Uint8Array): number {
  return readU32(view, 4)
}

function writeU32(view: Uint8Array, at: number, value: number): void {
  view[at] = value
  view[at + 1] = value >>> 8
  view[at + 2] = value >>> 16
  view[at + 3] = value >>> 24
}

function readU32(view: Uint8Array, at: number): number {
  return (view[at] | (view[at + 1] << 8) | (view[at + 2] << 16) | (view[at + 3] << 24)) >>> 0
}

/** Append reply: head, i16 errorCode, pad, f64 baseOffset, f64 logAppendTimeMs, f64 logStartOffset, utf8 message. */
export const APPEND_REPLY_FIXED_BYTES = FRAME_HEAD_BYTES + 4 + 24

export interface AppendReply {
  requestId: number
  errorCode: number
  baseOffset: number
  logAppendTimeMs: number
  logStartOffset: number
  errorMessage: string | null
}

export function appendReplySize(message: string | null): number {
  return APPEND_REPLY_FIXED_BYTES + (message === null ? 0 : Buffer.byteLength(message))
}

export function encodeAppendReply(view: Uint8Array, reply: AppendReply): void {
  writeHead(view, FrameKind.AppendReply, 0, 0, reply.requestId, 0)
  const dv = new DataView(view.buffer, view.byteOffset, view.byteLength)
  dv.setInt16(12, reply.errorCode, true)
  dv.setUint16(14, reply.errorMessage === null ? 0 : 1, true)
  dv.setFloat64(16, reply.baseOffset, true)
  dv.setFloat64(24, reply.logAppendTimeMs, true)
  dv.setFloat64(32, reply.logStartOffset, true)
  if (reply.errorMessage !== null) Buffer.from(view.buffer, view.byteOffset, view.byteLength).write(reply.errorMessage, APPEND_REPLY_FIXED_BYTES, 'utf8')
}

export function decodeAppendReply(view: Uint8Array): AppendReply {
  const dv = new DataView(view.buffer, view.byteOffset, view.byteLength)
  const hasMessage = dv.getUint16(14, true) === 1
  return {
    requestId: dv.getUint32(4, true),
    errorCode: dv.getInt16(12, true),
    baseOffset: dv.getFloat64(16, true),
    logAppendTimeMs: dv.getFloat64(24, true),
    logStartOffset: dv.getFloat64(32, true),
    errorMessage: hasMessage ? Buffer.from(view.buffer, view.byteOffset + APPEND_REPLY_FIXED_BYTES, view.byteLength - APPEND_REPLY_FIXED_BYTES).toString('utf8') : null,
  }
}

/** Control requests the worker understands (msgpackr body of a Control frame). */
export type ControlRequest =
  | { op: 'open'; slot: number; topic: string; partition: number; settings: PartitionSettings }
  | { op: 'drop'; slot: number }
  | { op: 'closePartition'; slot: number }
  | { op: 'read'; slot: number; offset: number; maxBytes: number; toLogEnd?: boolean; holdFile?: boolean; readCommitted?: boolean; skipAborted?: boolean }
  | { op: 'writeTxnMarker'; slot: number; producerId: number; producerEpoch: number; committed: boolean; coordinatorEpoch: number }
  | { op: 'offsetForTimestamp'; slot: number; timestamp: number }
  | { op: 'truncateTo'; slot: number; offset: number }
  | { op: 'repairDamagedRange'; slot: number; path: string; position: number; bytes: Uint8Array }
  | { op: 'truncateFullyAndStartAt'; slot: number; offset: number }
  | { op: 'setHighWatermark'; slot: number; offset: number }
  | { op: 'endOffsetForEpoch'; slot: number; epoch: number; currentLeaderEpoch: number }
  | { op: 'setLeaderEpoch'; slot: number; epoch: number }
  | { op: 'deleteRecords'; slot: number; offset: number }
  | { op: 'activeProducers'; slot: number }
  | { op: 'stats' }
  | { op: 'shutdown' }

export function controlFrameSize(body: Uint8Array): number {
  return FRAME_HEAD_BYTES + body.byteLength
}

export function bodyOf(view: Uint8Array): Uint8Array {
  return view.subarray(FRAME_HEAD_BYTES)
}
