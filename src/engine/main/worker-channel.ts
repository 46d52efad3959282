/**
 * Main-thread side of one partition worker: the Worker, its request ring (router -> worker),
 * its reply ring (worker -> router), its shared offsets and the calls waiting on it.
 *
 * - Writes go straight into the request ring; when it is full they queue here in order and a
 *   single flusher waits (without blocking the event loop) for space.
 * - Replies are drained by a pump that only runs while calls are pending: its ring wait holds
 *   a ref'd handle (a bare Atomics.waitAsync would not keep Node alive), and an idle engine
 *   must not keep the process alive (the Worker itself is unref'd).
 * - A worker that throws, exits or is terminated fails every pending call with a
 *   StorageOfflineError (KAFKA_STORAGE_ERROR) at once; the owner (router) is told through
 *   `onDeath` and starts a replacement.
 */
import type { Worker } from 'node:worker_threads'
import { errorFromPayload, RinglogError, StorageOfflineError, type ErrorPayload } from '../../errors.js'
import { ErrorCode } from '../../protocol/error-codes.js'
import { bodyOf, decodeAppendReply, FRAME_HEAD_BYTES, frameKind, frameRequestId, FrameKind, NO_REPLY, packr, writeHead, type AppendReply } from '../channel/frames.js'
import { PendingCalls, type PendingCall } from './pending-calls.js'
import { Ring, RingClosedError } from '../channel/ring.js'
import { copyBytes } from '../channel/shared-copy.js'
import type { SharedPartitionState } from '../channel/shared-state.js'
import { spawnWorker, spawnWorkerModule } from '../channel/spawn-worker.js'
import { isWorkerEvent, type WorkerEvent, type WorkerRingStats } from '../log-engine.js'

export interface WorkerInit {
  requestRing: SharedArrayBuffer
  replyRing: SharedArrayBuffer
  sharedState: SharedArrayBuffer
  slots: number
  dataDir: string
  flush: 'always' | 'never' | { intervalMs: number }
  batchSize: number
  lingerMs: number
  /** How often the worker applies retention to its partitions (Kafka's log.retention.check.interval.ms). */
  retentionCheckMs: number
  /** Scrub pass interval (0: off) and this worker's share of the scrub read rate. */
  scrubIntervalMs: number
  scrubBytesPerSecond: number
  workerIndex: number
  /** Group commits at least this long are reported to the main thread (postMessage: rare); -1 = never. */
  slowSyncMs: number
  /** The engine's follower staging area (follower-staging.ts), read by AppendAsFollowerStaged frames. */
  followerStaging: SharedArrayBuffer
}

/** Encodes a frame into the ring's reserved `view`. */
export type FrameFill = (view: Uint8Array) => void

interface QueuedWrite {
  length: number
  fill: FrameFill
}

const REPLY_DRAIN_MAX = 1024

export class WorkerChannel {
  readonly index: number
  readonly state: SharedPartitionState
  private readonly worker: Worker
  private readonly requests: Ring
  private readonly replies: Ring
  private readonly pending = new PendingCalls()
  private readonly queue: QueuedWrite[] = []
  /** Writes that found the request ring full (or earlier writes still queued) and had to queue. */
  private fullRingWrites = 0
  private flushing = false
  private pumping = false
  /** flush 'always': a TurnEnd frame follows the AppendRecords frames of each event-loop turn. */
  private readonly markTurns: boolean
  private turnEndQueued = false
  private nextRequestId = 1
  private dead = false
  /** Set by `shutdown()`: the exit that follows is expected. */
  private stopping = false
  private readonly exited: Promise<number>

