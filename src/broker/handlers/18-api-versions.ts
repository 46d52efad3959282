/**
 * ApiVersions v0-3.
 *
 * Answers with exactly the APIs and version ranges of handlers/index.ts (the same list that
 * dispatch uses, so nothing is advertised that is not implemented). The response header is
 * always v0 (headers.ts). A request in a version above 3 never reaches this handler: the
 * connection answers it with a v0 body carrying UNSUPPORTED_VERSION and this list, so the
 * client can retry with a version it shares (KIP-511), and keeps the connection open.
 *
 * Left out: feature flags (v3 supportedFeatures / finalizedFeatures stay empty), client
 * software name/version validation (accepted as sent).
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { ApiVersionsRequest, ApiVersionsResponse } from '../../protocol/messages/api-versions.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/api-versions.js'
import type { EncodeInput } from '../../protocol/primitives.js'
import type { ApiVersionRange, HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 18
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

export function handle(_request: ApiVersionsRequest, ctx: RequestContext): HandlerReply<ApiVersionsResponse> {
  return { kind: 'message', message: apiVersionsBody(ErrorCode.NONE, ctx.supportedApis) }
}

/** The response body (also sent, in v0, for an unsupported ApiVersions version). */
export function apiVersionsBody(errorCode: number, supported: readonly ApiVersionRange[]): EncodeInput<ApiVersionsResponse> {
  return {
    errorCode,
    apiKeys: supported.map((a) => ({ apiKey: a.apiKey, minVersion: a.minVersion, maxVersion: a.maxVersion })),
    throttleTimeMs: 0,
  }
}
