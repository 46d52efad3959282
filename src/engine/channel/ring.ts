import { performance } from 'node:perf_hooks'
import { RecordTooLargeError, RingClosedError } from '../../errors.js'
import { assertBlockingAllowed, waitAsyncHeld, waitBlocking } from './ring-wait.js'

/**
 * Single-producer single-consumer ring of length-prefixed frames over a SharedArrayBuffer,
 * the main-thread <-> partition-worker channel: no per-record postMessage, which costs
 * 25-30 µs a round trip (docs/ARCHITECTURE.md, "Threads").
 *
 * Layout. A 320-byte header of Int32 words, each hot word on its own 64-byte cache line so
 * the producer's and the consumer's stores never share a line:
 *   line 0: magic, version, capacity, closed     line 1: head (producer-owned)
 *   line 2: tail (consumer-owned)                 line 3: consumer-sleeping flag
 *   line 4: producer-sleeping flag
 * then the payload area: `capacity` bytes, any multiple of 4 (not necessarily a power of two).
 *
 * Frames. `[i32 length][payload][pad to 4]`, always contiguous, so a payload view can go
 * straight to fs.write / socket.write. Lengths are in platform byte order (both ends are the
 * same process). A frame that does not fit before the end is preceded by a wrap marker
 * (length -1) and starts at offset 0. head == tail means empty; the producer never lets
 * head reach tail from behind, so the largest payload is `capacity - 8` bytes.
 *
 * Waking. A side about to sleep sets its sleeping flag, re-checks the ring, then waits on
 * that flag; the peer notifies only when it finds the flag set (swapping it back to 0), so
 * a busy ring costs one extra atomic load per commit/release and no wake-up is lost.
 * `close()` (either end, or whoever supervises a dead worker) sets `closed` and wakes both.
 *
 * Ownership. Exactly one thread calls the producer methods and exactly one (usually
 * another) calls the consumer methods, each on its own `Ring` instance: `Ring.create` on one
 * side, `Ring.attach(sab)` on the other.
 */

/** The ring was closed by its peer or by whoever supervises the peer (a worker that died). Defined in the error table. */
export { RingClosedError }

export interface RingWaitOptions {
  /** Give up after this many milliseconds (the wait then resolves/returns false). Default: no limit. */
  timeoutMs?: number
  /** Checks of the peer's index before going to sleep. Default: 100 async, 2000 blocking. */
  spin?: number
}

const MAGIC = 0x52474c31 // "RGL1"
const VERSION = 1
const WORDS_PER_LINE = 16
const I_MAGIC = 0
const I_VERSION = 1
const I_CAPACITY = 2
const I_CLOSED = 3
const I_HEAD = 1 * WORDS_PER_LINE
const I_TAIL = 2 * WORDS_PER_LINE
const I_CONSUMER_SLEEPING = 3 * WORDS_PER_LINE
const I_PRODUCER_SLEEPING = 4 * WORDS_PER_LINE
const HEADER_BYTES = 5 * WORDS_PER_LINE * 4

const FRAME_HEADER_BYTES = 4
const WRAP_MARKER = -1
const MIN_CAPACITY = 16
/** Positions are Int32 and SAB sizes have practical limits; 1 GiB is far beyond any real ring. */
const MAX_CAPACITY = 1 << 30
const DEFAULT_ASYNC_SPIN = 100
const DEFAULT_BLOCKING_SPIN = 2000

type SleepStep = 'ready' | 'sleep' | 'timeout'

function align4(n: number): number {
  return (n + 3) & ~3
}

function deadlineOf(options: RingWaitOptions | undefined): number {
  const timeoutMs = options?.timeoutMs
  return timeoutMs === undefined ? Infinity : performance.now() + Math.max(0, timeoutMs)
}

function remainingMs(deadline: number): number {
  return deadline === Infinity ? Infinity : Math.max(0, deadline - performance.now())
}

export class Ring {
  readonly sab: SharedArrayBuffer
  /** Bytes in the payload area (frames plus their 4-byte headers and padding). */
  readonly capacity: number
  /** Largest payload a single frame may carry. */
  readonly maxFrameLength: number

  private readonly control: Int32Array
  private readonly bytes: Uint8Array
  private readonly words: Int32Array

  // Producer-side state (only the producer thread touches these).
  private head: number
  private cachedTail: number
  private reservedAt = -1
  private reservedLength = 0

