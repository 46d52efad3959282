/**
 * SCRAM key derivation (RFC 5802 section 3, RFC 7677): what the credential store keeps for a
 * user instead of the password (salt, iterations, StoredKey, ServerKey), and the proof and
 * signature arithmetic both the SCRAM exchange and PLAIN verification use.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto'

export type ScramMechanism = 'SCRAM-SHA-256' | 'SCRAM-SHA-512'
export const SCRAM_MECHANISMS: readonly ScramMechanism[] = ['SCRAM-SHA-256', 'SCRAM-SHA-512']

/** Kafka's bounds for SCRAM iterations (ScramMechanism.minIterations / maxIterations). */
export const MIN_SCRAM_ITERATIONS = 4096
export const MAX_SCRAM_ITERATIONS = 16384
export const DEFAULT_SCRAM_ITERATIONS = 4096

export interface ScramCredential {
  salt: Buffer
  iterations: number
  storedKey: Buffer
  serverKey: Buffer
}

export function isScramMechanism(name: string): name is ScramMechanism {
  return (SCRAM_MECHANISMS as readonly string[]).includes(name)
}

function hashName(mechanism: ScramMechanism): 'sha256' | 'sha512' {
  return mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512'
}

function keyLength(mechanism: ScramMechanism): number {
  return mechanism === 'SCRAM-SHA-256' ? 32 : 64
}

export function hmac(mechanism: ScramMechanism, key: Buffer, data: string | Buffer): Buffer {
  return createHmac(hashName(mechanism), key).update(data).digest()
}

export function digest(mechanism: ScramMechanism, data: Buffer): Buffer {
  return createHash(hashName(mechanism)).update(data).digest()
}

/** StoredKey and ServerKey of `password` with this salt and iteration count. */
export function deriveCredential(mechanism: ScramMechanism, password: string, salt: Buffer, iterations: number): ScramCredential {
  return credentialFromSaltedPassword(mechanism, saltedPassword(mechanism, password, salt, iterations), salt, iterations)
}

/** Hi(Normalize(password), salt, i) of RFC 5802: what AlterUserScramCredentials carries instead of the password. */
export function saltedPassword(mechanism: ScramMechanism, password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, iterations, keyLength(mechanism), hashName(mechanism))
}

/** StoredKey and ServerKey from a salted password (AlterUserScramCredentials upsertions). */
export function credentialFromSaltedPassword(mechanism: ScramMechanism, salted: Buffer, salt: Buffer, iterations: number): ScramCredential {
  const clientKey = hmac(mechanism, salted, 'Client Key')
  return { salt, iterations, storedKey: digest(mechanism, clientKey), serverKey: hmac(mechanism, salted, 'Server Key') }
}

/** Kafka's ScramMechanism wire codes (DescribeUserScramCredentials / AlterUserScramCredentials). */
export const SCRAM_MECHANISM_CODES: Readonly<Record<ScramMechanism, number>> = { 'SCRAM-SHA-256': 1, 'SCRAM-SHA-512': 2 }

export function scramMechanismOfCode(code: number): ScramMechanism | undefined {
  return SCRAM_MECHANISMS.find((m) => SCRAM_MECHANISM_CODES[m] === code)
}

/** A fresh credential with a random 32-byte salt. */
export function newCredential(mechanism: ScramMechanism, password: string, iterations = DEFAULT_SCRAM_ITERATIONS): ScramCredential {
  return deriveCredential(mechanism, password, randomBytes(32), iterations)
}

/** Constant-time equality of two keys (false when the lengths differ). */
export function sameKey(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}

/** True when `password` derives exactly `credential`'s StoredKey (PLAIN against SCRAM credentials). */
export function passwordMatches(mechanism: ScramMechanism, credential: ScramCredential, password: string): boolean {
  return sameKey(deriveCredential(mechanism, password, credential.salt, credential.iterations).storedKey, credential.storedKey)
}
