/**
 * SaslHandshake v0-1: chooses the mechanism of the connection's SASL exchange and lists the
 * enabled ones. v0 switches the connection to raw SASL token frames (see ../sasl-session.ts);
 * v1 clients continue with SaslAuthenticate. Any error closes the connection after the answer.
 */
import type { SaslHandshakeRequest, SaslHandshakeResponse } from '../../protocol/messages/sasl-handshake.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/sasl-handshake.js'
import { ErrorCode } from '../../protocol/error-codes.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 17
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

export function handle(request: SaslHandshakeRequest, ctx: RequestContext): HandlerReply<SaslHandshakeResponse> {
  const session = ctx.session
  if (!session) return { kind: 'message', message: { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] } }
  const errorCode = session.handshake(request.mechanism, ctx.version)
  return { kind: 'message', message: { errorCode, mechanisms: session.enabledMechanisms } }
}
