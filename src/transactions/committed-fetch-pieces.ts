/**
 * A read_committed Fetch partition whose aborted data batches were left out
 * (aborted-batch-skip.ts) is still sent from its segment file: one file range part per piece,
 * all on the range's one descriptor. Only the last part owns it (closes it once written or
 * dropped), and the connection writes and releases parts in order, so the earlier ones never
 * see it closed; releasing the range itself closes the same descriptor once.
 */
import type { FileRangePart } from '../broker/handler.js'
import type { SendFileSource } from '../broker/send-file.js'
import type { FilePiece } from './aborted-batch-skip.js'

export function piecesOfRange(file: SendFileSource, pieces: readonly FilePiece[]): FileRangePart[] {
  const borrowed: SendFileSource = 'fd' in file ? { fd: file.fd, owned: false } : file
  return pieces.map((p, i) => ({ file: i === pieces.length - 1 ? file : borrowed, position: p.position, length: p.length }))
}

/** Bytes the pieces put on the wire. */
export function piecesLength(pieces: readonly FilePiece[]): number {
  let total = 0
  for (const p of pieces) total += p.length
  return total
}
