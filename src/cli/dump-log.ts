/**
 * `ringlog dump-log <file.log | partition dir>`: offline inspection of segment files, like
 * kafka-dump-log.sh. Reads the files directly (no broker needed; safe on files being written,
 * since only the bytes present when a file is opened are read).
 *
 * For every batch: position, size, baseOffset, lastOffset, record count, magic, CRC (stored
 * and whether it matches), compression, timestamp type, base and max timestamps, partition
 * leader epoch, producer id/epoch, base and last sequence, transactional/control flags.
 * --records adds each record (offset, timestamp, key, value, headers as UTF-8).
 *
 * A batch with a bad CRC is reported and skipped by its length; the walk stops where a length
 * cannot be trusted (below the minimum, or running past the end of the file: a torn tail),
 * and the rest of the file is reported as the tail, with the reason. Nothing is modified.
 * The exit code is 0 whatever the files hold (as kafka-dump-log); the report says what is bad.
 */
import { Buffer } from 'node:buffer'
import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { compressionName } from '../protocol/compression.js'
import { BATCH_HEADER_SIZE, computeBatchCrc, decodeRecordBatch, LOG_OVERHEAD, MAGIC_OFFSET, parseBatchAttributes, readBatchHeader, recordOffset, recordTimestamp, type BatchHeader, BATCH_LENGTH_OFFSET } from '../protocol/record-batch.js'
import { LOG_SUFFIX, parseSegmentFileName } from '../storage/file-names.js'

const READ_CHUNK_BYTES = 1024 * 1024

export interface DumpedRecord {
  offset: number
  timestamp: number
  key: string | null
  value: string | null
  headers: { key: string; value: string | null }[]
}

export interface DumpedBatch {
  position: number
  size: number
  baseOffset: number
  lastOffset: number
  count: number
  magic: number
  crc: number
  crcValid: boolean
  compression: string
  timestampType: string
  baseTimestamp: number
  maxTimestamp: number
  partitionLeaderEpoch: number
  producerId: number
  producerEpoch: number
  baseSequence: number
  lastSequence: number
  isTransactional: boolean
  isControl: boolean
  /** With --records, for batches that decode. */
  records?: DumpedRecord[]
  /** Why records could not be shown (bad CRC, snappy/zstd, corrupt records). */
  recordsError?: string
}

export interface DumpedTail {
  position: number
  bytes: number
  reason: string
}

export interface DumpedFile {
  path: string
  /** Bytes read: the file's size when it was opened. */
  size: number
  batches: DumpedBatch[]
  /** Bytes past the last batch that could be delimited; null when the file ends cleanly. */
  tail: DumpedTail | null
  invalidBatches: number
}

export class DumpLogError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'DumpLogError'
  }
}

