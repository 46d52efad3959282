/**
 * What a crash in the middle of a log-cleaner swap leaves, finished on open the way Kafka
 * finishes it. The cleaner writes a segment's replacement as `<base>.log.cleaned` (plus its
 * `.index.cleaned` and `.timeindex.cleaned`), fsyncs all three, renames the indexes and then
 * the log to `.swap` and fsyncs the directory; only then are the originals retired and the
 * `.swap` files renamed over their names. So:
 * - a `.cleaned` file is an unfinished replacement, and the original is intact: delete it;
 * - a `<base>.log.swap` is a finished, flushed replacement: it takes the place of `<base>.log`
 *   (the original, or its retired `.deleted` copy, goes) with whichever index `.swap` files
 *   exist; an index without one is rebuilt from the log by the normal open.
 */
import { join } from 'node:path'
import { CLEANED_SUFFIX, INDEX_SUFFIX, LOG_SUFFIX, offsetFileStem, parseSegmentFileName, SWAP_SUFFIX, TIME_INDEX_SUFFIX } from './file-names.js'
import { errnoCode, type StorageFs } from './storage-fs.js'

export interface CleanerLeftovers {
  /** `.cleaned` files removed. */
  removedCleaned: number
  /** Segments whose `.swap` replacement was completed. */
  completedSwaps: number
}

function unlinkIfThere(fsi: StorageFs, path: string): void {
  try {
    fsi.unlinkSync(path)
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error
  }
}

/** Runs before the segments are listed: afterwards no `.cleaned` or `.swap` file is left in `dir`. */
export function finishCleanerLeftovers(fsi: StorageFs, dir: string): CleanerLeftovers {
  const result: CleanerLeftovers = { removedCleaned: 0, completedSwaps: 0 }
  const names = fsi.readdirSync(dir)
  const swappedLogs = new Set<number>()
  for (const name of names) {
    if (name.endsWith(CLEANED_SUFFIX)) {
      unlinkIfThere(fsi, join(dir, name))
      result.removedCleaned++
      continue
    }
    if (!name.endsWith(SWAP_SUFFIX)) continue
    const base = parseSegmentFileName(name.slice(0, -SWAP_SUFFIX.length), LOG_SUFFIX)
    if (base !== undefined) swappedLogs.add(base)
  }
  for (const name of names) {
    if (!name.endsWith(SWAP_SUFFIX)) continue
    const target = name.slice(0, -SWAP_SUFFIX.length)
    const base = parseSegmentFileName(target, INDEX_SUFFIX) ?? parseSegmentFileName(target, TIME_INDEX_SUFFIX)
    if (base === undefined) continue
    // An index `.swap` without its log `.swap` was renamed before the log's rename happened: the
    // replacement never became complete, so the original (still under its name) stays.
    if (!swappedLogs.has(base)) unlinkIfThere(fsi, join(dir, name))
  }
  for (const base of [...swappedLogs].sort((a, b) => a - b)) {
    const stem = offsetFileStem(base)
    for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
      const swap = join(dir, stem + suffix + SWAP_SUFFIX)
      if (fsi.existsSync(swap)) fsi.renameSync(swap, join(dir, stem + suffix))
      // The original index would describe the old file: without a replacement it is rebuilt.
      else unlinkIfThere(fsi, join(dir, stem + suffix))
    }
    fsi.renameSync(join(dir, stem + LOG_SUFFIX + SWAP_SUFFIX), join(dir, stem + LOG_SUFFIX))
    result.completedSwaps++
  }
  return result
}
