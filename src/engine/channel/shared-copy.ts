/**
 * Bulk copies into and out of the SharedArrayBuffer rings. V8 copies to or from shared memory
 * with relaxed atomic word moves (`TypedArray#set` on a SharedArrayBuffer view), several times
 * slower than memcpy on lines another core just wrote; it was about 11% of all CPU in embedded
 * produce. The native addon's memcpy (native-bindings/src/copy.c) cut CPU per record by
 * about 15% and raised throughput by about 25% (same-run A/B, flush never). Short copies stay in
 * JS, where a native call's fixed cost (about 90 ns) would outweigh the gain; without the addon
 * every copy uses `set`.
 */
import nativeBinding from '../../../native-bindings/index.js'

/** Copies shorter than this use TypedArray#set. */
const NATIVE_COPY_MIN_BYTES = 2048

const nativeCopy = nativeBinding?.copyBytes ?? null

/** Copies `length` bytes of `source` from `sourceOffset` to `target` at `targetOffset`. */
export function copyBytes(target: Uint8Array, targetOffset: number, source: Uint8Array, sourceOffset: number, length: number): void {
  if (nativeCopy !== null && length >= NATIVE_COPY_MIN_BYTES) nativeCopy(target, targetOffset, source, sourceOffset, length)
  else target.set(source.subarray(sourceOffset, sourceOffset + length), targetOffset)
}