/** The segment files a path names: itself if a file, else the directory's `.log` files in offset order. */
export function segmentFiles(path: string): string[] {
  let stats
  try {
    stats = statSync(path)
  } catch (error) {
    throw new DumpLogError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (error as Error).message}`)
  }
  if (stats.isFile()) return [path]
  if (!stats.isDirectory()) throw new DumpLogError(`${path} is neither a file nor a directory`)
  return readdirSync(path)
    .filter((name) => parseSegmentFileName(name, LOG_SUFFIX) !== undefined)
    .sort()
    .map((name) => join(path, name))
}

function utf8(b: Buffer | null): string | null {
  return b === null ? null : b.toString('utf8')
}

function describeBatch(header: BatchHeader, position: number, size: number, crcValid: boolean): DumpedBatch {
  const attributes = parseBatchAttributes(header.attributes)
  return {
    position,
    size,
    baseOffset: header.baseOffset,
    lastOffset: header.baseOffset + header.lastOffsetDelta,
    count: header.recordCount,
    magic: header.magic,
    crc: header.crc,
    crcValid,
    compression: compressionName(attributes.compression) ?? `unknown(${attributes.compression})`,
    timestampType: attributes.timestampType,
    baseTimestamp: header.baseTimestamp,
    maxTimestamp: header.maxTimestamp,
    partitionLeaderEpoch: header.partitionLeaderEpoch,
    producerId: header.producerId,
    producerEpoch: header.producerEpoch,
    baseSequence: header.baseSequence,
    lastSequence: header.baseSequence < 0 ? -1 : header.baseSequence + header.lastOffsetDelta,
    isTransactional: attributes.transactional,
    isControl: attributes.control,
  }
}

function decodeRecordsOf(buf: Buffer, at: number, batch: DumpedBatch): void {
  if (!batch.crcValid) {
    batch.recordsError = 'CRC mismatch: records not decoded'
    return
  }
  try {
    const { header, records } = decodeRecordBatch(buf, at)
    batch.records = records.map((r) => ({
      offset: recordOffset(header, r),
      timestamp: recordTimestamp(header, r),
      key: utf8(r.key),
      value: utf8(r.value),
      headers: r.headers.map((h) => ({ key: h.key, value: utf8(h.value) })),
    }))
  } catch (error) {
    batch.recordsError = (error as Error).message
  }
}

/** Walks one segment file batch by batch (see the file header for what is checked). */
export function dumpSegmentFile(path: string, options: { records?: boolean } = {}): DumpedFile {
  const fd = openSync(path, 'r')
  try {
    // Only what exists now: a file being appended to is read up to its size at open.
    const fileBytes = fstatSync(fd).size
    const result: DumpedFile = { path, size: fileBytes, batches: [], tail: null, invalidBatches: 0 }
    let chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, Math.max(BATCH_HEADER_SIZE, fileBytes)))
    let chunkStart = 0
    let chunkLength = 0
    let position = 0
    // Makes bytes [position, position + need) present in `chunk`; false if the file is shorter.
    const ensure = (need: number): boolean => {
      if (position + need > fileBytes) return false
      if (position >= chunkStart && position + need <= chunkStart + chunkLength) return true
      if (need > chunk.length) chunk = Buffer.allocUnsafe(need)
      chunkStart = position
      chunkLength = 0
      const want = Math.min(chunk.length, fileBytes - position)
      while (chunkLength < want) {
        const n = readSync(fd, chunk, chunkLength, want - chunkLength, position + chunkLength)
        if (n === 0) break
        chunkLength += n
      }
      return position + need <= chunkStart + chunkLength
    }
    const stop = (reason: string): void => {
      result.tail = { position, bytes: fileBytes - position, reason }
    }
    while (position < fileBytes) {
      if (!ensure(LOG_OVERHEAD)) { stop('torn batch prefix (fewer than 12 bytes)'); break }
      const size = LOG_OVERHEAD + chunk.readInt32BE(position - chunkStart + BATCH_LENGTH_OFFSET)
      if (size < BATCH_HEADER_SIZE) { stop(`batch length ${size - LOG_OVERHEAD} below the minimum`); break }
      if (!ensure(size)) { stop(`batch of ${size} bytes runs past the end of the file (torn write)`); break }
      const at = position - chunkStart
      const magic = chunk.readInt8(at + MAGIC_OFFSET)
      if (magic !== 2) { stop(`unsupported magic ${magic}`); break }
      const header = readBatchHeader(chunk, at)
      const crcValid = computeBatchCrc(chunk, at, size) === header.crc
      const batch = describeBatch(header, position, size, crcValid)
      if (!crcValid) result.invalidBatches++
      if (options.records) decodeRecordsOf(chunk.subarray(0, at + size), at, batch)
      result.batches.push(batch)
      position += size
    }
    return result
  } finally {
    closeSync(fd)
  }
}

function headersText(headers: DumpedRecord['headers']): string {
  return `[${headers.map((h) => `${h.key}=${h.value ?? 'null'}`).join(', ')}]`
}

/** kafka-dump-log style text: a line per batch, `| ` lines per record, a summary per file. */
export function formatDumpedFile(file: DumpedFile): string {
  const lines = [`Dumping ${file.path}`]
  let records = 0
  for (const b of file.batches) {
    records += b.count
    lines.push(`baseOffset: ${b.baseOffset} lastOffset: ${b.lastOffset} count: ${b.count} baseSequence: ${b.baseSequence} lastSequence: ${b.lastSequence}` +
      ` producerId: ${b.producerId} producerEpoch: ${b.producerEpoch} partitionLeaderEpoch: ${b.partitionLeaderEpoch} isTransactional: ${b.isTransactional}` +
      ` isControl: ${b.isControl} position: ${b.position} ${b.timestampType}: ${b.maxTimestamp} baseTimestamp: ${b.baseTimestamp} size: ${b.size}` +
      ` magic: ${b.magic} compresscodec: ${b.compression} crc: ${b.crc} isvalid: ${b.crcValid}`)
    if (b.recordsError) lines.push(`| records not shown: ${b.recordsError}`)
    for (const r of b.records ?? []) {
      lines.push(`| offset: ${r.offset} ${b.timestampType}: ${r.timestamp} keySize: ${r.key === null ? -1 : Buffer.byteLength(r.key)}` +
        ` valueSize: ${r.value === null ? -1 : Buffer.byteLength(r.value)} headers: ${headersText(r.headers)} key: ${r.key ?? 'null'} payload: ${r.value ?? 'null'}`)
    }
  }
  const validBytes = file.tail ? file.tail.position : file.size
  lines.push(`Summary: ${file.batches.length} batches, ${records} records, ${file.invalidBatches} with a bad CRC, ${validBytes} of ${file.size} bytes walked`)
  if (file.tail) lines.push(`Tail: ${file.tail.bytes} bytes at position ${file.tail.position} not read as batches: ${file.tail.reason}`)
  return lines.join('\n')
}

export function register(program: Command): void {
  program
    .command('dump-log <path>')
    .description('print the batches of a segment file (.log) or of every segment in a partition directory')
    .option('--records', 'print every record too (offset, timestamp, key, value, headers)')
    .option('--json', 'print one JSON document: { files: [...] }')
    .action((path: string, options: { records?: boolean; json?: boolean }) => {
      const files = segmentFiles(path)
      if (files.length === 0) throw new DumpLogError(`no segment files (${LOG_SUFFIX}) in ${path}`)
      if (options.json) {
        process.stdout.write(JSON.stringify({ files: files.map((f) => dumpSegmentFile(f, options)) }) + '\n')
        return
      }
      for (const f of files) process.stdout.write(formatDumpedFile(dumpSegmentFile(f, options)) + '\n')
    })
}
