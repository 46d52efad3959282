/**
 * Encodes a Fetch response whose record bytes stay in segment files: each partition's
 * `records` field is a placeholder (an empty Buffer object registered with its file range).
 * The encoder writes the field's length prefix for the real range and nothing else, and
 * records where the range's bytes go; the result is the encoded bytes cut at those points
 * with the file ranges in between, ready to be written and streamed in order. Sizes are exact
 * because the prefix is written for the range's true length.
 */
import { Buffer } from 'node:buffer'
import { encodeFetchResponse, type FetchResponse } from '../protocol/messages/fetch.js'
import { Writer, type EncodeInput } from '../protocol/primitives.js'
import type { FileRangePart, GeneratedPart, ResponsePart } from './handler.js'

/** What a placeholder stands for: bytes written after the encoded head, of a known length. */
type DeferredPart = FileRangePart | GeneratedPart

class SplittingWriter extends Writer {
  readonly cuts: { at: number; range: DeferredPart }[] = []

  constructor(private readonly ranges: ReadonlyMap<Uint8Array, DeferredPart | readonly FileRangePart[]>) {
    super(1024)
  }

  override bytes(flexible: boolean, v: Uint8Array | null, nullable = false): void {
    const range = v === null ? undefined : this.ranges.get(v)
    if (range === undefined) {
      super.bytes(flexible, v, nullable)
      return
    }
    const parts: readonly DeferredPart[] = Array.isArray(range) ? range : [range as DeferredPart]
    let length = 0
    for (const part of parts) length += part.length
    if (flexible) this.uvarint(length + 1)
    else this.int32(length)
    for (const part of parts) this.cuts.push({ at: this.length, range: part })
  }
}

export class FetchResponseBuilder {
  private readonly ranges = new Map<Uint8Array, DeferredPart | readonly FileRangePart[]>()

  /**
   * A placeholder for a partition's `records` that stands for `range` (a file range or generated
   * bytes; or several ranges one after the other: read_committed with aborted batches left out).
   */
  placeholder(range: DeferredPart | readonly FileRangePart[]): Buffer {
    const token = Buffer.alloc(0)
    this.ranges.set(token, range)
    return token
  }

  /** The response body as bytes and file ranges, in wire order. */
  encode(version: number, response: EncodeInput<FetchResponse>): ResponsePart[] {
    const w = new SplittingWriter(this.ranges)
    encodeFetchResponse(w, version, response)
    const bytes = w.finish()
    const parts: ResponsePart[] = []
    let from = 0
    for (const cut of w.cuts) {
      if (cut.at > from) parts.push(bytes.subarray(from, cut.at))
      if (cut.range.length > 0) parts.push(cut.range)
      from = cut.at
    }
    if (from < bytes.length) parts.push(bytes.subarray(from))
    return parts
  }
}
