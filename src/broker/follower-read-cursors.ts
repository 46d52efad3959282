/**
 * Where a follower's next Fetch continues, answered on the main thread without asking the
 * partition's worker. A follower catching up fetches offset after offset, each from where the
 * previous answer's last whole batch ended; asking the worker to locate every range cost a
 * thread round trip (about 1 ms under load) per Fetch on the leader. So, per (partition,
 * follower), this remembers the file (a descriptor of its own) and the byte position the last
 * answer ended at, and serves the next fetch from that offset by walking the batch headers
 * there itself, up to the fetch's byte budget and the leader's log end.
 *
 * The memory is trusted only while nothing can have moved those bytes: the partition's layout
 * generation (shared-state.ts, bumped by the worker on truncation, retention, DeleteRecords,
 * cleaning, damage found or repaired, close) and the leader epoch the fetch carries are both
 * unchanged since the worker answered, and each header walked must carry exactly the offset
 * expected there. Anything else (a segment's end, a compacted log's gap, a different offset)
 * falls back to the worker, whose answer is remembered for the next fetch.
 */
import { closeSync, readSync } from 'node:fs'
import nativeBinding from '../../native-bindings/index.js'
import type { LogEngine, ReadOptions, ReadSlice } from '../engine/log-engine.js'

/** RecordBatch v2: baseOffset (int64) at 0, batchLength (int32) at 8, magic at 16, lastOffsetDelta (int32) at 23. */
const LENGTH_AT = 8
const MAGIC_AT = 16
const LAST_OFFSET_DELTA_AT = 23
const HEADER_READ = 27
const LOG_OVERHEAD = 12
const SMALLEST_BATCH = 61
/** Cursors not used for this long are closed (their descriptors may hold deleted files). */
const IDLE_MS = 10_000
const MAX_CURSORS = 256

interface Cursor {
  fd: number
  leaderEpoch: number
  generation: number
  /** Byte position in the file where the batch holding `offset` starts. */
  position: number
  offset: number
  usedAt: number
}

/** A located range: the descriptor is the caller's to close (releaseFileSource). */
export interface FollowerRange {
  fd: number
  position: number
  length: number
  nextOffset: number
}

export interface FollowerFetch {
  topic: string
  partition: number
  replicaId: number
  /** The fetch's currentLeaderEpoch, already checked against the leader's (-1: unchecked, no cursor). */
  leaderEpoch: number
  offset: number
  maxBytes: number
  /** The leader's log end when the fetch was checked: nothing at or past it is served. */
  readEnd: number
}

export class FollowerReadCursors {
  private readonly cursors = new Map<string, Cursor>()
  private readonly header = Buffer.alloc(HEADER_READ)
  private sweeper: NodeJS.Timeout | undefined
  /** Fetches answered here / sent to the worker (tests and benches read them). */
  readonly counters = { served: 0, located: 0 }

  constructor(private readonly engine: LogEngine, private readonly dup: ((fd: number) => number) | null = nativeBinding?.dup ?? null) {}

  /** The range for `fetch` from the remembered position, or undefined (ask the worker: `read`). */
  serve(fetch: FollowerFetch): FollowerRange | undefined {
    const k = cursorKey(fetch)
    const cursor = this.cursors.get(k)
    if (!cursor || this.dup === null) return undefined
    const generation = this.engine.layoutGeneration?.(fetch.topic, fetch.partition)
    if (cursor.offset !== fetch.offset || cursor.leaderEpoch !== fetch.leaderEpoch || fetch.leaderEpoch < 0 || generation !== cursor.generation) {
      this.drop(k, cursor)
      return undefined
    }
    const walked = this.walk(cursor.fd, cursor.position, fetch.offset, fetch.maxBytes, fetch.readEnd)
    if (!walked) return undefined
    const fd = this.dup(cursor.fd)
    cursor.position += walked.length
    cursor.offset = walked.nextOffset
    cursor.usedAt = Date.now()
    this.counters.served++
    return { fd, position: cursor.position - walked.length, length: walked.length, nextOffset: walked.nextOffset }
  }