  constructor(
    index: number,
    state: SharedPartitionState,
    options: { dataDir: string; flush: WorkerInit['flush']; batchSize: number; lingerMs: number; retentionCheckMs: number; scrubIntervalMs: number; scrubBytesPerSecond: number; requestRingBytes: number; replyRingBytes: number; slowSyncMs: number; followerStaging: SharedArrayBuffer; workerModule?: URL },
    private readonly onDeath: (channel: WorkerChannel, reason: Error) => void,
    onEvent: (event: WorkerEvent) => void = () => undefined,
  ) {
    this.index = index
    this.state = state
    this.markTurns = options.flush === 'always'
    this.requests = Ring.create(options.requestRingBytes)
    this.replies = Ring.create(options.replyRingBytes)
    const init: WorkerInit = {
      requestRing: this.requests.sab,
      replyRing: this.replies.sab,
      sharedState: state.buffer,
      slots: state.capacity,
      dataDir: options.dataDir,
      flush: options.flush,
      batchSize: options.batchSize,
      lingerMs: options.lingerMs,
      retentionCheckMs: options.retentionCheckMs,
      scrubIntervalMs: options.scrubIntervalMs,
      scrubBytesPerSecond: options.scrubBytesPerSecond,
      workerIndex: index,
      slowSyncMs: options.slowSyncMs,
      followerStaging: options.followerStaging,
    }
    const workerOptions = { workerData: init, name: `ringlog-partition-worker-${index}` }
    this.worker = options.workerModule
      ? spawnWorkerModule(import.meta.url, options.workerModule, workerOptions)
      : spawnWorker(import.meta.url, '../worker/partition-worker', workerOptions)
    this.worker.unref()
    this.worker.on('message', (message: unknown) => { if (isWorkerEvent(message)) onEvent(message) })
    let failure: Error | undefined
    this.worker.on('error', (error) => { failure = error })
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', (code) => {
        this.die(failure ?? new StorageOfflineError(`partition worker ${index} exited with code ${code}`))
        resolve(code)
      })
    })
  }

  get alive(): boolean {
    return !this.dead
  }

  get threadId(): number {
    return this.worker.threadId
  }

  /** Largest frame the request ring takes. */
  get maxFrameLength(): number {
    return this.requests.maxFrameLength
  }

  /** A fresh id for a call that expects a reply (never 0). */
  allocateRequestId(): number {
    const id = this.nextRequestId
    this.nextRequestId = id >= 0xfffffffe ? 1 : id + 1
    return id
  }

  /** Registers a pending call under `requestId`, then writes its frame. */
  call<T>(requestId: number, kind: PendingCall['kind'], length: number, fill: FrameFill): Promise<T> {
    if (this.dead) return this.offline()
    const reply = this.expectReply<T>(requestId, kind)
    try {
      this.send(length, fill)
    } catch (error) {
      return this.unregister(requestId, error)
    }
    return reply
  }

  /** `call` with a finished frame, which the caller may reuse once this returns (a full ring queues a copy). */
  callCopy<T>(requestId: number, kind: PendingCall['kind'], frame: Uint8Array): Promise<T> {
    if (this.dead) return this.offline()
    const reply = this.expectReply<T>(requestId, kind)
    try {
      this.sendCopy(frame)
    } catch (error) {
      return this.unregister(requestId, error)
    }
    return reply
  }

  private offline<T>(): Promise<T> {
    return Promise.reject(new StorageOfflineError(`partition worker ${this.index} is not running`))
  }

  /** The frame could not be written: forget its call and fail it with `error`. */
  private unregister<T>(requestId: number, error: unknown): Promise<T> {
    this.pending.take(requestId)
    return Promise.reject(error)
  }

  /** The reply's promise, registered before its frame is written (the worker may answer at once). */
  private expectReply<T>(requestId: number, kind: PendingCall['kind']): Promise<T> {
    const reply = new Promise<T>((resolve, reject) => {
      this.pending.add(requestId, { resolve: resolve as (value: unknown) => void, reject, kind })
    })
    this.startPump()
    return reply
  }

  /**
   * Called after writing an AppendRecords frame: once this turn's microtasks (the other sends
   * of the turn) have run, tells the worker with a TurnEnd frame, so it seals one batch for
   * the whole turn instead of one per send or waiting out the linger.
   */
  noteRecordsSent(): void {
    if (!this.markTurns || this.turnEndQueued) return
    this.turnEndQueued = true
    setImmediate(() => {
      this.turnEndQueued = false
      if (this.dead) return
      this.send(FRAME_HEAD_BYTES, (view) => { writeHead(view, FrameKind.TurnEnd, 0, 0, NO_REPLY, 0) })
    })
  }

  /** `post` with a finished frame, which the caller may reuse once this returns. */
  postCopy(frame: Uint8Array): void {
    if (this.dead) throw new StorageOfflineError(`partition worker ${this.index} is not running`)
    this.sendCopy(frame)
  }

  private sendCopy(frame: Uint8Array): void {
    const view = this.reserveNow(frame.length)
    if (view !== null) {
      copyBytes(view, 0, frame, 0, frame.length)
      this.requests.commit(frame.length)
      return
    }
    const copy = new Uint8Array(frame) // a copy (Buffer#slice would be a view)
    this.enqueue(copy.length, (queued) => copyBytes(queued, 0, copy, 0, copy.length))
  }

  /** Writes a frame that expects no reply (acks=0). */
  post(length: number, fill: FrameFill): void {
    if (this.dead) throw new StorageOfflineError(`partition worker ${this.index} is not running`)
    this.send(length, fill)
  }

  private send(length: number, fill: FrameFill): void {
    const view = this.reserveNow(length)
    if (view !== null) this.fillAndCommit(view, length, fill)
    else this.enqueue(length, fill)
  }

  /** Room for a frame in the ring now, unless earlier frames wait in the queue (order is kept). */
  private reserveNow(length: number): Uint8Array | null {
    return this.queue.length === 0 ? this.requests.tryReserve(length) : null
  }

  private enqueue(length: number, fill: FrameFill): void {
    this.fullRingWrites++
    this.queue.push({ length, fill })
    if (!this.flushing) void this.flushQueue()
  }

  private fillAndCommit(view: Uint8Array, length: number, fill: FrameFill): void {
    try {
      fill(view)
    } catch (error) {
      this.requests.abandon()
      throw error
    }
    this.requests.commit(length)
  }

  private async flushQueue(): Promise<void> {
    this.flushing = true
    try {
      while (this.queue.length > 0 && !this.dead) {
        const next = this.queue[0]
        await this.requests.waitForSpace(next.length)
        const view = this.requests.tryReserve(next.length)
        if (view === null) continue
        this.queue.shift()
        this.fillAndCommit(view, next.length, next.fill)
      }
    } catch (error) {
      if (!(error instanceof RingClosedError)) this.die(error instanceof Error ? error : new Error(String(error)))
    } finally {
      this.flushing = false
    }
  }

  private startPump(): void {
    if (this.pumping) return
    this.pumping = true
    void this.pump()
  }

  private async pump(): Promise<void> {
    try {
      while (this.pending.size > 0 && !this.dead) {
        if (this.replies.drain(REPLY_DRAIN_MAX, (frame) => this.onReply(frame)) > 0) continue
        await this.replies.waitForData()
      }
    } catch (error) {
      if (!(error instanceof RingClosedError)) this.die(error instanceof Error ? error : new Error(String(error)))
    } finally {
      this.pumping = false
    }
    if (this.pending.size > 0 && !this.dead) this.startPump()
  }

  private onReply(frame: Uint8Array): void {
    const requestId = frameRequestId(frame)
    const call = this.pending.take(requestId)
    if (!call) return
    const kind = frameKind(frame)
    if (kind === FrameKind.AppendReply) {
      call.resolve(decodeAppendReply(frame) satisfies AppendReply)
    } else if (kind === FrameKind.ControlReply) {
      call.resolve(packr.unpack(bodyOf(frame)))
    } else if (kind === FrameKind.ControlError) {
      call.reject(errorFromPayload(packr.unpack(bodyOf(frame)) as ErrorPayload))
    } else {
      call.reject(new RinglogError(ErrorCode.UNKNOWN_SERVER_ERROR, `unexpected reply frame kind ${kind}`))
    }
  }

  /** Fails everything pending and stops using the rings; idempotent. */
  private die(reason: Error): void {
    if (this.dead) return
    this.dead = true
    // Replies the worker committed before it went away still count (a shutdown reply, acks).
    try {
      this.replies.drain(Number.MAX_SAFE_INTEGER, (frame) => this.onReply(frame))
    } catch {
      // A damaged reply ring: the remaining calls are failed below.
    }
    this.requests.close()
    this.replies.close()
    const error = reason instanceof RinglogError ? reason : new StorageOfflineError(`partition worker ${this.index} crashed: ${reason.message}`)
    const calls = this.pending.takeAll()
    this.queue.length = 0
    for (const call of calls) call.reject(error)
    if (!this.stopping) this.onDeath(this, error)
  }

  /** Marks the coming exit as expected (call before sending the shutdown request). */
  expectExit(): void {
    this.stopping = true
  }

  /** Resolves with the exit code once the thread has ended. */
  waitForExit(): Promise<number> {
    // The thread is unref'd while idle; whoever waits for its end keeps the process up meanwhile.
    this.worker.ref()
    return this.exited
  }

  /** Kills the thread (used after a failed shutdown, and by tests to simulate a crash). */
  async terminate(expected: boolean): Promise<void> {
    if (expected) this.stopping = true
    await this.worker.terminate()
    await this.exited
  }

  /** Number of calls waiting for a reply. */
  get pendingCalls(): number {
    return this.pending.size
  }

  /** How full both rings are now, and how often a write found the request ring full (metrics). */
  get rings(): WorkerRingStats {
    return {
      worker: this.index,
      requestUsedBytes: this.requests.usedBytes, requestCapacityBytes: this.requests.capacity,
      replyUsedBytes: this.replies.usedBytes, replyCapacityBytes: this.replies.capacity,
      queuedWrites: this.queue.length, fullRingWrites: this.fullRingWrites,
    }
  }
}
