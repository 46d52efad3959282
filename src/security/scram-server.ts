/**
 * The server side of one SCRAM exchange (RFC 5802, RFC 7677): client-first -> server-first,
 * client-final -> server-final. Checks the channel-binding echo, that the client kept the
 * combined nonce, and the client proof against StoredKey; answers with the server signature.
 * An unknown user runs the same exchange on made-up keys and fails at the proof, so a
 * failure never tells which of user or password was wrong.
 */
import { randomBytes } from 'node:crypto'
import { digest, hmac, newCredential, sameKey, type ScramCredential, type ScramMechanism } from './scram-keys.js'

/** Bad bytes from the client: the connection is closed. */
export class SaslProtocolError extends Error {}
/** Well-formed but wrong credentials: SASL_AUTHENTICATION_FAILED. */
export class SaslAuthenticationError extends Error {}

export type StepResult = { done: false; challenge: Buffer } | { done: true; challenge: Buffer; user: string }

/** `a=1,b=2` into a map; SaslProtocolError on an attribute without `=`. */
function attributes(text: string): Map<string, string> {
  const map = new Map<string, string>()
  for (const part of text.split(',')) {
    const eq = part.indexOf('=')
    if (eq !== 1) throw new SaslProtocolError(`malformed SCRAM attribute "${part.slice(0, 20)}"`)
    map.set(part[0], part.slice(2))
  }
  return map
}

/** RFC 5802 saslname: `=2C` is a comma, `=3D` an equals sign, any other `=` is malformed. */
function decodeSaslName(name: string): string {
  if (/=(?!2C|3D)/.test(name)) throw new SaslProtocolError('malformed SCRAM user name')
  return name.replace(/=2C/g, ',').replace(/=3D/g, '=')
}

/** Node's base64 decoder skips junk and missing padding; a proof must be canonical base64. */
function strictBase64(text: string): Buffer {
  const bytes = Buffer.from(text, 'base64')
  if (bytes.toString('base64') !== text) throw new SaslProtocolError('SCRAM proof is not canonical base64')
  return bytes
}

const PRINTABLE_NONCE = /^[\x21-\x2b\x2d-\x7e]+$/

export class ScramServer {
  private state: 'first' | 'final' | 'done' = 'first'
  private gs2Header = ''
  private clientFirstBare = ''
  private serverFirst = ''
  private nonce = ''
  private clientNonce = ''
  private user = ''
  private credential: ScramCredential | undefined
  private known = false

  constructor(private readonly mechanism: ScramMechanism, private readonly lookup: (user: string) => ScramCredential | undefined) {}

  step(token: Buffer): StepResult {
    const text = token.toString('utf8')
    if (this.state === 'first') return this.first(text)
    if (this.state === 'final') return this.final(text)
    throw new SaslProtocolError('SCRAM exchange already finished')
  }

  private first(text: string): StepResult {
    // gs2-header: "n,," or "y,," (no channel binding), optionally with "a=authzid".
    const match = /^([ny]),(a=[^,]*)?,(.*)$/s.exec(text)
    if (!match) throw new SaslProtocolError('malformed SCRAM client-first message')
    this.gs2Header = text.slice(0, text.length - match[3].length)
    this.clientFirstBare = match[3]
    const attrs = attributes(this.clientFirstBare)
    const name = attrs.get('n')
    const clientNonce = attrs.get('r')
    if (name === undefined || name === '' || clientNonce === undefined || !PRINTABLE_NONCE.test(clientNonce)) throw new SaslProtocolError('SCRAM client-first message needs n= and r=')
    if (attrs.has('m')) throw new SaslProtocolError('SCRAM extensions (m=) are not supported')
    this.user = decodeSaslName(name)
    const authzid = match[2]?.slice(2)
    if (authzid && decodeSaslName(authzid) !== this.user) throw new SaslAuthenticationError('authorization id differs from the user')
    const found = this.lookup(this.user)
    this.known = found !== undefined
    this.credential = found ?? newCredential(this.mechanism, randomBytes(16).toString('hex'))
    this.clientNonce = clientNonce
    this.nonce = clientNonce + randomBytes(24).toString('base64url')
    this.serverFirst = `r=${this.nonce},s=${this.credential.salt.toString('base64')},i=${this.credential.iterations}`
    this.state = 'final'
    return { done: false, challenge: Buffer.from(this.serverFirst) }
  }

  private final(text: string): StepResult {
    this.state = 'done'
    const proofAt = text.lastIndexOf(',p=')
    if (proofAt < 0) throw new SaslProtocolError('SCRAM client-final message has no proof')
    const withoutProof = text.slice(0, proofAt)
    const attrs = attributes(withoutProof)
    const proof = strictBase64(text.slice(proofAt + 3))
    if (attrs.get('c') !== Buffer.from(this.gs2Header).toString('base64')) throw new SaslProtocolError('SCRAM channel binding does not match the client-first message')
    // librdkafka before 2.6.1 sends the client nonce twice (client nonce + the combined nonce);
    // Kafka 3.8.1-3.9 accepted that, so ringlog accepts exactly that form too (kcat on Debian).
    const echoed = attrs.get('r')
    if (echoed !== this.nonce && echoed !== this.clientNonce + this.nonce) throw new SaslProtocolError('SCRAM nonce does not match')
    const credential = this.credential!
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`
    const clientSignature = hmac(this.mechanism, credential.storedKey, authMessage)
    if (proof.length !== clientSignature.length) throw new SaslAuthenticationError('bad proof')
    const clientKey = Buffer.alloc(proof.length)
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i] ^ clientSignature[i]
    if (!sameKey(digest(this.mechanism, clientKey), credential.storedKey) || !this.known) throw new SaslAuthenticationError('bad proof')
    const serverSignature = hmac(this.mechanism, credential.serverKey, authMessage)
    return { done: true, challenge: Buffer.from(`v=${serverSignature.toString('base64')}`), user: this.user }
  }
}
