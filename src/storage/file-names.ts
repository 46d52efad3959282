/**
 * Every file and directory name ringlog writes, in one place. Segment files use Kafka's
 * names: the segment's base offset as 20 zero-padded digits plus a suffix, so a plain
 * directory listing sorts segments by offset.
 */
import { basename } from 'node:path'

export const LOG_SUFFIX = '.log'
export const INDEX_SUFFIX = '.index'
export const TIME_INDEX_SUFFIX = '.timeindex'
/** Appended to a retired segment's files until they are removed (Kafka's `.deleted`). */
export const DELETED_SUFFIX = '.deleted'
export const TEMP_SUFFIX = '.tmp'
/** Idempotent-producer state valid at the offset in the file name. */
export const PRODUCER_SNAPSHOT_SUFFIX = '.snapshot'
/** Kafka's per-segment index of aborted transactions (read_committed fetches). */
export const TXN_INDEX_SUFFIX = '.txnindex'
/** The log cleaner's output while it is written: never trusted, removed on open (Kafka's `.cleaned`). */
export const CLEANED_SUFFIX = '.cleaned'
/** A cleaned segment's complete, fsynced files waiting to replace the originals: completed on open (Kafka's `.swap`). */
export const SWAP_SUFFIX = '.swap'

export const RECOVERY_POINT_CHECKPOINT = 'recovery-point-offset-checkpoint'
export const LOG_START_OFFSET_CHECKPOINT = 'log-start-offset-checkpoint'
/** Kafka's cleaner checkpoint (per partition here): offsets below it were cleaned, so gaps there are the cleaner's. */
export const CLEANER_OFFSET_CHECKPOINT = 'cleaner-offset-checkpoint'
/** Kafka's per-partition epoch -> start offset file (KIP-101). */
export const LEADER_EPOCH_CHECKPOINT = 'leader-epoch-checkpoint'
/** Present only while the log is closed cleanly: its indexes and tail were written and flushed. */
export const CLEAN_SHUTDOWN_MARKER = '.ringlog-clean-shutdown'

/** Node-wide metadata under the data dir: topics, producer ids, group offsets. */
export const META_DIR = 'meta'
export const TOPICS_FILE = 'topics.msgpack'
export const PRODUCER_IDS_FILE = 'producer-ids.json'
export const GROUP_OFFSETS_DIR = 'group-offsets'
/** SCRAM credentials (salt, iterations, StoredKey, ServerKey per user and mechanism), src/security/. */
export const SCRAM_CREDENTIALS_FILE = 'scram-credentials.json'
/** ACL bindings of the authorizer (a JSON payload in the checksummed envelope), src/security/. */
export const ACLS_FILE = 'acls.json'
/** Inside GROUP_OFFSETS_DIR: the compacted snapshot and the `offsets-<seq>.log` files appended since. */
export const OFFSETS_SNAPSHOT_FILE = 'offsets.snapshot'
export const OFFSETS_LOG_PATTERN = /^offsets-(\d{20})\.log$/

const OFFSET_DIGITS = 20

/** A partition's directory under the data dir: `<topic>-<partition>`, as Kafka names it. */
export function partitionDirName(topic: string, partition: number): string {
  return `${topic}-${partition}`
}

export function offsetsLogFileName(seq: number): string {
  return `offsets-${String(seq).padStart(OFFSET_DIGITS, '0')}.log`
}

export function producerSnapshotFileName(offset: number): string {
  return String(offset).padStart(OFFSET_DIGITS, '0') + PRODUCER_SNAPSHOT_SUFFIX
}

export function offsetFileStem(baseOffset: number): string {
  if (!Number.isSafeInteger(baseOffset) || baseOffset < 0) throw new RangeError(`bad segment base offset ${baseOffset}`)
  return String(baseOffset).padStart(OFFSET_DIGITS, '0')
}

export function logFileName(baseOffset: number): string { return offsetFileStem(baseOffset) + LOG_SUFFIX }
export function indexFileName(baseOffset: number): string { return offsetFileStem(baseOffset) + INDEX_SUFFIX }
export function timeIndexFileName(baseOffset: number): string { return offsetFileStem(baseOffset) + TIME_INDEX_SUFFIX }
export function txnIndexFileName(baseOffset: number): string { return offsetFileStem(baseOffset) + TXN_INDEX_SUFFIX }

/** The base offset encoded in a segment file name with the given suffix, or undefined if the name is not one. */
export function parseSegmentFileName(name: string, suffix = LOG_SUFFIX): number | undefined {
  if (!name.endsWith(suffix)) return undefined
  const stem = name.slice(0, -suffix.length)
  if (stem.length !== OFFSET_DIGITS || !/^\d+$/.test(stem)) return undefined
  const offset = Number(stem)
  return Number.isSafeInteger(offset) ? offset : undefined
}

/** Splits a `<topic>-<partition>` directory name; other names become partition 0 of a topic named after the directory. */
export function parseTopicPartitionDir(dir: string): { topic: string; partition: number } {
  const name = basename(dir)
  const match = /^(.+)-(\d+)$/.exec(name)
  if (match) return { topic: match[1], partition: Number(match[2]) }
  return { topic: name, partition: 0 }
}
