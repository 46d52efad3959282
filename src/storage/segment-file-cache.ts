/**
 * SegmentFileCache: a bound on the segment log files a thread keeps open (issue 18 item 5).
 * Without it every segment held a descriptor for its whole life, so a topic of many small
 * segments exhausted the process's open-files limit. Segments open their file lazily, report
 * each use here, and a least-recently-used segment past the capacity has its file closed; its
 * next use opens it again.
 *
 * A pinned segment is never closed by the cache: the active segment (appends, group commit),
 * a rolled segment until the group commit has flushed it, and a segment while one read or
 * truncation runs on it. Pinned segments still count as open, so the total can exceed the
 * capacity only by the number pinned.
 *
 * One cache per thread (`threadSegmentFileCache`): every partition a worker owns shares it, and
 * only that thread touches it, so nothing here locks.
 */

/** What the cache needs from a segment: to close its file when evicted. */
export interface CachedSegmentFile {
  /** Closes the file; the segment opens it again on its next use. */
  evictFile(): void
}

/** Open segment files kept per thread by default (Kafka keeps all open; RocksDB's max_open_files is the analogue). */
export const DEFAULT_SEGMENT_FILE_CACHE_CAPACITY = 256

export interface SegmentFileCacheStats {
  capacity: number
  open: number
  pinned: number
  evictions: number
  reopens: number
}

export class SegmentFileCache {
  /** Open, unpinned files, least recently used first (a Map keeps insertion order). */
  private readonly unpinned = new Map<CachedSegmentFile, true>()
  private openCount = 0
  private evictions = 0
  private reopens = 0
  private limit: number

  constructor(capacity = DEFAULT_SEGMENT_FILE_CACHE_CAPACITY) {
    this.limit = checkCapacity(capacity)
  }

  get capacity(): number { return this.limit }
  set capacity(value: number) {
    this.limit = checkCapacity(value)
    this.evict()
  }

  stats(): SegmentFileCacheStats {
    return { capacity: this.limit, open: this.openCount, pinned: this.openCount - this.unpinned.size, evictions: this.evictions, reopens: this.reopens }
  }

  /** `file` opened its descriptor (`reopened`: after an eviction); may evict others. */
  opened(file: CachedSegmentFile, pinned: boolean, reopened = false): void {
    this.openCount++
    if (reopened) this.reopens++
    if (!pinned) this.unpinned.set(file, true)
    this.evict(file)
  }

  /** `file` was used: it becomes the most recently used. */
  used(file: CachedSegmentFile): void {
    if (!this.unpinned.delete(file)) return
    this.unpinned.set(file, true)
  }

  /** `file` (open) may not be evicted until `unpinned`. */
  pinned(file: CachedSegmentFile): void {
    this.unpinned.delete(file)
  }

  /** `file` (open) may be evicted again. */
  unpinnedNow(file: CachedSegmentFile): void {
    this.unpinned.set(file, true)
    this.evict(file)
  }

  /** `file` closed its descriptor itself (close, destroy). */
  closed(file: CachedSegmentFile): void {
    this.openCount--
    this.unpinned.delete(file)
  }

  /** Closes least recently used unpinned files while more than the capacity are open (never `keep`). */
  private evict(keep?: CachedSegmentFile): void {
    for (const victim of this.unpinned.keys()) {
      if (this.openCount <= this.limit) return
      if (victim === keep) continue
      this.unpinned.delete(victim)
      this.openCount--
      this.evictions++
      victim.evictFile()
    }
  }
}

function checkCapacity(value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`segment file cache capacity must be a positive integer, got ${value}`)
  return value
}

let threadCache: SegmentFileCache | undefined

/** The cache every log on this thread shares unless given its own (PartitionLogOptions.segmentFiles). */
export function threadSegmentFileCache(): SegmentFileCache {
  threadCache ??= new SegmentFileCache()
  return threadCache
}
