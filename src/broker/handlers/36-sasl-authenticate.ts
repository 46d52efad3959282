/**
 * SaslAuthenticate v0-2: one SASL token in, one challenge out. A failure answers
 * SASL_AUTHENTICATION_FAILED (58) with a message that does not say whether the user or the
 * password was wrong, and the connection closes after it. v1+: sessionLifetimeMs is
 * connections.max.reauth.ms (0: the session never expires); see ../sasl-session.ts for KIP-368.
 */
import type { SaslAuthenticateRequest, SaslAuthenticateResponse } from '../../protocol/messages/sasl-authenticate.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/sasl-authenticate.js'
import { ErrorCode } from '../../protocol/error-codes.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 36
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

export function handle(request: SaslAuthenticateRequest, ctx: RequestContext): HandlerReply<SaslAuthenticateResponse> {
  const empty = Buffer.alloc(0)
  const session = ctx.session
  if (!session) return { kind: 'message', message: { errorCode: ErrorCode.ILLEGAL_SASL_STATE, errorMessage: 'no SASL on this connection', authBytes: empty, sessionLifetimeMs: 0 } }
  const outcome = session.authenticate(request.authBytes)
  if (!outcome.ok) return { kind: 'message', message: { errorCode: outcome.errorCode, errorMessage: outcome.message, authBytes: empty, sessionLifetimeMs: 0 } }
  return { kind: 'message', message: { errorCode: ErrorCode.NONE, errorMessage: null, authBytes: outcome.challenge, sessionLifetimeMs: outcome.sessionLifetimeMs } }
}
