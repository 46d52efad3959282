/**
 * Shared memory that replica fetch responses are read into, so a follower's append reaches its
 * partition worker without being copied into the request ring (0.5-0.65 s of the follower's
 * main thread per GiB caught up, on the path of every append: bench/RESULTS.md). One area per
 * engine, given to every worker at spawn; the main thread hands out ranges of it (`take`), the
 * socket fills them (DirectFrameReader), and an append of bytes inside the area sends the worker
 * only their place (FrameKind.AppendAsFollowerStaged).
 *
 * A range is reused only once nobody can still read or write it. Each connection's ranges are
 * kept in the order its frames arrived (`ConnectionFrames`): responses on one connection arrive
 * in request order, so once a response's append has been answered, its frame and every frame
 * that arrived before it (responses dropped unread, or answered without records) are free; when
 * the connection is closed and nothing of it is being appended, all of its ranges are. Ranges
 * too large for the area, or asked for while it is full, are plain heap buffers instead (their
 * appends are copied through the ring as before).
 */
import { Buffer } from 'node:buffer'

/** The area's size: a few 10 MiB responses (replica.fetch.response.max.bytes) in flight at once. */
export const FOLLOWER_STAGING_BYTES = 64 * 1024 * 1024
/** Frames below this stay on the heap: small responses gain nothing from sharing. */
const MIN_STAGED_BYTES = 64 * 1024
/** Ranges start on cache lines. */
const ALIGN = 64

interface Range { start: number; end: number }

/** The area and its live ranges (main thread only). */
export class FollowerStaging {
  /** Live ranges in address order. */
  private readonly ranges: Range[] = []

  constructor(readonly area: SharedArrayBuffer) {}

  /** Bytes in use (tests, stats). */
  get inUse(): number {
    let total = 0
    for (const r of this.ranges) total += r.end - r.start
    return total
  }

  /** `size` bytes of the area (first fit), or undefined (too small to share, too large, or the area is full). */
  take(size: number): Buffer | undefined {
    if (size < MIN_STAGED_BYTES || size > this.area.byteLength / 4) return undefined
    let at = 0
    let index = 0
    for (; index < this.ranges.length; index++) {
      if (this.ranges[index].start - at >= size) break
      at = align(this.ranges[index].end)
    }
    if (at + size > this.area.byteLength) return undefined
    this.ranges.splice(index, 0, { start: at, end: at + size })
    return Buffer.from(this.area, at, size)
  }

  /** Whether `view` lies in this area. */
  holds(view: Uint8Array): boolean {
    return view.buffer === this.area
  }

  /** Frees the range that starts where `taken` (a Buffer of take) does. */
  release(taken: Uint8Array): void {
    const i = this.ranges.findIndex((r) => r.start === taken.byteOffset)
    if (i >= 0) this.ranges.splice(i, 1)
  }
}

/** One connection's frames in the area, in arrival order (see the file comment). */
export class ConnectionFrames {
  private readonly frames: Buffer[] = []

  constructor(private readonly staging: FollowerStaging) {}

  /** A frame of `size` bytes in the area, or undefined (the reader then allocates on the heap). */
  allocate(size: number): Buffer | undefined {
    const frame = this.staging.take(size)
    if (frame) this.frames.push(frame)
    return frame
  }

  /**
   * Called once everything read from a response is appended (or dropped): frees the frame that
   * `view` lies in and every frame that arrived before it. A view outside this connection's frames frees nothing.
   */
  releaseThrough(view: Uint8Array): void {
    if (!this.staging.holds(view)) return
    const i = this.frames.findIndex((f) => view.byteOffset >= f.byteOffset && view.byteOffset < f.byteOffset + f.length)
    if (i < 0) return
    for (const f of this.frames.splice(0, i + 1)) this.staging.release(f)
  }

  /** The connection is closed and nothing read from it is being appended: frees all of its frames. */
  releaseAll(): void {
    for (const f of this.frames.splice(0)) this.staging.release(f)
  }
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN
}
