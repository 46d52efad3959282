/** The addon's exports (see src/sendfile.c and src/copy.c); null when the addon is not available. */
export interface NativeBinding {
  /**
   * Sends `length` bytes of `fileFd` from `position` to `socketFd` (a non-blocking socket).
   * Resolves with the bytes sent; rejects with an errno-bearing error (`code` 'EPIPE',
   * 'ECONNRESET', 'ETIMEDOUT' after `idleTimeoutMs` without progress, default 30 s) or
   * 'ERR_FILE_TOO_SHORT'.
   */
  sendFile(socketFd: number, fileFd: number, position: number, length: number, idleTimeoutMs?: number): Promise<number>
  /** dup() with close-on-exec; throws an errno-bearing error. */
  dup(fd: number): number
  close(fd: number): void
  /** shutdown(SHUT_RDWR); ignores errors. Cancels a transfer running on that socket. */
  shutdown(fd: number): void
  /**
   * memmove of `length` bytes from `source` at `sourceOffset` to `target` at `targetOffset`
   * (Uint8Arrays, SharedArrayBuffer-backed or not; see src/copy.c). Throws a RangeError if a
   * range falls outside its array.
   */
  copyBytes(target: Uint8Array, targetOffset: number, source: Uint8Array, sourceOffset: number, length: number): void
  /**
   * CRC-32C of `data`, continuing from the finished CRC `initial` (default 0), as
   * @node-rs/crc32's crc32c (see src/crc32c.c). Absent on CPUs without SSE4.2.
   */
  crc32c?: (data: Uint8Array, initial?: number) => number
  /**
   * One LZ4 frame of `data` in Kafka's layout (see src/lz4.c). Absent where the addon was built
   * without liblz4's headers.
   */
  lz4CompressFrame?: (data: Uint8Array) => Buffer
}

declare const nativeBinding: NativeBinding | null
export default nativeBinding
