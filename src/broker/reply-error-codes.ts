/**
 * The non-zero `errorCode` fields of a decoded response message (top level, per topic, per
 * partition, per group ...), for error counters and request logs. The walk follows plain
 * objects and arrays only (never Buffers) to a fixed depth, so it costs a few property reads
 * per partition of the response, never anything per record.
 */
const MAX_DEPTH = 4

export function replyErrorCodes(message: unknown, out: number[] = [], depth = 0): number[] {
  if (message === null || typeof message !== 'object' || depth > MAX_DEPTH || ArrayBuffer.isView(message)) return out
  if (Array.isArray(message)) {
    for (const item of message) replyErrorCodes(item, out, depth + 1)
    return out
  }
  for (const key in message) {
    const value = (message as Record<string, unknown>)[key]
    if (key === 'errorCode') {
      if (typeof value === 'number' && value !== 0) out.push(value)
    } else if (value !== null && typeof value === 'object') {
      replyErrorCodes(value, out, depth + 1)
    }
  }
  return out
}
