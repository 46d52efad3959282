/**
 * The leader-epoch cache of one partition and its `leader-epoch-checkpoint` file, as Kafka keeps
 * them (KIP-101/279): for each leader epoch that wrote to the log, the offset of its first batch.
 * A follower that changes leader asks the new leader for the end offset of its own latest epoch
 * (OffsetForLeaderEpoch) and truncates there, so a tail the new leader never had is removed.
 *
 * File format (Kafka's): a line `0` (version), a line with the entry count, then one
 * `epoch startOffset` line per entry, epochs and start offsets strictly increasing. Every change is
 * written at once and atomically (temp file, fsync, rename, directory fsync): epochs change
 * rarely (a leader election), so the cost is per election, not per append.
 */
import { Buffer } from 'node:buffer'
import { join } from 'node:path'
import { RinglogError } from '../errors.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { writeFileAtomicSync } from './atomic-file.js'
import { LEADER_EPOCH_CHECKPOINT, } from './file-names.js'
import { errnoCode, type StorageFs } from './storage-fs.js'

/** Kafka's "no epoch" / "no offset" answers (OffsetForLeaderEpoch's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET). */
export const UNDEFINED_EPOCH = -1
export const UNDEFINED_EPOCH_OFFSET = -1

export interface EpochEntry {
  epoch: number
  startOffset: number
}

/** OffsetForLeaderEpoch's answer: the largest epoch <= the requested one, and where it ended. */
export interface EpochEndOffset {
  leaderEpoch: number
  endOffset: number
}

const CHECKPOINT_VERSION = 0

/** Serialises entries in Kafka's checkpoint text format. */
export function encodeLeaderEpochCheckpoint(entries: readonly EpochEntry[]): Buffer {
  const lines = [String(CHECKPOINT_VERSION), String(entries.length), ...entries.map((e) => `${e.epoch} ${e.startOffset}`)]
  return Buffer.from(lines.join('\n') + '\n')
}

/** Parses a checkpoint; undefined when it is malformed or its entries are not strictly increasing. */
export function decodeLeaderEpochCheckpoint(text: string): EpochEntry[] | undefined {
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  if (lines.length < 2 || lines[0] !== String(CHECKPOINT_VERSION)) return undefined
  const count = Number(lines[1])
  if (!/^\d+$/.test(lines[1]) || count !== lines.length - 2) return undefined
  const entries: EpochEntry[] = []
  for (const line of lines.slice(2)) {
    const match = /^(\d+) (\d+)$/.exec(line)
    if (!match) return undefined
    const epoch = Number(match[1])
    const startOffset = Number(match[2])
    if (epoch > 0x7fffffff || !Number.isSafeInteger(startOffset)) return undefined
    const previous = entries[entries.length - 1]
    if (previous && (epoch <= previous.epoch || startOffset <= previous.startOffset)) return undefined
    entries.push({ epoch, startOffset })
  }
  return entries
}

export class LeaderEpochCache {
  private entries: EpochEntry[]

  private constructor(private readonly fsi: StorageFs, readonly path: string, entries: EpochEntry[]) {
    this.entries = entries
  }

  /**
   * Loads `dir`'s checkpoint. `intact` is false when the file is missing or damaged: the cache is
   * then empty and the caller rebuilds it from the log's batches (see rebuild).
   */
  static load(fsi: StorageFs, dir: string): { cache: LeaderEpochCache; intact: boolean } {
    const path = join(dir, LEADER_EPOCH_CHECKPOINT)
    let text: string | undefined
    try {
      text = fsi.readFileSync(path).toString('utf8')
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') throw error
    }
    const entries = text === undefined ? undefined : decodeLeaderEpochCheckpoint(text)
    return { cache: new LeaderEpochCache(fsi, path, entries ?? []), intact: entries !== undefined }
  }

  /** Entries oldest first (a copy). */
  get all(): EpochEntry[] { return this.entries.map((e) => ({ ...e })) }
  /** The newest epoch that wrote to the log, or UNDEFINED_EPOCH. */
  get latestEpoch(): number { return this.entries[this.entries.length - 1]?.epoch ?? UNDEFINED_EPOCH }
  get latestEntry(): EpochEntry | undefined { return this.entries[this.entries.length - 1] }

