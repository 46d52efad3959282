/**
 * SASL authentication of a wire-client connection, as ringlog's tools do it (`--sasl user:pw`):
 * SaslHandshake v1 then SaslAuthenticate, with PLAIN or SCRAM-SHA-256/512. A refused login is a
 * WireClientError of kind 'auth' carrying the broker's message.
 */
import { ErrorCode, errorCodeName } from '../protocol/error-codes.js'
import { isScramMechanism } from '../security/scram-keys.js'
import { ScramClient } from '../security/scram-client.js'
import { ApiKey, WireClientError, type KafkaWireClient } from './kafka-wire-client.js'

export const SASL_CLIENT_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const
export type SaslClientMechanism = (typeof SASL_CLIENT_MECHANISMS)[number]

export interface SaslLogin {
  mechanism: SaslClientMechanism
  username: string
  password: string
}

/** `user:password` (the password may hold colons) as a login with `mechanism`. */
export function parseSaslLogin(text: string, mechanism: string): SaslLogin {
  const colon = text.indexOf(':')
  if (colon <= 0) throw new WireClientError('auth', `--sasl must be user:password, got "${text}"`)
  if (!(SASL_CLIENT_MECHANISMS as readonly string[]).includes(mechanism)) {
    throw new WireClientError('auth', `--sasl-mechanism must be one of ${SASL_CLIENT_MECHANISMS.join(', ')}, got "${mechanism}"`)
  }
  return { mechanism: mechanism as SaslClientMechanism, username: text.slice(0, colon), password: text.slice(colon + 1) }
}

async function authenticateStep(client: KafkaWireClient, bytes: Buffer): Promise<Buffer> {
  const response = await client.request(ApiKey.SaslAuthenticate, client.version(ApiKey.SaslAuthenticate, { max: 2 }), { authBytes: bytes })
  if (response.errorCode !== ErrorCode.NONE) {
    throw new WireClientError('auth', `SASL authentication failed: ${errorCodeName(response.errorCode)}${response.errorMessage ? ` (${response.errorMessage})` : ''}`)
  }
  return response.authBytes
}

/** Authenticates a negotiated connection; throws WireClientError('auth') when the broker refuses. */
export async function saslAuthenticate(client: KafkaWireClient, login: SaslLogin): Promise<void> {
  const handshake = await client.request(ApiKey.SaslHandshake, 1, { mechanism: login.mechanism })
  if (handshake.errorCode !== ErrorCode.NONE) {
    throw new WireClientError('auth', `the broker does not accept SASL ${login.mechanism} here: ${errorCodeName(handshake.errorCode)} (it offers ${handshake.mechanisms.join(', ') || 'none'})`)
  }
  if (!isScramMechanism(login.mechanism)) {
    await authenticateStep(client, Buffer.from(`\u0000${login.username}\u0000${login.password}`, 'utf8'))
    return
  }
  const scram = new ScramClient(login.mechanism, login.username, login.password)
  const serverFirst = await authenticateStep(client, scram.firstMessage())
  let clientFinal: Buffer
  try {
    clientFinal = scram.finalMessage(serverFirst)
  } catch (error) {
    throw new WireClientError('auth', (error as Error).message)
  }
  const serverFinal = await authenticateStep(client, clientFinal)
  try {
    scram.checkServerFinal(serverFinal)
  } catch (error) {
    throw new WireClientError('auth', (error as Error).message)
  }
}
