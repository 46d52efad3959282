/**
 * Splits a byte stream into Kafka frames: a 4-byte big-endian size, then that many bytes.
 * Chunks arrive in any split. A frame that lies inside one chunk is returned as a view of it
 * (no copy); a frame spread over chunks is joined once, when its last byte has arrived, so a
 * large frame costs one copy however many chunks it came in (no quadratic re-concatenation).
 * Returned frames are views: they stay valid as long as the caller keeps them (Node does not
 * reuse socket chunks).
 */
import { Buffer } from 'node:buffer'
import { InvalidFrameSizeError } from '../errors.js'

/** Kafka's default socket.request.max.bytes. */
export const DEFAULT_MAX_FRAME_SIZE = 100 * 1024 * 1024

// Defined in the error table; re-exported for the importers of this module.
export { InvalidFrameSizeError }

const SIZE_PREFIX = 4

export class FrameDecoder {
  private pending: Buffer[] = []
  private pendingBytes = 0
  /** Size of the frame being assembled from `pending`, once its prefix is known. */
  private expected = -1
  private failure: InvalidFrameSizeError | null = null

  constructor(readonly maxFrameSize = DEFAULT_MAX_FRAME_SIZE) {}

  /** Bytes held for an incomplete frame. */
  get bufferedBytes(): number { return this.pendingBytes }

  /**
   * Adds a chunk and returns the frames it completes (without their size prefix), in order.
   * Throws InvalidFrameSizeError on a bad size; the decoder then refuses further input.
   */
  push(chunk: Buffer): Buffer[] {
    if (this.failure) throw this.failure
    const frames: Buffer[] = []
    if (chunk.length === 0) return frames
    if (this.pendingBytes === 0) {
      this.split(chunk, frames)
      return frames
    }
    this.pending.push(chunk)
    this.pendingBytes += chunk.length
    if (this.expected < 0) {
      if (this.pendingBytes < SIZE_PREFIX) return frames
      this.expected = this.checkSize(this.peekSize())
    }
    if (this.pendingBytes < SIZE_PREFIX + this.expected) return frames
    const joined = Buffer.concat(this.pending, this.pendingBytes)
    this.pending = []
    this.pendingBytes = 0
    this.expected = -1
    this.split(joined, frames)
    return frames
  }

  /** Takes whole frames from `buf`; keeps the incomplete tail as pending. */
  private split(buf: Buffer, frames: Buffer[]): void {
    let offset = 0
    while (buf.length - offset >= SIZE_PREFIX) {
      const size = this.checkSize(buf.readInt32BE(offset))
      if (buf.length - offset - SIZE_PREFIX < size) {
        this.expected = size
        break
      }
      frames.push(buf.subarray(offset + SIZE_PREFIX, offset + SIZE_PREFIX + size))
      offset += SIZE_PREFIX + size
    }
    if (offset < buf.length) {
      this.pending = [buf.subarray(offset)]
      this.pendingBytes = buf.length - offset
    }
  }

  /** The size prefix when it straddles pending chunks. */
  private peekSize(): number {
    const prefix = Buffer.alloc(SIZE_PREFIX)
    let filled = 0
    for (const part of this.pending) {
      filled += part.copy(prefix, filled, 0, Math.min(part.length, SIZE_PREFIX - filled))
      if (filled === SIZE_PREFIX) break
    }
    return prefix.readInt32BE(0)
  }

  private checkSize(size: number): number {
    if (size < 0 || size > this.maxFrameSize) {
      this.failure = new InvalidFrameSizeError(size, this.maxFrameSize)
      this.pending = []
      this.pendingBytes = 0
      throw this.failure
    }
    return size
  }
}