  // Consumer-side state (only the consumer thread touches these).
  private readPosition: number
  private releasedPosition: number
  private cachedHead: number
  private heldFrames = 0

  // Counters of this instance (this thread's side), for metrics and benchmarks.
  private sleepCount = 0
  private notifyCount = 0

  /** A ring over a new SharedArrayBuffer; `capacityBytes` is rounded up to a multiple of 4. */
  static create(capacityBytes: number): Ring {
    if (!Number.isInteger(capacityBytes) || capacityBytes < MIN_CAPACITY || capacityBytes > MAX_CAPACITY) {
      throw new RangeError(`ring capacity must be an integer in [${MIN_CAPACITY}, ${MAX_CAPACITY}] bytes, got ${capacityBytes}`)
    }
    const capacity = align4(capacityBytes)
    const sab = new SharedArrayBuffer(HEADER_BYTES + capacity)
    const control = new Int32Array(sab, 0, HEADER_BYTES / 4)
    control[I_VERSION] = VERSION
    control[I_CAPACITY] = capacity
    Atomics.store(control, I_MAGIC, MAGIC)
    return new Ring(sab)
  }

  /**
   * The other end of a ring made by `Ring.create` (its `sab` sent through workerData/postMessage).
   * `coalesceWakes` (producer side): a commit that finds the consumer asleep wakes it at the end
   * of the current microtask checkpoint rather than at once, so a burst of frames committed in
   * one go (a worker's replies after a write or a group commit) costs one Atomics.notify, which
   * is ~10-20 µs for an async waiter, instead of one per frame the consumer slept between.
   */
  static attach(sab: SharedArrayBuffer, options: { coalesceWakes?: boolean } = {}): Ring {
    const ring = new Ring(sab)
    ring.coalesceWakes = options.coalesceWakes === true
    return ring
  }

  private coalesceWakes = false
  private wakeQueued = false

  private constructor(sab: SharedArrayBuffer) {
    if (!(sab instanceof SharedArrayBuffer) || sab.byteLength < HEADER_BYTES + MIN_CAPACITY) {
      throw new TypeError('not a ring: expected the SharedArrayBuffer of Ring.create')
    }
    const control = new Int32Array(sab, 0, HEADER_BYTES / 4)
    const capacity = control[I_CAPACITY]
    if (Atomics.load(control, I_MAGIC) !== MAGIC || control[I_VERSION] !== VERSION || capacity !== sab.byteLength - HEADER_BYTES) {
      throw new TypeError('not a ring: bad header (magic, version or capacity)')
    }
    this.sab = sab
    this.capacity = capacity
    this.maxFrameLength = capacity - 2 * FRAME_HEADER_BYTES
    this.control = control
    this.bytes = new Uint8Array(sab, HEADER_BYTES, capacity)
    this.words = new Int32Array(sab, HEADER_BYTES, capacity / 4)
    this.head = Atomics.load(control, I_HEAD)
    this.cachedTail = Atomics.load(control, I_TAIL)
    this.readPosition = this.cachedTail
    this.releasedPosition = this.cachedTail
    this.cachedHead = this.head
  }

  /** Waits this instance actually went to sleep for, and peers it had to notify. */
  get stats(): { sleeps: number; notifies: number } {
    return { sleeps: this.sleepCount, notifies: this.notifyCount }
  }

  get closed(): boolean {
    return Atomics.load(this.control, I_CLOSED) !== 0
  }

  /**
   * Payload-area bytes between the consumer's tail and the producer's head now (frames not yet
   * released, with the bytes a wrap skipped): how full the ring is. Any thread may read it.
   */
  get usedBytes(): number {
    const head = Atomics.load(this.control, I_HEAD)
    const tail = Atomics.load(this.control, I_TAIL)
    return head >= tail ? head - tail : this.capacity - tail + head
  }

  /** Marks the ring closed and wakes any waiter on either side. Idempotent; any thread may call it. */
  close(): void {
    Atomics.store(this.control, I_CLOSED, 1)
    for (const flag of [I_CONSUMER_SLEEPING, I_PRODUCER_SLEEPING]) {
      Atomics.store(this.control, flag, 0)
      Atomics.notify(this.control, flag)
    }
  }

  // ---------------------------------------------------------------- producer

