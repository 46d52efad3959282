/**
 * Offset checkpoint files in Kafka's text format (version line, entry count, then
 * `topic partition offset` lines), as used for the recovery point and the log start offset,
 * followed by one line Kafka does not write: `crc32c <8 hex digits>` over everything before
 * it, so that a flipped digit (which still parses) is caught too. Files without that line
 * (written by Kafka or an older ringlog) are read by the format checks alone.
 * Written atomically (atomic-file.ts), so a crash leaves either the old or the new
 * checkpoint, never a torn one.
 */
import { Buffer } from 'node:buffer'
import { crc32c } from '../protocol/crc32c.js'
import { writeFileAtomicSync } from './atomic-file.js'
import { quarantineFile } from './damaged-file.js'
import { errnoCode, type StorageFs } from './storage-fs.js'

export interface CheckpointEntry { topic: string; partition: number; offset: number }

const CHECKPOINT_VERSION = 0
const CRC_LINE = /^crc32c ([0-9a-f]{8})$/
const DECIMAL = /^(0|[1-9]\d{0,15})$/
const TOPIC = /^[a-zA-Z0-9._-]{1,249}$/

export function writeOffsetCheckpoint(fsi: StorageFs, path: string, entries: readonly CheckpointEntry[]): void {
  const lines = [String(CHECKPOINT_VERSION), String(entries.length)]
  for (const e of entries) {
    if (/\s/.test(e.topic)) throw new RangeError(`topic name ${JSON.stringify(e.topic)} cannot go in a checkpoint`)
    lines.push(`${e.topic} ${e.partition} ${e.offset}`)
  }
  const body = lines.join('\n') + '\n'
  writeFileAtomicSync(path, Buffer.from(`${body}crc32c ${crc32c(Buffer.from(body)).toString(16).padStart(8, '0')}\n`), fsi)
}

/** The entries, or why the text is not a well-formed checkpoint. */
export function parseOffsetCheckpoint(text: string): CheckpointEntry[] | string {
  if (!text.endsWith('\n')) return 'does not end with a newline (truncated or garbage appended)'
  const lines = text.slice(0, -1).split('\n')
  const last = CRC_LINE.exec(lines[lines.length - 1])
  if (last) {
    lines.pop()
    const body = lines.join('\n') + '\n'
    if (crc32c(Buffer.from(body)).toString(16).padStart(8, '0') !== last[1]) return 'crc32c mismatch'
  }
  if (lines.length < 2 || lines[0] !== String(CHECKPOINT_VERSION)) return `version line is not ${CHECKPOINT_VERSION}`
  if (!DECIMAL.test(lines[1]) || Number(lines[1]) !== lines.length - 2) return `entry count ${JSON.stringify(lines[1])} does not match the ${lines.length - 2} entry lines`
  const entries: CheckpointEntry[] = []
  for (const line of lines.slice(2)) {
    const parts = line.split(' ')
    if (parts.length !== 3 || !TOPIC.test(parts[0]) || !DECIMAL.test(parts[1]) || !DECIMAL.test(parts[2])) return `malformed entry ${JSON.stringify(line)}`
    const offset = Number(parts[2])
    if (!Number.isSafeInteger(offset)) return `offset ${parts[2]} is out of range`
    entries.push({ topic: parts[0], partition: Number(parts[1]), offset })
  }
  return entries
}

/**
 * Reads a checkpoint; undefined if it is missing, or damaged (then it is renamed aside and
 * reported, and callers assume nothing was checkpointed: a full recovery scan, and a log
 * start no further than the first segment).
 */
export function readOffsetCheckpoint(fsi: StorageFs, path: string): CheckpointEntry[] | undefined {
  let text: string
  try {
    text = fsi.readFileSync(path).toString('utf8')
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined
    throw error
  }
  const parsed = parseOffsetCheckpoint(text)
  if (typeof parsed === 'string') {
    quarantineFile(path, parsed, 'treated as absent (full recovery scan; log start at the first segment) and rewritten', fsi)
    return undefined
  }
  return parsed
}
