/**
 * Group commit. Appends write with writeSync and mark their file dirty; one fdatasync job (on
 * the libuv threadpool, so intake never stops) covers everything written before it started,
 * and when it completes the next one starts if more was written meanwhile. Under 'always' a
 * job starts as soon as the current burst of appends ends (a microtask), under { intervalMs }
 * at most that long after the first unflushed write, under 'never' only when asked (roll,
 * close, flush()). An fdatasync error fails the committer for good: the partition goes offline
 * rather than acknowledge writes the disk may have lost (fsyncgate).
 */
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks'
import { StorageOfflineError } from '../errors.js'
import type { FlushPolicy } from './log-config.js'
import type { StorageFs } from './storage-fs.js'

export interface GroupCommitHooks {
  /** Everything below `offset` is now on disk. */
  onFlushed(offset: number): void
  /** An fdatasync failed; the committer accepts no more work. */
  onFailure(error: StorageOfflineError): void
}

interface OffsetWaiter { offset: number; resolve: () => void; reject: (error: Error) => void }
interface JobWaiter { job: number; resolve: () => void; reject: (error: Error) => void }
interface Job { number: number; target: number; fds: Set<number>; startedMs: number }

/** How long group commits took, start of a job's fdatasyncs to the last one's completion. */
export interface SyncLatency {
  count: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
  maxMs: number
}

export class GroupCommit {
  private readonly dirty = new Set<number>()
  private readonly closeWhenSynced = new Map<number, () => void>()
  private offsetWaiters: OffsetWaiter[] = []
  private jobWaiters: JobWaiter[] = []
  private appendedEnd: number
  private flushedEnd: number
  private current: Job | undefined
  private jobsStarted = 0
  private startQueued = false
  private timer: NodeJS.Timeout | undefined
  private failure: StorageOfflineError | undefined
  /** Durations of completed jobs, in microseconds: what an acknowledgement under 'always' waits for. */
  private readonly durations: RecordableHistogram = createHistogram()
  /** Jobs at least this long are reported (the log's 'slow fdatasync' warning). */
  slowSync: { thresholdMs: number; report(durationMs: number, flushedTo: number): void } | undefined

  constructor(
    private readonly fsi: StorageFs,
    private readonly policy: FlushPolicy,
    startOffset: number,
    private readonly hooks: GroupCommitHooks,
  ) {
    this.appendedEnd = startOffset
    this.flushedEnd = startOffset
  }

  /** End offset (exclusive) of what an fdatasync has covered. */
  get flushedOffset(): number { return this.flushedEnd }
  get failed(): StorageOfflineError | undefined { return this.failure }
  /** An fdatasync job is running (or about to start): bytes written now ride the next one. */
  get busy(): boolean { return this.current !== undefined || this.startQueued }

  /** Called after each append: `fd` holds unflushed bytes up to `endOffset`. */
  noteWrite(fd: number, endOffset: number): void {
    this.dirty.add(fd)
    if (endOffset > this.appendedEnd) this.appendedEnd = endOffset
    if (this.policy === 'always') this.queueStart()
    else if (this.policy !== 'never') this.armTimer(this.policy.intervalMs)
  }

  /** Marks a file (index, directory) to be flushed by the next job, then closed if `close` is given. */
  syncFile(fd: number, close?: () => void): void {
    this.dirty.add(fd)
    if (close) this.closeWhenSynced.set(fd, close)
  }