  /**
   * Reserves room for a frame of `length` payload bytes and returns a view to encode into,
   * or null if the ring has no room now. Publish it with `commit()` (optionally shorter),
   * or drop it with `abandon()`. Until committed the consumer cannot see any of it.
   */
  tryReserve(length: number): Uint8Array | null {
    const at = this.reserve(length)
    return at < 0 ? null : new Uint8Array(this.sab, HEADER_BYTES + at + FRAME_HEADER_BYTES, length)
  }

  /** Publishes the reserved frame with `length` (<= the reserved length) payload bytes. */
  commit(length: number = this.reservedLength): void {
    const at = this.reservedAt
    if (at < 0) throw new Error('ring commit without a reservation')
    if (!Number.isInteger(length) || length < 0 || length > this.reservedLength) {
      throw new RangeError(`ring commit length ${length} outside [0, ${this.reservedLength}]`)
    }
    this.reservedAt = -1
    if (this.closed) throw new RingClosedError('the ring was closed before the frame was committed')
    // A frame placed at 0 while head is elsewhere means it wrapped: mark the skipped tail end.
    if (at !== this.head) this.words[this.head >> 2] = WRAP_MARKER
    this.words[at >> 2] = length
    this.publishHead(at + FRAME_HEADER_BYTES + align4(length))
  }

  /** Drops the open reservation; nothing of it was ever visible to the consumer. */
  abandon(): void {
    this.reservedAt = -1
  }

  /** Reserve, let `fill` encode in place, commit. False (and `fill` not called) if full. */
  tryWrite(length: number, fill: (view: Uint8Array) => void): boolean {
    const view = this.tryReserve(length)
    if (view === null) return false
    try {
      fill(view)
    } catch (error) {
      this.abandon()
      throw error
    }
    this.commit(length)
    return true
  }

  /** Copies `payload` in as one frame; false if the ring has no room now. */
  write(payload: Uint8Array): boolean {
    const at = this.reserve(payload.byteLength)
    if (at < 0) return false
    this.bytes.set(payload, at + FRAME_HEADER_BYTES)
    this.commit(payload.byteLength)
    return true
  }

  /** Writes `payload`, waiting without blocking the event loop while full. False on timeout. */
  async writeAsync(payload: Uint8Array, options?: RingWaitOptions): Promise<boolean> {
    const deadline = deadlineOf(options)
    while (!this.write(payload)) {
      const left = remainingMs(deadline)
      if (!(await this.waitForSpace(payload.byteLength, { ...options, timeoutMs: left }))) return false
    }
    return true
  }

  /** Worker threads only: writes `payload`, blocking while full. False on timeout. */
  writeBlocking(payload: Uint8Array, options?: RingWaitOptions): boolean {
    assertBlockingAllowed()
    const deadline = deadlineOf(options)
    while (!this.write(payload)) {
      if (!this.waitForSpaceBlocking(payload.byteLength, { ...options, timeoutMs: remainingMs(deadline) })) return false
    }
    return true
  }

  /**
   * Resolves true once a frame of `length` payload bytes fits (it keeps fitting: only this
   * producer uses space), false on timeout; rejects with RingClosedError once closed.
   */
  async waitForSpace(length: number, options?: RingWaitOptions): Promise<boolean> {
    this.assertNoReservation()
    const need = this.frameBytes(length)
    const deadline = deadlineOf(options)
    const spin = options?.spin ?? DEFAULT_ASYNC_SPIN
    for (;;) {
      const step = this.producerStep(need, deadline, spin)
      if (step !== 'sleep') return step === 'ready'
      await waitAsyncHeld(this.control, I_PRODUCER_SLEEPING, 1, remainingMs(deadline))
      Atomics.store(this.control, I_PRODUCER_SLEEPING, 0)
    }
  }

  /** Worker threads only: blocking `waitForSpace`. */
  waitForSpaceBlocking(length: number, options?: RingWaitOptions): boolean {
    assertBlockingAllowed()
    this.assertNoReservation()
    const need = this.frameBytes(length)
    const deadline = deadlineOf(options)
    const spin = options?.spin ?? DEFAULT_BLOCKING_SPIN
    for (;;) {
      const step = this.producerStep(need, deadline, spin)
      if (step !== 'sleep') return step === 'ready'
      waitBlocking(this.control, I_PRODUCER_SLEEPING, 1, remainingMs(deadline))
      Atomics.store(this.control, I_PRODUCER_SLEEPING, 0)
    }
  }

