/**
 * A minimal SASL client for the security tests: one socket (plain or TLS), request frames built
 * with the generated codecs, whole response frames back, and an RFC 5802 SCRAM client whose
 * messages a test can tamper with.
 */
import { createHmac, pbkdf2Sync, randomBytes } from 'node:crypto'
import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { encodeRequestHeader, responseHeaderVersion, decodeResponseHeader } from '../../src/protocol/headers.js'
import { Reader, Writer } from '../../src/protocol/primitives.js'
import { decodeSaslHandshakeResponse, encodeSaslHandshakeRequest, type SaslHandshakeResponse } from '../../src/protocol/messages/sasl-handshake.js'
import { decodeSaslAuthenticateResponse, encodeSaslAuthenticateRequest, type SaslAuthenticateResponse } from '../../src/protocol/messages/sasl-authenticate.js'
import { digest, hmac, deriveCredential, type ScramMechanism } from '../../src/security/scram-keys.js'
import { encodeMetadataRequest } from '../../src/protocol/messages/metadata.js'
import { encodeApiVersionsRequest } from '../../src/protocol/messages/api-versions.js'

export class SaslWire {
  private buffered = Buffer.alloc(0)
  private waiters: ((frame: Buffer | null) => void)[] = []
  private frames: Buffer[] = []
  private correlation = 1
  closed = false
  readonly whenClosed: Promise<void>

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', () => undefined)
    this.whenClosed = new Promise((resolve) => socket.once('close', () => {
      this.closed = true
      for (const w of this.waiters.splice(0)) w(null)
      resolve()
    }))
  }

  static connect(port: number, tls?: { ca: Buffer; cert?: Buffer; key?: Buffer }): Promise<SaslWire> {
    return new Promise((resolve, reject) => {
      const socket = tls
        ? tlsConnect({ host: '127.0.0.1', port, ca: tls.ca, cert: tls.cert, key: tls.key, servername: 'localhost' }, () => resolve(new SaslWire(socket)))
        : netConnect({ host: '127.0.0.1', port }, () => resolve(new SaslWire(socket)))
      socket.once('error', reject)
    })
  }

  private onData(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk])
    while (this.buffered.length >= 4 && this.buffered.length >= 4 + this.buffered.readInt32BE(0)) {
      const size = this.buffered.readInt32BE(0)
      const frame = this.buffered.subarray(4, 4 + size)
      this.buffered = this.buffered.subarray(4 + size)
      const waiter = this.waiters.shift()
      if (waiter) waiter(frame)
      else this.frames.push(frame)
    }
  }

  /** The next frame (size prefix removed), or null when the broker closed the connection. */
  nextFrame(): Promise<Buffer | null> {
    const frame = this.frames.shift()
    if (frame) return Promise.resolve(frame)
    if (this.closed) return Promise.resolve(null)
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  /** Writes a size-prefixed frame of `body`. */
  writeRaw(body: Buffer): void {
    const size = Buffer.alloc(4)
    size.writeInt32BE(body.length)
    this.socket.write(Buffer.concat([size, body]))
  }

  private request(apiKey: number, version: number, encode: (w: Writer) => void): Promise<Reader | null> {
    const correlationId = this.correlation++
    const w = new Writer(128)
    encodeRequestHeader(w, { apiKey, apiVersion: version, correlationId, clientId: 'sasl-wire' })
    encode(w)
    this.writeRaw(Buffer.from(w.finish()))
    return this.nextFrame().then((frame) => {
      if (!frame) return null
      const r = new Reader(frame)
      if (decodeResponseHeader(r, responseHeaderVersion(apiKey, version)) !== correlationId) throw new Error('correlation id mismatch')
      return r
    })
  }

  async handshake(mechanism: string, version = 1): Promise<SaslHandshakeResponse | null> {
    const r = await this.request(17, version, (w) => encodeSaslHandshakeRequest(w, version, { mechanism }))
    return r && decodeSaslHandshakeResponse(r, version)
  }

  async authenticate(bytes: Buffer, version = 2): Promise<SaslAuthenticateResponse | null> {
    const r = await this.request(36, version, (w) => encodeSaslAuthenticateRequest(w, version, { authBytes: bytes }))
    return r && decodeSaslAuthenticateResponse(r, version)
  }

  /** Metadata v1 for no topics; null when the broker closed the connection instead. */
  async metadata(): Promise<Reader | null> {
    return this.request(3, 1, (w) => encodeMetadataRequest(w, 1, { topics: [] }))
  }

  async apiVersions(): Promise<Reader | null> {
    return this.request(18, 0, (w) => encodeApiVersionsRequest(w, 0, {}))
  }

  close(): void {
    this.socket.destroy()
  }
}

/** The client side of SCRAM (RFC 5802); `tamper` may rewrite the client-final message. */
export class ScramClient {
  readonly clientNonce = randomBytes(18).toString('base64')
  private clientFirstBare = ''
  private expectedServerSignature = ''

  constructor(private readonly mechanism: ScramMechanism, private readonly user: string, private readonly password: string) {}

  first(): Buffer {
    this.clientFirstBare = `n=${this.user.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=${this.clientNonce}`
    return Buffer.from(`n,,${this.clientFirstBare}`)
  }

  final(serverFirst: Buffer, tamper: (withoutProof: string) => string = (m) => m): Buffer {
    const text = serverFirst.toString()
    const attrs = new Map(text.split(',').map((p) => [p[0], p.slice(2)] as const))
    const nonce = attrs.get('r')!
    if (!nonce.startsWith(this.clientNonce)) throw new Error('server nonce does not extend the client nonce')
    const credential = deriveCredential(this.mechanism, this.password, Buffer.from(attrs.get('s')!, 'base64'), Number(attrs.get('i')))
    const withoutProof = tamper(`c=biws,r=${nonce}`)
    const authMessage = `${this.clientFirstBare},${text},${withoutProof}`
    const salted = credential
    const clientKey = recoverClientKey(this.mechanism, this.password, Buffer.from(attrs.get('s')!, 'base64'), Number(attrs.get('i')))
    const signature = hmac(this.mechanism, salted.storedKey, authMessage)
    const proof = Buffer.alloc(clientKey.length)
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i] ^ signature[i]
    this.expectedServerSignature = hmac(this.mechanism, salted.serverKey, authMessage).toString('base64')
    if (!digest(this.mechanism, clientKey).equals(salted.storedKey)) throw new Error('client key derivation is inconsistent')
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`)
  }

  /** True when the server-final message carries the signature only a holder of ServerKey can make. */
  verifies(serverFinal: Buffer): boolean {
    return serverFinal.toString() === `v=${this.expectedServerSignature}`
  }
}

/** ClientKey = HMAC(SaltedPassword, "Client Key"), computed independently of src/ (the client side). */
function recoverClientKey(mechanism: ScramMechanism, password: string, salt: Buffer, iterations: number): Buffer {
  const hash = mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512'
  const salted = pbkdf2Sync(password, salt, iterations, hash === 'sha256' ? 32 : 64, hash)
  return createHmac(hash, salted).update('Client Key').digest()
}
