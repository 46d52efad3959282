/**
 * Offset checkpoint files in Kafka's text format (version line, entry count, then
 * `topic partition offset` lines), as used for the recovery point and the log start offset.
 * Written atomically (atomic-file.ts), so a crash leaves either the old or the new
 * checkpoint, never a torn one.
 */
import { Buffer } from 'node:buffer'
import { writeFileAtomicSync } from './atomic-file.js'
import { errnoCode, type StorageFs } from './storage-fs.js'

export interface CheckpointEntry { topic: string; partition: number; offset: number }

const CHECKPOINT_VERSION = 0

export function writeOffsetCheckpoint(fsi: StorageFs, path: string, entries: readonly CheckpointEntry[]): void {
  const lines = [String(CHECKPOINT_VERSION), String(entries.length)]
  for (const e of entries) {
    if (/\s/.test(e.topic)) throw new RangeError(`topic name ${JSON.stringify(e.topic)} cannot go in a checkpoint`)
    lines.push(`${e.topic} ${e.partition} ${e.offset}`)
  }
  writeFileAtomicSync(path, Buffer.from(lines.join('\n') + '\n'), fsi)
}

/**
 * Reads a checkpoint; undefined if it is missing or malformed (callers then assume nothing
 * was checkpointed, which only costs a longer recovery).
 */
export function readOffsetCheckpoint(fsi: StorageFs, path: string): CheckpointEntry[] | undefined {
  let text: string
  try {
    text = fsi.readFileSync(path).toString('utf8')
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined
    throw error
  }
  const lines = text.split('\n').filter((l) => l.length > 0)
  if (lines.length < 2 || lines[0] !== String(CHECKPOINT_VERSION)) return undefined
  const count = Number(lines[1])
  if (!Number.isSafeInteger(count) || count !== lines.length - 2) return undefined
  const entries: CheckpointEntry[] = []
  for (const line of lines.slice(2)) {
    const parts = line.split(' ')
    if (parts.length !== 3) return undefined
    const partition = Number(parts[1])
    const offset = Number(parts[2])
    if (!Number.isSafeInteger(partition) || !Number.isSafeInteger(offset) || offset < 0) return undefined
    entries.push({ topic: parts[0], partition, offset })
  }
  return entries
}
