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
}

const API_VERSIONS = 18
const SASL_HANDSHAKE = 17
const SASL_AUTHENTICATE = 36

export type AuthenticateOutcome =
  | { ok: true; challenge: Buffer }
  | { ok: false; errorCode: number; message: string }

export class SaslSession {
  private state: 'handshake' | 'exchange' | 'done' = 'handshake'
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
    return !this.usesSasl || this.state === 'done'
  }

  /** True when a request with this API key may run now. */
  admits(apiKey: number): boolean {
    return this.authenticated || apiKey === API_VERSIONS || apiKey === SASL_HANDSHAKE || apiKey === SASL_AUTHENTICATE
  }

  get enabledMechanisms(): string[] {
    return this.settings ? [...this.settings.mechanisms] : []
  }

  handshake(mechanism: string, version: number): number {
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
      if (step.done) {
        this.state = 'done'
        this.legacyFraming = false
        this.principal = `User:${step.user}`
      }
      return { ok: true, challenge: step.challenge }
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
