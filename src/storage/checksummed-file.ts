/**
 * The envelope around ringlog's own binary metadata files (topic registry, producer ids):
 * magic "RLMF", a format version, the payload's length and its CRC-32C, then the payload.
 * Any truncation, appended garbage, zeroed range or flipped bit fails the length or the CRC
 * check, so a reader never acts on damaged metadata.
 */
import { Buffer } from 'node:buffer'
import { crc32c } from '../protocol/crc32c.js'
import { writeFileAtomicSync } from './atomic-file.js'
import { DamagedFileError } from './damaged-file.js'
import { nodeStorageFs, type StorageFs } from './storage-fs.js'

const MAGIC = 0x524c4d46 // "RLMF"
const HEADER_BYTES = 4 + 1 + 4 + 4

/** True when `data` starts like an enveloped file (so a reader can tell it from an older bare format). */
export function hasEnvelope(data: Uint8Array): boolean {
  return data.length >= 4 && Buffer.from(data.buffer, data.byteOffset, 4).readUInt32BE(0) === MAGIC
}

/** Wraps `payload` (format `version`) in the envelope. */
export function sealPayload(version: number, payload: Uint8Array): Buffer {
  const out = Buffer.alloc(HEADER_BYTES + payload.length)
  out.writeUInt32BE(MAGIC, 0)
  out.writeUInt8(version, 4)
  out.writeUInt32BE(payload.length, 5)
  out.writeUInt32BE(crc32c(payload), 9)
  out.set(payload, HEADER_BYTES)
  return out
}

/** The payload and its version; DamagedFileError (naming `path`) if anything does not check. */
export function openPayload(path: string, data: Buffer, versions: readonly number[]): { version: number; payload: Buffer } {
  if (data.length < HEADER_BYTES) throw new DamagedFileError(path, `${data.length} bytes, shorter than the ${HEADER_BYTES}-byte header`)
  if (data.readUInt32BE(0) !== MAGIC) throw new DamagedFileError(path, 'bad magic')
  const version = data.readUInt8(4)
  if (!versions.includes(version)) throw new DamagedFileError(path, `unknown format version ${version}`)
  const length = data.readUInt32BE(5)
  if (length !== data.length - HEADER_BYTES) throw new DamagedFileError(path, `payload length ${length}, file holds ${data.length - HEADER_BYTES}`)
  const payload = data.subarray(HEADER_BYTES)
  if (crc32c(payload) !== data.readUInt32BE(9)) throw new DamagedFileError(path, 'CRC-32C mismatch')
  return { version, payload }
}

export function writeChecksummedFileSync(path: string, version: number, payload: Uint8Array, fsi: StorageFs = nodeStorageFs): void {
  writeFileAtomicSync(path, sealPayload(version, payload), fsi)
}