  private frameBytes(length: number): number {
    if (!Number.isInteger(length) || length < 0) throw new RangeError(`ring frame length must be a non-negative integer, got ${length}`)
    if (length > this.maxFrameLength) {
      throw new RecordTooLargeError(`frame of ${length} bytes exceeds this ring's largest frame (${this.maxFrameLength} bytes of a ${this.capacity}-byte ring)`)
    }
    return FRAME_HEADER_BYTES + align4(length)
  }

  /** Waiting or reserving again would move head under the open reservation. */
  private assertNoReservation(): void {
    if (this.reservedAt >= 0) throw new Error('ring already has an open reservation: commit or abandon it first')
  }

  private reserve(length: number): number {
    this.assertNoReservation()
    const need = this.frameBytes(length)
    if (this.closed) throw new RingClosedError()
    const at = this.findSpace(need)
    if (at >= 0) {
      this.reservedAt = at
      this.reservedLength = length
    }
    return at
  }

  /** Offset where a frame of `need` bytes fits now, or -1. */
  private findSpace(need: number): number {
    let at = this.placeFrame(need, this.cachedTail)
    if (at >= 0) return at
    this.cachedTail = Atomics.load(this.control, I_TAIL)
    at = this.placeFrame(need, this.cachedTail)
    if (at >= 0) return at
    // It fits neither before the end nor at the start. Publish the wrap on its own, so the
    // consumer moves tail past the end: otherwise an empty ring whose indices sit mid-buffer
    // could never take a frame longer than the distance to either end.
    const head = this.head
    const tail = this.cachedTail
    if (head >= tail && head !== 0 && tail !== 0) {
      this.words[head >> 2] = WRAP_MARKER
      this.publishHead(0)
    }
    return -1
  }

  private placeFrame(need: number, tail: number): number {
    const head = this.head
    if (head >= tail) {
      const end = head + need
      // Ending exactly at the end wraps head to 0, which must not land on tail.
      if (end < this.capacity || (end === this.capacity && tail !== 0)) return head
      return need < tail ? 0 : -1
    }
    return head + need < tail ? head : -1
  }

  private publishHead(next: number): void {
    const head = next === this.capacity ? 0 : next
    this.head = head
    Atomics.store(this.control, I_HEAD, head)
    if (this.coalesceWakes) {
      if (!this.wakeQueued) {
        this.wakeQueued = true
        queueMicrotask(() => {
          this.wakeQueued = false
          if (Atomics.load(this.control, I_CONSUMER_SLEEPING) !== 0) this.wake(I_CONSUMER_SLEEPING)
        })
      }
      return
    }
    if (Atomics.load(this.control, I_CONSUMER_SLEEPING) !== 0) this.wake(I_CONSUMER_SLEEPING)
  }

  private producerStep(need: number, deadline: number, spin: number): SleepStep {
    // A consumer we still owe a wake would never free the space we wait for.
    if (this.wakeQueued && Atomics.load(this.control, I_CONSUMER_SLEEPING) !== 0) this.wake(I_CONSUMER_SLEEPING)
    for (let i = 0; ; i++) {
      if (this.closed) throw new RingClosedError()
      if (this.findSpace(need) >= 0) return 'ready'
      if (i >= spin) break
    }
    if (remainingMs(deadline) <= 0) return 'timeout'
    Atomics.store(this.control, I_PRODUCER_SLEEPING, 1)
    // Re-check after raising the flag: a release or close in between is seen here, or else
    // its author sees the flag and notifies.
    const closed = this.closed
    if (closed || this.findSpace(need) >= 0) {
      Atomics.store(this.control, I_PRODUCER_SLEEPING, 0)
      if (closed) throw new RingClosedError()
      return 'ready'
    }
    this.sleepCount++
    return 'sleep'
  }

  // ---------------------------------------------------------------- consumer

  /**
   * The next frame's payload as a view into the ring, or null if none is committed.
   * Views stay valid (the producer cannot overwrite them) until `release()`: read several,
   * hand them to fs.writev, then release them all at once. Copy (`slice()`) to keep longer.
   */
  read(): Uint8Array | null {
    const length = this.nextFrameLength()
    if (length < 0) return null
    const at = this.readPosition
    const next = at + FRAME_HEADER_BYTES + align4(length)
    this.readPosition = next === this.capacity ? 0 : next
    this.heldFrames++
    return new Uint8Array(this.sab, HEADER_BYTES + at + FRAME_HEADER_BYTES, length)
  }

