/**
 * SASL on the wire with a hand-made client (sasl-wire.ts): SCRAM-SHA-256/512 with the server
 * signature checked, PLAIN, the legacy raw framing after SaslHandshake v0, the pre-authentication
 * gate, wrong passwords (same answer for an unknown user), and malformed or tampered SCRAM
 * messages closing the connection while the broker keeps serving others.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import type { BrokerLogger } from '../../src/broker/logger.js'
import { ALICE, startSecureBroker, type SecureBroker } from './secure-broker.js'
import { SaslWire, ScramClient } from './sasl-wire.js'
import { readFileSync } from 'node:fs'

const warnings: string[] = []
const logger: BrokerLogger = {
  error: () => undefined, info: () => undefined, debug: () => undefined,
  warn: (message: string) => { warnings.push(message) },
} as unknown as BrokerLogger

let sb: SecureBroker

beforeAll(async () => {
  sb = await startSecureBroker(logger)
}, 120_000)

afterAll(async () => {
  await sb?.close()
})

async function scram(wire: SaslWire, mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512', user: string, password: string) {
  const hs = await wire.handshake(mechanism)
  expect(hs?.errorCode).toBe(ErrorCode.NONE)
  const client = new ScramClient(mechanism, user, password)
  const first = await wire.authenticate(client.first())
  expect(first?.errorCode).toBe(ErrorCode.NONE)
  const final = await wire.authenticate(client.final(first!.authBytes))
  return { client, final }
}

describe('SASL on the wire', () => {
  it('SCRAM-SHA-512 and SCRAM-SHA-256 authenticate, the server proves it holds ServerKey, then requests pass', async () => {
    for (const mechanism of ['SCRAM-SHA-512', 'SCRAM-SHA-256'] as const) {
      const wire = await SaslWire.connect(sb.saslPlaintext)
      const { client, final } = await scram(wire, mechanism, ALICE.user, ALICE.password)
      expect(final?.errorCode).toBe(ErrorCode.NONE)
      expect(client.verifies(final!.authBytes)).toBe(true)
      expect(await wire.metadata()).not.toBeNull()
      wire.close()
    }
  })

  it('a wrong password and an unknown user get the same SASL_AUTHENTICATION_FAILED answer, are logged with the peer, and close', async () => {
    const messages: string[] = []
    for (const [user, password] of [[ALICE.user, 'wrong'], ['mallory', ALICE.password]]) {
      const wire = await SaslWire.connect(sb.saslPlaintext)
      const { final } = await scram(wire, 'SCRAM-SHA-512', user, password)
      expect(final?.errorCode).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED)
      messages.push(final!.errorMessage ?? '')
      await wire.whenClosed
      expect(wire.closed).toBe(true)
    }
    expect(messages[0]).toBe(messages[1])
    expect(messages[0]).not.toMatch(/password|user/i)
    expect(warnings.some((w) => /127\.0\.0\.1:\d+: SASL SCRAM-SHA-512 authentication failed/.test(w))).toBe(true)
  })

  it('PLAIN checks the password against the SCRAM credentials', async () => {
    const ok = await SaslWire.connect(sb.saslPlaintext)
    expect((await ok.handshake('PLAIN'))?.errorCode).toBe(ErrorCode.NONE)
    expect((await ok.authenticate(Buffer.from(`\0${ALICE.user}\0${ALICE.password}`)))?.errorCode).toBe(ErrorCode.NONE)
    expect(await ok.metadata()).not.toBeNull()
    ok.close()
    const bad = await SaslWire.connect(sb.saslPlaintext)
    await bad.handshake('PLAIN')
    expect((await bad.authenticate(Buffer.from(`\0${ALICE.user}\0nope`)))?.errorCode).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED)
    await bad.whenClosed
  })

  it('SaslHandshake v0 switches to raw token frames (PLAIN and SCRAM), then Kafka framing resumes', async () => {
    const plain = await SaslWire.connect(sb.saslPlaintext)
    expect((await plain.handshake('PLAIN', 0))?.errorCode).toBe(ErrorCode.NONE)
    plain.writeRaw(Buffer.from(`\0${ALICE.user}\0${ALICE.password}`))
    expect((await plain.nextFrame())?.length).toBe(0)
    expect(await plain.metadata()).not.toBeNull()
    plain.close()

    const wire = await SaslWire.connect(sb.saslPlaintext)
    expect((await wire.handshake('SCRAM-SHA-256', 0))?.errorCode).toBe(ErrorCode.NONE)
    const client = new ScramClient('SCRAM-SHA-256', ALICE.user, ALICE.password)
    wire.writeRaw(client.first())
    const serverFirst = await wire.nextFrame()
    wire.writeRaw(client.final(serverFirst!))
    expect(client.verifies((await wire.nextFrame())!)).toBe(true)
    expect(await wire.metadata()).not.toBeNull()
    wire.close()

    const bad = await SaslWire.connect(sb.saslPlaintext)
    await bad.handshake('PLAIN', 0)
    bad.writeRaw(Buffer.from(`\0${ALICE.user}\0wrong`))
    expect(await bad.nextFrame()).toBeNull()
  })

  it('before authentication only ApiVersions and SASL pass; anything else closes the connection', async () => {
    const wire = await SaslWire.connect(sb.saslPlaintext)
    expect(await wire.apiVersions()).not.toBeNull()
    expect(await wire.metadata()).toBeNull()
    expect(wire.closed).toBe(true)
    const midway = await SaslWire.connect(sb.saslPlaintext)
    await midway.handshake('SCRAM-SHA-512')
    expect(await midway.metadata()).toBeNull()
    // The PLAINTEXT listener needs no authentication.
    const open = await SaslWire.connect(sb.plaintext)
    expect(await open.metadata()).not.toBeNull()
    open.close()
  })

  it('an unknown mechanism gets UNSUPPORTED_SASL_MECHANISM with the enabled list; SaslAuthenticate without a handshake ILLEGAL_SASL_STATE', async () => {
    const wire = await SaslWire.connect(sb.saslPlaintext)
    const hs = await wire.handshake('GSSAPI')
    expect(hs?.errorCode).toBe(ErrorCode.UNSUPPORTED_SASL_MECHANISM)
    expect(hs?.mechanisms.sort()).toEqual(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'])
    await wire.whenClosed
    const early = await SaslWire.connect(sb.saslPlaintext)
    expect((await early.authenticate(Buffer.from('n,,n=alice,r=abc')))?.errorCode).toBe(ErrorCode.ILLEGAL_SASL_STATE)
    await early.whenClosed
    const plaintext = await SaslWire.connect(sb.plaintext)
    expect((await plaintext.handshake('PLAIN'))?.errorCode).toBe(ErrorCode.ILLEGAL_SASL_STATE)
    await plaintext.whenClosed
  })

  it('malformed or tampered SCRAM messages close the connection and the broker keeps serving', async () => {
    const firsts = ['', 'garbage', 'n,,', 'n,,n=alice', 'p=tls-unique,,n=alice,r=abc', 'n,,n=al=ice,r=abc', 'n,,n=alice,r=abc,m=ext', Buffer.alloc(300, 0xff).toString('latin1')]
    for (const first of firsts) {
      const wire = await SaslWire.connect(sb.saslPlaintext)
      await wire.handshake('SCRAM-SHA-512')
      const answer = await wire.authenticate(Buffer.from(first, 'latin1'))
      expect(answer === null || answer.errorCode === ErrorCode.SASL_AUTHENTICATION_FAILED).toBe(true)
      await wire.whenClosed
    }
    const tampers: ((m: string) => string)[] = [
      (m) => m.replace('c=biws', 'c=eSws'),
      (m) => m.replace(/r=([^,]*)/, 'r=$1x'),
      (m) => m.replace(/r=[^,]*/, 'r=short'),
      (m) => m.slice(0, 5),
    ]
    for (const tamper of tampers) {
      const wire = await SaslWire.connect(sb.saslPlaintext)
      await wire.handshake('SCRAM-SHA-512')
      const client = new ScramClient('SCRAM-SHA-512', ALICE.user, ALICE.password)
      const first = await wire.authenticate(client.first())
      const final = await wire.authenticate(client.final(first!.authBytes, tamper))
      expect(final === null || final.errorCode === ErrorCode.SASL_AUTHENTICATION_FAILED).toBe(true)
      await wire.whenClosed
    }
    const wire = await SaslWire.connect(sb.saslSsl, { ca: readFileSync(sb.certs.caCert) })
    const { final } = await scram(wire, 'SCRAM-SHA-512', ALICE.user, ALICE.password)
    expect(final?.errorCode).toBe(ErrorCode.NONE)
    expect(await wire.metadata()).not.toBeNull()
    wire.close()
  })
})
