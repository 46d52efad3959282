/**
 * One SASL authentication of a connection: the mechanism the handshake chose and its state,
 * fed one token at a time (SaslAuthenticate bytes or a legacy raw frame). PLAIN is one step
 * (RFC 4616: authzid NUL user NUL password) checked against the SCRAM credential store.
 */
import { ScramServer, SaslAuthenticationError, SaslProtocolError, type StepResult } from './scram-server.js'
import { isScramMechanism } from './scram-keys.js'
import type { CredentialStore } from './credential-store.js'

export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const
export type SaslMechanism = (typeof SASL_MECHANISMS)[number]

export function isSaslMechanism(name: string): name is SaslMechanism {
  return (SASL_MECHANISMS as readonly string[]).includes(name)
}

export interface SaslAuthenticator {
  step(token: Buffer): StepResult
}

class PlainServer implements SaslAuthenticator {
  private used = false
  constructor(private readonly store: CredentialStore) {}

  step(token: Buffer): StepResult {
    if (this.used) throw new SaslProtocolError('PLAIN takes one message')
    this.used = true
    const parts = token.toString('utf8').split('\0')
    if (parts.length !== 3 || parts[1] === '') throw new SaslProtocolError('malformed PLAIN message')
    const [authzid, user, password] = parts
    if (authzid !== '' && authzid !== user) throw new SaslAuthenticationError('authorization id differs from the user')
    if (!this.store.checkPassword(user, password)) throw new SaslAuthenticationError('bad password')
    return { done: true, challenge: Buffer.alloc(0), user }
  }
}

export function createAuthenticator(mechanism: SaslMechanism, store: CredentialStore): SaslAuthenticator {
  if (isScramMechanism(mechanism)) return new ScramServer(mechanism, (user) => store.get(user, mechanism))
  return new PlainServer(store)
}