  /**
   * Records that `epoch` starts at `startOffset`. An epoch older than the latest is refused
   * (FENCED_LEADER_EPOCH); the latest epoch again keeps its first start offset. As in Kafka, a
   * newer epoch replaces trailing entries starting at or after its start (epochs that wrote
   * nothing). Returns whether anything changed (and was written).
   */
  assign(epoch: number, startOffset: number): boolean {
    const latest = this.latestEntry
    // Every leader append asks: the common answer (same epoch, later offset) comes first.
    if (latest && epoch === latest.epoch && startOffset >= latest.startOffset) return false
    if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0x7fffffff || !Number.isSafeInteger(startOffset) || startOffset < 0) {
      throw new RinglogError(ErrorCode.INVALID_REQUEST, `invalid leader epoch entry (epoch ${epoch}, start offset ${startOffset})`)
    }
    if (latest && epoch < latest.epoch) {
      throw new RinglogError(ErrorCode.FENCED_LEADER_EPOCH, `leader epoch ${epoch} is older than the log's latest epoch ${latest.epoch}`)
    }
    const kept = this.entries.filter((e) => e.epoch < epoch && e.startOffset < startOffset)
    kept.push({ epoch, startOffset })
    this.replace(kept)
    return true
  }

  /**
   * Kafka's endOffsetFor: for the latest epoch, the log end offset; for an older known epoch,
   * the start offset of the first epoch after it; for an unknown epoch between two known ones,
   * the largest known epoch below it with that same end; for an epoch below every known one,
   * the requested epoch with the first entry's start offset; UNDEFINED for UNDEFINED_EPOCH, an
   * empty cache, or an epoch above the latest.
   */
  endOffsetFor(requestedEpoch: number, logEndOffset: number): EpochEndOffset {
    const undefinedAnswer = { leaderEpoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET }
    const latest = this.latestEntry
    if (requestedEpoch === UNDEFINED_EPOCH || !latest) return undefinedAnswer
    if (requestedEpoch === latest.epoch) return { leaderEpoch: requestedEpoch, endOffset: logEndOffset }
    const higherIndex = this.entries.findIndex((e) => e.epoch > requestedEpoch)
    if (higherIndex < 0) return undefinedAnswer
    const higher = this.entries[higherIndex]
    if (higherIndex === 0) return { leaderEpoch: requestedEpoch, endOffset: higher.startOffset }
    return { leaderEpoch: this.entries[higherIndex - 1].epoch, endOffset: higher.startOffset }
  }

  /** The epoch that wrote `offset`, or UNDEFINED_EPOCH if it is before every entry. */
  epochForOffset(offset: number): number {
    let found = UNDEFINED_EPOCH
    for (const entry of this.entries) {
      if (entry.startOffset > offset) break
      found = entry.epoch
    }
    return found
  }

  /** Removes entries starting at or after `endOffset` (the log was cut there). Returns whether anything changed. */
  truncateFromEnd(endOffset: number): boolean {
    const latest = this.latestEntry
    if (endOffset < 0 || !latest || latest.startOffset < endOffset) return false
    this.replace(this.entries.filter((e) => e.startOffset < endOffset))
    return true
  }

  /**
   * The log now starts at `startOffset`: entries starting at or before it collapse into one, the
   * epoch that covers it, moved to start there (Kafka's truncateFromStart). Returns whether anything changed.
   */
  truncateFromStart(startOffset: number): boolean {
    let removed = 0
    while (removed < this.entries.length && this.entries[removed].startOffset <= startOffset) removed++
    if (removed === 0) return false
    const covering = this.entries[removed - 1]
    if (removed === 1 && covering.startOffset === startOffset) return false
    this.replace([{ epoch: covering.epoch, startOffset }, ...this.entries.slice(removed)])
    return true
  }

  /** Replaces everything with entries rebuilt from the log (oldest first, strictly increasing) and writes them. */
  rebuild(entries: readonly EpochEntry[]): void {
    this.replace(entries.map((e) => ({ ...e })))
  }

  /** Writes the current entries even if nothing changed (a damaged file is replaced). */
  flush(): void {
    writeLeaderEpochCheckpoint(this.fsi, this.path, this.entries)
  }

  /** File first: if the write fails, memory still matches what is on disk. */
  private replace(entries: EpochEntry[]): void {
    writeLeaderEpochCheckpoint(this.fsi, this.path, entries)
    this.entries = entries
  }
}

/** Through the one atomic-replace helper: a crash leaves the old or the new file, never a torn one. */
export function writeLeaderEpochCheckpoint(fsi: StorageFs, path: string, entries: readonly EpochEntry[]): void {
  writeFileAtomicSync(path, encodeLeaderEpochCheckpoint(entries), fsi)
}