  /** Resolves once everything below `offset` is flushed (never starts a flush by itself). */
  whenFlushed(offset: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure)
    if (offset <= this.flushedEnd) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const waiters = this.offsetWaiters
      let at = waiters.length
      while (at > 0 && waiters[at - 1].offset > offset) at--
      waiters.splice(at, 0, { offset, resolve, reject })
    })
  }

  /** Flushes everything written so far, whatever the policy. */
  flushAll(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure)
    if (!this.current && this.dirty.size === 0 && this.appendedEnd <= this.flushedEnd) return Promise.resolve()
    return new Promise((resolve, reject) => {
      this.jobWaiters.push({ job: this.jobsStarted + 1, resolve, reject })
      this.queueStart()
    })
  }

  /** Closes `fd` now, or once a running job no longer uses it; a file about to be deleted needs no flush. */
  release(fd: number, close: () => void): void {
    this.dirty.delete(fd)
    if (this.current?.fds.has(fd)) this.closeWhenSynced.set(fd, close)
    else close()
  }

  /** The log was cut back to `offset`: nothing at or past it may count as flushed by a running job. */
  truncate(offset: number): void {
    this.appendedEnd = Math.min(this.appendedEnd, offset)
    this.flushedEnd = Math.min(this.flushedEnd, offset)
    if (this.current) this.current.target = Math.min(this.current.target, offset)
  }

  /** Stops timers; pending waiters are rejected with `error`, files waiting to close are closed. */
  stop(error: Error): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.rejectAll(error)
    for (const [fd, close] of this.closeWhenSynced) if (!this.current?.fds.has(fd)) { this.closeWhenSynced.delete(fd); close() }
  }

  private armTimer(ms: number): void {
    if (this.timer || this.current || this.failure) return
    this.timer = setTimeout(() => { this.timer = undefined; this.start() }, ms)
  }

  private queueStart(): void {
    if (this.startQueued || this.current || this.failure) return
    this.startQueued = true
    queueMicrotask(() => { this.startQueued = false; this.start() })
  }

  private start(): void {
    if (this.current || this.failure) return
    if (this.dirty.size === 0 && this.jobWaiters.length === 0 && this.appendedEnd <= this.flushedEnd) return
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined }
    const job: Job = { number: ++this.jobsStarted, target: this.appendedEnd, fds: new Set(this.dirty), startedMs: performance.now() }
    this.dirty.clear()
    this.current = job
    if (job.fds.size === 0) { queueMicrotask(() => this.finish(job, null)); return }
    let remaining = job.fds.size
    let firstError: NodeJS.ErrnoException | null = null
    for (const fd of job.fds) {
      this.fsi.fdatasync(fd, (error) => {
        if (error && !firstError) firstError = error
        if (--remaining === 0) this.finish(job, firstError)
      })
    }
  }

  /** Percentiles of the jobs completed so far (zeros before the first). */
  syncLatency(): SyncLatency {
    const h = this.durations
    if (h.count === 0) return { count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0 }
    return { count: h.count, p50Ms: h.percentile(50) / 1000, p90Ms: h.percentile(90) / 1000, p99Ms: h.percentile(99) / 1000, maxMs: h.max / 1000 }
  }

  private finish(job: Job, error: NodeJS.ErrnoException | null): void {
    this.current = undefined
    if (job.fds.size > 0) {
      const ms = performance.now() - job.startedMs
      this.durations.record(Math.max(1, Math.round(ms * 1000)))
      if (this.slowSync && ms >= this.slowSync.thresholdMs && !error) this.slowSync.report(ms, job.target)
    }
    if (error) {
      this.failure = new StorageOfflineError(`fdatasync failed (${error.code ?? error.message}); the partition is offline`)
      this.stop(this.failure)
      this.hooks.onFailure(this.failure)
      return
    }
    for (const [fd, close] of this.closeWhenSynced) {
      if (!this.dirty.has(fd)) { this.closeWhenSynced.delete(fd); close() }
    }
    const advanced = job.target > this.flushedEnd
    if (advanced) this.flushedEnd = job.target
    let settled = 0
    while (settled < this.offsetWaiters.length && this.offsetWaiters[settled].offset <= this.flushedEnd) settled++
    const ready = this.offsetWaiters.splice(0, settled)
    const done = this.jobWaiters.filter((w) => w.job <= job.number)
    this.jobWaiters = this.jobWaiters.filter((w) => w.job > job.number)
    if (advanced) this.hooks.onFlushed(this.flushedEnd)
    for (const w of ready) w.resolve()
    for (const w of done) w.resolve()
    // More was written while this job ran: under 'always' (or when someone waits) go again now.
    if (this.jobWaiters.length > 0 || (this.policy === 'always' && (this.dirty.size > 0 || this.appendedEnd > this.flushedEnd))) this.queueStart()
    else if (typeof this.policy === 'object' && this.dirty.size > 0) this.armTimer(this.policy.intervalMs)
  }

  private rejectAll(error: Error): void {
    const waiters = [...this.offsetWaiters, ...this.jobWaiters]
    this.offsetWaiters = []
    this.jobWaiters = []
    for (const w of waiters) w.reject(error)
  }
}