  /** Gives every frame returned by `read()` so far back to the producer. */
  release(): void {
    this.heldFrames = 0
    if (this.readPosition !== this.releasedPosition) this.publishTail(this.readPosition)
  }

  /**
   * Reads up to `max` frames, calling `onFrame` with each view (valid only during the call),
   * then releases them (and any frames still held from `read()`) with a single tail update.
   * A frame whose callback throws counts as consumed. Returns the number of frames read.
   */
  drain(max: number, onFrame: (payload: Uint8Array) => void): number {
    let count = 0
    try {
      while (count < max) {
        const payload = this.read()
        if (payload === null) break
        count++
        onFrame(payload)
      }
    } finally {
      this.release()
    }
    return count
  }

  /** True if `read()` would return a frame now. */
  hasData(): boolean {
    return this.nextFrameLength() >= 0
  }

  /**
   * Resolves true once a frame is readable, false on timeout. Frames committed before a
   * close are still delivered; after those it rejects with RingClosedError.
   */
  async waitForData(options?: RingWaitOptions): Promise<boolean> {
    const deadline = deadlineOf(options)
    const spin = options?.spin ?? DEFAULT_ASYNC_SPIN
    for (;;) {
      const step = this.consumerStep(deadline, spin)
      if (step !== 'sleep') return step === 'ready'
      await waitAsyncHeld(this.control, I_CONSUMER_SLEEPING, 1, remainingMs(deadline))
      Atomics.store(this.control, I_CONSUMER_SLEEPING, 0)
    }
  }

  /** Worker threads only: blocking `waitForData`. */
  waitForDataBlocking(options?: RingWaitOptions): boolean {
    assertBlockingAllowed()
    const deadline = deadlineOf(options)
    const spin = options?.spin ?? DEFAULT_BLOCKING_SPIN
    for (;;) {
      const step = this.consumerStep(deadline, spin)
      if (step !== 'sleep') return step === 'ready'
      waitBlocking(this.control, I_CONSUMER_SLEEPING, 1, remainingMs(deadline))
      Atomics.store(this.control, I_CONSUMER_SLEEPING, 0)
    }
  }

  /** Length of the frame at the read position (skipping a wrap marker), or -1 if none. */
  private nextFrameLength(): number {
    // After a wrap marker the next word is a real frame or the head: two rounds suffice.
    for (let round = 0; round < 2; round++) {
      if (this.readPosition === this.cachedHead) {
        this.cachedHead = Atomics.load(this.control, I_HEAD)
        if (this.readPosition === this.cachedHead) return -1
      }
      const length = this.words[this.readPosition >> 2]
      if (length !== WRAP_MARKER) return length
      this.readPosition = 0
      // Nothing held: hand the skipped end back now, a producer may be waiting for it.
      if (this.heldFrames === 0) this.publishTail(0)
    }
    return -1
  }

  private publishTail(position: number): void {
    this.releasedPosition = position
    Atomics.store(this.control, I_TAIL, position)
    if (Atomics.load(this.control, I_PRODUCER_SLEEPING) !== 0) this.wake(I_PRODUCER_SLEEPING)
  }

  private consumerStep(deadline: number, spin: number): SleepStep {
    for (let i = 0; ; i++) {
      if (this.nextFrameLength() >= 0) return 'ready'
      // Checked after the data: frames committed before close() are still delivered.
      if (this.closed) return this.readyOrClosed()
      if (i >= spin) break
    }
    if (remainingMs(deadline) <= 0) return 'timeout'
    Atomics.store(this.control, I_CONSUMER_SLEEPING, 1)
    // Re-check after raising the flag: a commit or close in between is seen here, or else
    // its author sees the flag and notifies.
    const closed = this.closed
    if (closed || this.nextFrameLength() >= 0) {
      Atomics.store(this.control, I_CONSUMER_SLEEPING, 0)
      return closed ? this.readyOrClosed() : 'ready'
    }
    this.sleepCount++
    return 'sleep'
  }

  /** Once closed: whatever was committed before the close is still readable, then the error. */
  private readyOrClosed(): SleepStep {
    if (this.nextFrameLength() >= 0) return 'ready'
    throw new RingClosedError()
  }

  private wake(flag: number): void {
    if (Atomics.compareExchange(this.control, flag, 1, 0) === 1) {
      this.notifyCount++
      Atomics.notify(this.control, flag)
    }
  }
}
