/**
 * Request and response headers. Their version follows from the API and its version:
 * - request header v2 (v1 plus tagged fields) for flexible request versions, v1 otherwise,
 *   v0 only for ControlledShutdown v0; ClientId is a nullable int16-length string in every
 *   version, never compact (RequestHeader.json: "flexibleVersions": "none" on the field);
 * - response header v1 (with tagged fields) for flexible versions, v0 otherwise, except that
 *   ApiVersions responses always use v0: a client that sent a version the broker does not know
 *   must still be able to read the reply.
 */
import { ProtocolDecodeError, type Reader, type Writer } from './primitives.js'
import { KNOWN_APIS } from './messages/index.js'

const API_VERSIONS_KEY = 18
const CONTROLLED_SHUTDOWN_KEY = 7

export interface RequestHeader {
  apiKey: number
  apiVersion: number
  correlationId: number
  /** Null in header v0 and when the client sends a null id. */
  clientId: string | null
}

function isFlexible(apiKey: number, apiVersion: number): boolean {
  const api = KNOWN_APIS[apiKey]
  return api !== undefined && apiVersion >= api.firstFlexibleVersion
}

/** An API key the schemas do not define gets v1: it will be refused anyway, by key. */
export function requestHeaderVersion(apiKey: number, apiVersion: number): 0 | 1 | 2 {
  if (apiKey === CONTROLLED_SHUTDOWN_KEY && apiVersion === 0) return 0
  return isFlexible(apiKey, apiVersion) ? 2 : 1
}

export function responseHeaderVersion(apiKey: number, apiVersion: number): 0 | 1 {
  if (apiKey === API_VERSIONS_KEY) return 0
  return isFlexible(apiKey, apiVersion) ? 1 : 0
}

/** Reads a request header; the reader is left at the start of the body. */
export function decodeRequestHeader(r: Reader): RequestHeader {
  const apiKey = r.int16()
  const apiVersion = r.int16()
  const correlationId = r.int32()
  if (apiVersion < 0) throw new ProtocolDecodeError(`negative api version ${apiVersion}`)
  const headerVersion = requestHeaderVersion(apiKey, apiVersion)
  const clientId = headerVersion >= 1 ? r.nullableString(false) : null
  if (headerVersion >= 2) r.taggedFields()
  return { apiKey, apiVersion, correlationId, clientId }
}

export function encodeRequestHeader(w: Writer, header: RequestHeader): void {
  const headerVersion = requestHeaderVersion(header.apiKey, header.apiVersion)
  w.int16(header.apiKey)
  w.int16(header.apiVersion)
  w.int32(header.correlationId)
  if (headerVersion >= 1) w.nullableString(false, header.clientId)
  if (headerVersion >= 2) w.uvarint(0)
}

export function encodeResponseHeader(w: Writer, headerVersion: 0 | 1, correlationId: number): void {
  w.int32(correlationId)
  if (headerVersion >= 1) w.uvarint(0)
}

/** Reads a response header (for clients and tests); returns the correlation id. */
export function decodeResponseHeader(r: Reader, headerVersion: 0 | 1): number {
  const correlationId = r.int32()
  if (headerVersion >= 1) r.taggedFields()
  return correlationId
}
