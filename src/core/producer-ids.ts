/**
 * Producer ids for idempotent producers (InitProducerId). Ids are handed out from blocks: the
 * end of the current block is persisted in `<meta>/producer-ids.json` *before* any id of the
 * block is used, so a restart (clean or not) starts past every id ever handed out and never
 * reuses one; at most one block of ids is skipped per restart. Kafka's controller does the
 * same with blocks of 1000 (AllocateProducerIds).
 *
 * The file is JSON in a CRC-32C envelope (storage/checksummed-file.ts). A damaged one is
 * renamed aside and ids continue from `damagedFileFloor`: the current time in milliseconds
 * times 1000. That is past every id an earlier run could have handed out unless it averaged
 * more than one InitProducerId per microsecond (or one restart per millisecond) since the
 * previous such jump, and it stays below 2^53 (JavaScript's exact integers, well inside
 * Kafka's int64 ids) until the year 2255. It assumes the clock did not go back.
 */
import { Buffer } from 'node:buffer'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { hasEnvelope, openPayload, writeChecksummedFileSync } from '../storage/checksummed-file.js'
import { DamagedFileError, quarantineFile } from '../storage/damaged-file.js'
import { mkdirDurable } from '../storage/durable-dirs.js'
import { PRODUCER_IDS_FILE } from '../storage/file-names.js'
import { nodeStorageFs } from '../storage/storage-fs.js'

export const PRODUCER_ID_BLOCK_SIZE = 1000
/** Version 1: the envelope around the JSON (version 0 was bare JSON). */
const PRODUCER_IDS_VERSION = 1

/** Where ids continue after the file was found damaged (see the header comment). */
export function damagedFileFloor(nowMs: number = Date.now()): number {
  return Math.floor(nowMs) * 1000
}

/** reservedUpTo from the file's bytes; DamagedFileError if they do not check. */
function parseSaved(file: string, data: Buffer): number {
  const json = hasEnvelope(data) ? openPayload(file, data, [PRODUCER_IDS_VERSION]).payload : data
  let saved: Partial<SavedState>
  try {
    saved = JSON.parse(json.toString('utf8')) as Partial<SavedState>
  } catch {
    throw new DamagedFileError(file, 'not JSON')
  }
  if (typeof saved !== 'object' || saved === null || typeof saved.reservedUpTo !== 'number' || !Number.isSafeInteger(saved.reservedUpTo) || saved.reservedUpTo < 0) {
    throw new DamagedFileError(file, `reservedUpTo is ${String(saved?.reservedUpTo)}`)
  }
  return saved.reservedUpTo
}

interface SavedState {
  /** Every id below this may have been handed out. */
  reservedUpTo: number
}

export class ProducerIdAllocator {
  private next: number
  private reservedUpTo: number

  private constructor(private readonly file: string, reservedUpTo: number, private readonly blockSize: number) {
    this.next = reservedUpTo
    this.reservedUpTo = reservedUpTo
  }

  /** Opens (or starts) the allocator whose state lives in `metaDir`. */
  static open(metaDir: string, blockSize = PRODUCER_ID_BLOCK_SIZE): ProducerIdAllocator {
    if (!Number.isInteger(blockSize) || blockSize < 1) throw new RangeError(`blockSize must be a positive integer, got ${blockSize}`)
    mkdirDurable(nodeStorageFs, metaDir)
    const file = join(metaDir, PRODUCER_IDS_FILE)
    let reservedUpTo = 0
    if (existsSync(file)) {
      try {
        reservedUpTo = parseSaved(file, readFileSync(file))
      } catch (error) {
        if (!(error instanceof DamagedFileError)) throw error
        reservedUpTo = damagedFileFloor()
        quarantineFile(file, error.reason, `producer ids continue from ${reservedUpTo} (milliseconds since 1970 x 1000, past any id handed out before)`)
      }
    }
    return new ProducerIdAllocator(file, reservedUpTo, blockSize)
  }

  /** A producer id never handed out before, by this broker or any earlier run on this data dir. */
  allocate(): number {
    if (this.next >= this.reservedUpTo) {
      const reservedUpTo = this.next + this.blockSize
      writeChecksummedFileSync(this.file, PRODUCER_IDS_VERSION, Buffer.from(JSON.stringify({ reservedUpTo } satisfies SavedState)))
      this.reservedUpTo = reservedUpTo
    }
    return this.next++
  }
}
