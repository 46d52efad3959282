/**
 * Topic ids: the registry keeps them as UUID strings (`randomUUID()`), the wire codecs as
 * Kafka's unpadded base64url of the 16 bytes. These convert between the two.
 */
import { Buffer } from 'node:buffer'
import { ZERO_UUID } from '../protocol/primitives.js'

export function topicIdToWire(uuid: string): string {
  const hex = uuid.replace(/-/g, '')
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) return ZERO_UUID
  return Buffer.from(hex, 'hex').toString('base64url')
}

export function topicIdFromWire(wire: string): string {
  const hex = Buffer.from(wire, 'base64url').toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
}
