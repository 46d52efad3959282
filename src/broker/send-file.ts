/**
 * Streams a byte range of a segment file to a client socket: the record bytes of a fetch
 * response, sent after the broker has written the response head.
 *
 * Two paths, same result on the wire:
 * - native: the `native-bindings/` addon's sendfile(2), zero-copy, on a dup() of the
 *   socket's fd so a closed-and-reused fd number can never receive the bytes. Used only
 *   when Node has nothing queued on the socket (`writableLength === 0`), the socket is not
 *   TLS and its fd is reachable; sendfile writes behind Node's back, so anything queued
 *   would otherwise land after the range.
 * - stream: `fs.createReadStream` (1 MiB chunks) written to the socket with back-pressure,
 *   without ending it. Used when the addon is missing, the socket is not eligible, too many
 *   native transfers are already waiting on the threadpool, or `{ native: false }`.
 *
 * Contract for the caller:
 * - Write nothing else to the socket until the returned promise settles. Bytes written
 *   before the call (the response head) arrive before the range; bytes written after the
 *   promise resolves arrive after it.
 * - On rejection part of the range may have been sent, so the framing on that connection
 *   is lost: destroy the socket. Rejections carry `code`: 'EPIPE'/'ECONNRESET' (peer went
 *   away, whichever side noticed first), 'ETIMEDOUT' (native: no progress for 30 s),
 *   'ERR_SOCKET_CLOSED' (destroyed locally without an error), 'ERR_FILE_TOO_SHORT' (the
 *   file ends before the range does).
 * - A `{ fd }` stays open and owned by the caller; a `{ path }` is opened and closed here.
 *   An fd keeps working after its file is unlinked (retention deletes late). An fd the caller
 *   holds for this send only (`owned: true`, a fetch's ReadSlice.heldFd) is closed by
 *   `releaseFileSource`, once, after the send or when the send will never happen.
 */
import { close, createReadStream, type ReadStream } from 'node:fs'
import { open } from 'node:fs/promises'
import type { Socket } from 'node:net'
import { TLSSocket } from 'node:tls'
import nativeBinding, { type NativeBinding } from '../../native-bindings/index.js'

export type SendFileSource = { fd: number; owned?: boolean } | { path: string }

export interface SendFileOptions {
  /** `false` forces the read-stream path; by default the native path is used when eligible. */
  native?: boolean
  /** Read-stream chunk size of the fallback path (default 1 MiB; Node's own default is 64 KiB). */
  highWaterMark?: number
}

const FALLBACK_HIGH_WATER_MARK = 1024 * 1024

// A native transfer to a slow reader occupies a libuv threadpool thread until it finishes;
// keep half the pool free for file system work and send the rest through streams.
const THREADPOOL_SIZE = Number(process.env.UV_THREADPOOL_SIZE) || 4
const MAX_NATIVE_IN_FLIGHT = Math.max(1, Math.floor(THREADPOOL_SIZE / 2))
let nativeInFlight = 0

/** True when the sendfile addon is built and loaded in this thread. */
export function nativeSendFileAvailable(): boolean {
  return nativeBinding !== null
}

/** Sends `length` bytes of `file` starting at `position` to `socket`; see the contract above. */
export async function sendFileRange(
  socket: Socket,
  file: SendFileSource,
  position: number,
  length: number,
  options: SendFileOptions = {},
): Promise<void> {
  if (!Number.isSafeInteger(position) || position < 0) throw new RangeError(`position must be a non-negative integer, got ${position}`)
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`length must be a non-negative integer, got ${length}`)
  const highWaterMark = options.highWaterMark ?? FALLBACK_HIGH_WATER_MARK
  if (!Number.isSafeInteger(highWaterMark) || highWaterMark <= 0) throw new RangeError(`highWaterMark must be a positive integer, got ${highWaterMark}`)
  if (socket.destroyed || !socket.writable) throw socketClosedError(socket)
  if (length === 0) return

  const binding = options.native === false ? null : nativeBinding
  if (binding === null || nativeInFlight >= MAX_NATIVE_IN_FLIGHT || eligibleSocketFd(socket) === undefined) {
    return streamRange(socket, file, position, length, highWaterMark)
  }
  nativeInFlight++
  try {
    if ('fd' in file) return await sendNative(binding, socket, file.fd, position, length, highWaterMark)
    const handle = await open(file.path, 'r')
    try {
      return await sendNative(binding, socket, handle.fd, position, length, highWaterMark)
    } finally {
      await handle.close()
    }
  } finally {
    nativeInFlight--
  }
}

