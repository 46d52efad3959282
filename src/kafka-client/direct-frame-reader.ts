/**
 * Response frames read straight into their own buffer (net's `onread` with a buffer per read):
 * once a large frame's size is known, the socket reads land in that frame's remaining bytes,
 * so a 1 MiB replica Fetch response costs a few large reads and no join of 64 KiB chunks
 * (FrameDecoder's Buffer.concat, 7.6% of a catching-up follower's main thread). Bytes read
 * between frames go to a scratch buffer and are copied out (small frames, size prefixes).
 * Frames handed out are their own memory: valid as long as the caller keeps them.
 */
import { Buffer } from 'node:buffer'
import { InvalidFrameSizeError } from '../errors.js'

const SIZE_PREFIX = 4
const SCRATCH_BYTES = 64 * 1024

export class DirectFrameReader {
  private readonly scratch = Buffer.allocUnsafe(SCRATCH_BYTES)
  private readonly prefix = Buffer.alloc(SIZE_PREFIX)
  private prefixFilled = 0
  private frame: Buffer | null = null
  private filled = 0
  private failure: InvalidFrameSizeError | null = null
  /** Frames read before the client attached (none in practice: a broker speaks only when asked). */
  private early: Buffer[] = []
  private deliver: (frame: Buffer) => void = (frame) => { this.early.push(frame) }
  private onError: (error: Error) => void = () => undefined

  /**
   * The socket is created (and may read) before its client exists: the client attaches here.
   * `allocate`: where a frame of a given size is read (undefined from it: a heap buffer), e.g.
   * shared memory a replica fetcher's appends are taken from (engine/channel/follower-staging.ts).
   */
  constructor(private readonly maxFrameSize: number, private readonly allocate?: (size: number) => Buffer | undefined) {}

  attach(deliver: (frame: Buffer) => void, onError: (error: Error) => void): void {
    this.deliver = deliver
    this.onError = onError
    for (const frame of this.early.splice(0)) deliver(frame)
    if (this.failure) onError(this.failure)
  }

  /** The buffer the next socket read fills: the current frame's rest when it is large, else the scratch buffer. */
  nextBuffer(): Buffer {
    const frame = this.frame
    if (frame !== null && frame.length - this.filled > SCRATCH_BYTES) return frame.subarray(this.filled)
    return this.scratch
  }

  /** `bytes` were read into `buffer` (one that nextBuffer returned). */
  onRead(bytes: number, buffer: Buffer): void {
    if (this.failure || bytes <= 0) return
    if (buffer !== this.scratch) {
      this.filled += bytes
      this.completeFrame()
      return
    }
    let at = 0
    while (at < bytes) {
      if (this.frame === null) {
        const take = Math.min(SIZE_PREFIX - this.prefixFilled, bytes - at)
        buffer.copy(this.prefix, this.prefixFilled, at, at + take)
        this.prefixFilled += take
        at += take
        if (this.prefixFilled < SIZE_PREFIX) return
        this.prefixFilled = 0
        const size = this.prefix.readInt32BE(0)
        if (size < 0 || size > this.maxFrameSize) {
          this.failure = new InvalidFrameSizeError(size, this.maxFrameSize)
          this.onError(this.failure)
          return
        }
        this.frame = this.allocate?.(size) ?? Buffer.allocUnsafe(size)
        this.filled = 0
      }
      const take = Math.min(this.frame.length - this.filled, bytes - at)
      buffer.copy(this.frame, this.filled, at, at + take)
      this.filled += take
      at += take
      this.completeFrame()
    }
  }

  private completeFrame(): void {
    const frame = this.frame
    if (frame === null || this.filled < frame.length) return
    this.frame = null
    this.filled = 0
    this.deliver(frame)
  }
}
