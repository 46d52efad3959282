/**
 * The authentication state of one connection. On a SASL_* listener nothing but ApiVersions,
 * SaslHandshake and SaslAuthenticate passes until a SASL exchange succeeds (anything else
 * closes the connection, as Kafka does). SaslHandshake v0 switches the connection to the
 * legacy framing: the SASL tokens that follow are raw size-prefixed frames without a Kafka
 * header (kafka-python, old Java clients), until the exchange ends.
 *
 * Any failed step answers (when the framing allows) and closes the connection; the reason is
 * logged with the peer address by the connection, the client only learns "authentication
 * failed" (never whether the user or the password was wrong).
 *
 * Re-authentication (KIP-368, `connections.max.reauth.ms` > 0): SaslAuthenticate v1+ tells the
 * client how long its session lasts; before then it may run SaslHandshake v1 and
 * SaslAuthenticate again on the same connection, with the same mechanism and principal, while
 * its other requests keep flowing. A request other than those two after the session expired
 * closes the connection, as a Kafka broker does.
 */
import { ErrorCode } from '../protocol/error-codes.js'
import type { CredentialStore } from '../security/credential-store.js'
import { createAuthenticator, isSaslMechanism, type SaslAuthenticator, type SaslMechanism } from '../security/sasl-authenticator.js'
import { SaslAuthenticationError } from '../security/scram-server.js'

export type SecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL'

export interface SaslSettings {
  /** Mechanisms enabled on SASL listeners, in the order SaslHandshake lists them. */
  mechanisms: readonly SaslMechanism[]
  store: CredentialStore
  /** KIP-368 connections.max.reauth.ms: a session lasts this long, then the client must re-authenticate; 0: forever. */
  reauthMs?: number
}

const API_VERSIONS = 18
const SASL_HANDSHAKE = 17
const SASL_AUTHENTICATE = 36

export type AuthenticateOutcome =
  /** sessionLifetimeMs: what SaslAuthenticate v1+ answers once the exchange is done (0: no expiry, or not done yet). */
  | { ok: true; challenge: Buffer; sessionLifetimeMs: number }
  | { ok: false; errorCode: number; message: string }

export class SaslSession {
  private state: 'handshake' | 'exchange' | 'done' = 'handshake'
  /** True between a re-authentication's SaslHandshake and its last SaslAuthenticate: requests keep flowing. */
  private reauthenticating = false
  /** When the session expires (KIP-368), or null when it never does. */
  private expiresAtMs: number | null = null
  private authenticator: SaslAuthenticator | undefined
  private mechanism: SaslMechanism | undefined
  /** After SaslHandshake v0: the next frames are raw SASL tokens. */
  legacyFraming = false
  /** Set by a failed step: the connection writes what is owed, then closes with this reason. */
  closeReason: string | null = null
  /** `User:<name>` once authenticated (SASL user, or the TLS client certificate's CN); `User:ANONYMOUS` otherwise. */
  principal: string

  constructor(readonly protocol: SecurityProtocol, private readonly settings: SaslSettings | undefined, tlsPrincipal?: string) {
    this.principal = tlsPrincipal ?? 'User:ANONYMOUS'
  }

  get usesSasl(): boolean {
    return this.protocol === 'SASL_PLAINTEXT' || this.protocol === 'SASL_SSL'
  }

  get authenticated(): boolean {
    return !this.usesSasl || this.state === 'done' || this.reauthenticating
  }

  /** True when a request with this API key may run now; false also when the session has expired (sets closeReason). */
  admits(apiKey: number, nowMs = Date.now()): boolean {
    if (apiKey === SASL_HANDSHAKE || apiKey === SASL_AUTHENTICATE) return true
    if (this.expiresAtMs !== null && nowMs > this.expiresAtMs && !this.reauthenticating) {
      this.closeReason = `SASL session of ${this.principal} expired (connections.max.reauth.ms) without re-authentication`
      return false
    }
    return this.authenticated || apiKey === API_VERSIONS
  }

  get enabledMechanisms(): string[] {
    return this.settings ? [...this.settings.mechanisms] : []
  }

  handshake(mechanism: string, version: number): number {
    // KIP-368: a session that may expire may be renewed, with SaslHandshake v1+ (v0's raw framing cannot interleave).
    const renewing = this.state === 'done' && this.expiresAtMs !== null && version >= 1
    if (renewing) {
      if (mechanism !== this.mechanism) {
        this.closeReason = `re-authentication asked for mechanism ${JSON.stringify(mechanism.slice(0, 40))}, the session used ${this.mechanism}`
        return ErrorCode.ILLEGAL_SASL_STATE
      }
      this.authenticator = createAuthenticator(this.mechanism, this.settings!.store)
      this.state = 'exchange'
      this.reauthenticating = true
      return ErrorCode.NONE
    }
    if (!this.usesSasl || this.state !== 'handshake' || !this.settings) {
      this.closeReason = 'SaslHandshake on a connection that is not waiting for one'
      return ErrorCode.ILLEGAL_SASL_STATE
    }
    if (!isSaslMechanism(mechanism) || !this.settings.mechanisms.includes(mechanism)) {
      this.closeReason = `SaslHandshake asked for mechanism ${JSON.stringify(mechanism.slice(0, 40))}, not enabled`
      return ErrorCode.UNSUPPORTED_SASL_MECHANISM
    }
    this.mechanism = mechanism
    this.authenticator = createAuthenticator(mechanism, this.settings.store)
    this.state = 'exchange'
    this.legacyFraming = version === 0
    return ErrorCode.NONE
  }

  /** One SASL token (SaslAuthenticate bytes or a legacy raw frame). */
  authenticate(token: Buffer): AuthenticateOutcome {
    if (this.state !== 'exchange' || !this.authenticator) {
      this.closeReason = 'SaslAuthenticate before a successful SaslHandshake'
      return { ok: false, errorCode: ErrorCode.ILLEGAL_SASL_STATE, message: 'SaslAuthenticate before SaslHandshake' }
    }
    try {
      const step = this.authenticator.step(token)
      if (!step.done) return { ok: true, challenge: step.challenge, sessionLifetimeMs: 0 }
      const principal = `User:${step.user}`
      if (this.reauthenticating && principal !== this.principal) {
        this.closeReason = `re-authentication as ${principal} on a connection of ${this.principal}`
        this.authenticator = undefined
        return { ok: false, errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, message: 'Re-authentication must use the same principal' }
      }
      this.state = 'done'
      this.reauthenticating = false
      this.legacyFraming = false
      this.principal = principal
      const lifetime = this.settings?.reauthMs ?? 0
      this.expiresAtMs = lifetime > 0 ? Date.now() + lifetime : null
      return { ok: true, challenge: step.challenge, sessionLifetimeMs: lifetime }
    } catch (error) {
      const kind = error instanceof SaslAuthenticationError ? 'invalid credentials' : `malformed message (${(error as Error).message})`
      this.closeReason = `SASL ${this.mechanism ?? ''} authentication failed: ${kind}`
      this.authenticator = undefined
      return {
        ok: false,
        errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED,
        message: `Authentication failed during authentication due to invalid credentials with SASL mechanism ${this.mechanism ?? ''}`,
      }
    }
  }
}