/**
 * Closes an owned fd (once; later calls do nothing); other sources are left alone. The close
 * runs on the threadpool: the last descriptor of a deleted segment frees its blocks there.
 */
export function releaseFileSource(file: SendFileSource): void {
  if (!('fd' in file) || file.owned !== true) return
  file.owned = false
  close(file.fd, () => undefined)
}

/** The socket's fd when sendfile may write to it right now, else undefined. */
function eligibleSocketFd(socket: Socket): number | undefined {
  if (socket.destroyed || socket.connecting || socket.writableLength !== 0) return undefined
  if (socket instanceof TLSSocket || (socket as { encrypted?: boolean }).encrypted === true) return undefined
  // Undocumented but stable on Unix: the libuv stream's fd (-1 on Windows).
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd
  return typeof fd === 'number' && fd >= 0 ? fd : undefined
}

async function sendNative(
  binding: NativeBinding,
  socket: Socket,
  fileFd: number,
  position: number,
  length: number,
  highWaterMark: number,
): Promise<void> {
  // Re-checked here: opening a path awaited, and the socket may have changed meanwhile.
  if (socket.destroyed || !socket.writable) throw socketClosedError(socket)
  const socketFd = eligibleSocketFd(socket)
  if (socketFd === undefined) return streamRange(socket, { fd: fileFd }, position, length, highWaterMark)

  const transferFd = binding.dup(socketFd)
  // If Node closes its fd mid-transfer, our dup keeps the connection alive: shut it down
  // so the threadpool side stops at once (EPIPE) instead of sending into a dead socket.
  let closedLocally = false
  const onClose = (): void => {
    closedLocally = true
    binding.shutdown(transferFd)
  }
  socket.once('close', onClose)
  try {
    await binding.sendFile(transferFd, fileFd, position, length)
  } catch (err) {
    throw closedLocally ? socketClosedError(socket) : err
  } finally {
    socket.off('close', onClose)
    binding.close(transferFd)
  }
}

/** The fallback: read stream → socket with back-pressure; resolves once the last chunk is handed to the kernel. */
function streamRange(socket: Socket, file: SendFileSource, position: number, length: number, highWaterMark: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const range = { start: position, end: position + length - 1, highWaterMark }
    let source: ReadStream
    try {
      source = 'fd' in file
        ? createReadStream('', { ...range, fd: file.fd, autoClose: false })
        : createReadStream(file.path, range)
    } catch (err) {
      reject(err)
      return
    }
    let received = 0
    let pendingWrites = 0
    let sourceEnded = false
    let settled = false

    const settle = (err?: Error | null): void => {
      if (settled) return
      settled = true
      socket.off('close', onSocketClose)
      socket.off('error', settle)
      socket.off('drain', onDrain)
      if (err) {
        source.destroy()
        reject(err)
      } else {
        resolve()
      }
    }
    const onSocketClose = (): void => settle(socketClosedError(socket))
    const onDrain = (): void => {
      if (!settled) source.resume()
    }
    const settleIfDone = (): void => {
      if (sourceEnded && pendingWrites === 0) settle()
    }

    socket.on('close', onSocketClose)
    socket.on('error', settle)
    socket.on('drain', onDrain)
    source.on('error', settle)
    source.on('data', (chunk: Buffer | string) => {
      if (settled) return
      received += chunk.length
      pendingWrites++
      const flowing = socket.write(chunk, (err) => {
        pendingWrites--
        if (err) settle(err)
        else settleIfDone()
      })
      if (!flowing) source.pause()
    })
    source.on('end', () => {
      sourceEnded = true
      if (received !== length) settle(fileTooShortError())
      else settleIfDone()
    })
  })
}

/**
 * Why the socket closed under a transfer: the error that closed it (e.g. ECONNRESET seen by
 * Node's read side); EPIPE when the peer closed its end gracefully and Node, having read that
 * end of stream, closed the socket before the transfer noticed (the peer went away, as the
 * contract says, whichever side saw it first); else ERR_SOCKET_CLOSED (closed locally).
 */
function socketClosedError(socket: Socket): NodeJS.ErrnoException {
  const cause: unknown = socket?.errored
  if (cause instanceof Error) return cause
  if (socket?.readableEnded) return Object.assign(new Error('the peer closed the connection before the file range was sent'), { code: 'EPIPE' })
  return Object.assign(new Error('socket closed before the file range was sent'), { code: 'ERR_SOCKET_CLOSED' })
}

function fileTooShortError(): NodeJS.ErrnoException {
  return Object.assign(new Error('file ended before the requested range'), { code: 'ERR_FILE_TOO_SHORT' })
}
