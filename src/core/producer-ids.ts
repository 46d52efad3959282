/**
 * Producer ids for idempotent producers (InitProducerId). Ids are handed out from blocks: the
 * end of the current block is persisted in `<meta>/producer-ids.json` *before* any id of the
 * block is used, so a restart (clean or not) starts past every id ever handed out and never
 * reuses one; at most one block of ids is skipped per restart. Kafka's controller does the
 * same with blocks of 1000 (AllocateProducerIds).
 */
import { Buffer } from 'node:buffer'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileAtomicSync } from '../storage/atomic-file.js'
import { mkdirDurable } from '../storage/durable-dirs.js'
import { PRODUCER_IDS_FILE } from '../storage/file-names.js'
import { nodeStorageFs } from '../storage/storage-fs.js'

export const PRODUCER_ID_BLOCK_SIZE = 1000

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
      const saved = JSON.parse(readFileSync(file, 'utf8')) as Partial<SavedState>
      if (typeof saved.reservedUpTo !== 'number' || !Number.isSafeInteger(saved.reservedUpTo) || saved.reservedUpTo < 0) {
        throw new Error(`${file} is damaged: reservedUpTo is ${String(saved.reservedUpTo)}`)
      }
      reservedUpTo = saved.reservedUpTo
    }
    return new ProducerIdAllocator(file, reservedUpTo, blockSize)
  }

  /** A producer id never handed out before, by this broker or any earlier run on this data dir. */
  allocate(): number {
    if (this.next >= this.reservedUpTo) {
      const reservedUpTo = this.next + this.blockSize
      writeFileAtomicSync(this.file, Buffer.from(JSON.stringify({ reservedUpTo } satisfies SavedState)))
      this.reservedUpTo = reservedUpTo
    }
    return this.next++
  }
}