  /**
   * The worker's read for `fetch` (holding the file), remembered for the next fetch when the
   * layout generation did not change around it and the range ended at a known offset.
   */
  async read(fetch: FollowerFetch, options: ReadOptions): Promise<ReadSlice> {
    const before = this.engine.layoutGeneration?.(fetch.topic, fetch.partition)
    const slice = await this.engine.read(fetch.topic, fetch.partition, fetch.offset, fetch.maxBytes, options)
    this.counters.located++
    const s = slice.segment
    const after = this.engine.layoutGeneration?.(fetch.topic, fetch.partition)
    const k = cursorKey(fetch)
    const old = this.cursors.get(k)
    if (old) this.drop(k, old)
    if (s && s.heldFd !== undefined && s.length > 0 && s.nextOffset !== undefined && this.dup !== null &&
      before !== undefined && before === after && fetch.leaderEpoch >= 0) {
      this.remember(k, { fd: this.dup(s.heldFd), leaderEpoch: fetch.leaderEpoch, generation: before, position: s.position + s.length, offset: s.nextOffset, usedAt: Date.now() })
    }
    return slice
  }

  /** Closes every cursor's descriptor. */
  close(): void {
    for (const [k, cursor] of this.cursors) this.drop(k, cursor)
  }

  get size(): number { return this.cursors.size }

  /**
   * Whole batches from `position`, the first holding exactly `offset`, each following the last
   * without a gap, all below `readEnd`, the first always (KIP-74) and the rest within `maxBytes`.
   */
  private walk(fd: number, position: number, offset: number, maxBytes: number, readEnd: number): { length: number; nextOffset: number } | undefined {
    let length = 0
    let expected = offset
    for (;;) {
      const n = readSync(fd, this.header, 0, HEADER_READ, position + length)
      if (n < HEADER_READ || this.header[MAGIC_AT] !== 2) break
      const baseOffset = Number(this.header.readBigInt64BE(0))
      const size = LOG_OVERHEAD + this.header.readInt32BE(LENGTH_AT)
      const end = baseOffset + this.header.readInt32BE(LAST_OFFSET_DELTA_AT) + 1
      if (baseOffset !== expected || size < SMALLEST_BATCH || end <= baseOffset || end > readEnd) break
      if (length > 0 && length + size > maxBytes) break
      length += size
      expected = end
      if (length >= maxBytes) break
    }
    return length > 0 ? { length, nextOffset: expected } : undefined
  }

  private remember(k: string, cursor: Cursor): void {
    if (this.cursors.size >= MAX_CURSORS) {
      const [oldestKey, oldest] = this.cursors.entries().next().value as [string, Cursor]
      this.drop(oldestKey, oldest)
    }
    this.cursors.set(k, cursor)
    this.sweeper ??= setInterval(() => this.sweep(), IDLE_MS).unref()
  }

  private sweep(): void {
    const now = Date.now()
    for (const [k, cursor] of this.cursors) if (now - cursor.usedAt >= IDLE_MS) this.drop(k, cursor)
  }

  private drop(k: string, cursor: Cursor): void {
    this.cursors.delete(k)
    try { closeSync(cursor.fd) } catch { /* already closed: nothing held */ }
    if (this.cursors.size === 0 && this.sweeper) {
      clearInterval(this.sweeper)
      this.sweeper = undefined
    }
  }
}

function cursorKey(fetch: FollowerFetch): string {
  return `${fetch.topic}\0${fetch.partition}\0${fetch.replicaId}`
}

const byEngine = new WeakMap<LogEngine, FollowerReadCursors>()

/** The broker's cursors (one set per engine). */
export function followerReadCursors(engine: LogEngine): FollowerReadCursors {
  let cursors = byEngine.get(engine)
  if (!cursors) {
    cursors = new FollowerReadCursors(engine)
    byEngine.set(engine, cursors)
  }
  return cursors
}
