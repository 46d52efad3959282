/**
 * The client side of a SCRAM exchange (RFC 5802, RFC 7677), for ringlog's own tools: the
 * client-first message, the client-final message with its proof, and the check of the
 * server's signature (a broker that does not hold ServerKey cannot make it). Channel binding
 * is not used ("n,,"), as by every Kafka client.
 */
import { randomBytes } from 'node:crypto'
import { credentialFromSaltedPassword, hmac, MAX_SCRAM_ITERATIONS, MIN_SCRAM_ITERATIONS, saltedPassword, sameKey, type ScramMechanism } from './scram-keys.js'

export class ScramClientError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ScramClientError'
  }
}

function escapeName(user: string): string {
  return user.replace(/=/g, '=3D').replace(/,/g, '=2C')
}

function attributes(message: string): Map<string, string> {
  return new Map(message.split(',').map((part) => [part.slice(0, 1), part.slice(2)] as const))
}

export class ScramClient {
  private readonly clientNonce = randomBytes(24).toString('base64')
  private readonly clientFirstBare: string
  private expectedSignature: Buffer | null = null

  constructor(private readonly mechanism: ScramMechanism, user: string, private readonly password: string) {
    this.clientFirstBare = `n=${escapeName(user)},r=${this.clientNonce}`
  }

  firstMessage(): Buffer {
    return Buffer.from(`n,,${this.clientFirstBare}`)
  }

  /** The client-final message for the server-first message; throws when that message is not acceptable. */
  finalMessage(serverFirst: Buffer): Buffer {
    const text = serverFirst.toString('utf8')
    const attrs = attributes(text)
    const nonce = attrs.get('r') ?? ''
    const salt = Buffer.from(attrs.get('s') ?? '', 'base64')
    const iterations = Number(attrs.get('i'))
    if (attrs.has('e')) throw new ScramClientError(`the broker refused the login: ${attrs.get('e')}`)
    if (!nonce.startsWith(this.clientNonce) || nonce.length <= this.clientNonce.length) throw new ScramClientError('the broker answered with a bad SCRAM nonce')
    if (salt.length === 0 || !Number.isInteger(iterations) || iterations < MIN_SCRAM_ITERATIONS || iterations > MAX_SCRAM_ITERATIONS) {
      throw new ScramClientError('the broker answered with a bad SCRAM salt or iteration count')
    }
    const salted = saltedPassword(this.mechanism, this.password, salt, iterations)
    const clientKey = hmac(this.mechanism, salted, 'Client Key')
    const { storedKey, serverKey } = credentialFromSaltedPassword(this.mechanism, salted, salt, iterations)
    const withoutProof = `c=biws,r=${nonce}`
    const authMessage = `${this.clientFirstBare},${text},${withoutProof}`
    const signature = hmac(this.mechanism, storedKey, authMessage)
    const proof = Buffer.alloc(clientKey.length)
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i] ^ signature[i]
    this.expectedSignature = hmac(this.mechanism, serverKey, authMessage)
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`)
  }

  /** Throws unless the server-final message carries the signature only a holder of ServerKey can make. */
  checkServerFinal(serverFinal: Buffer): void {
    const attrs = attributes(serverFinal.toString('utf8'))
    if (attrs.has('e')) throw new ScramClientError(`the broker refused the login: ${attrs.get('e')}`)
    const signature = Buffer.from(attrs.get('v') ?? '', 'base64')
    if (!this.expectedSignature || !sameKey(signature, this.expectedSignature)) throw new ScramClientError('the broker did not prove it knows the credential (bad server signature)')
  }
}
