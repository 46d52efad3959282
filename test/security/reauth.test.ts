/**
 * KIP-368 re-authentication with `connectionsMaxReauthMs`: SaslAuthenticate v1+ announces the
 * session lifetime; SaslHandshake v1 + SaslAuthenticate on the open connection renew it (same
 * principal only); after the lifetime, a request other than the SASL ones closes the connection.
 * kafkajs, which re-authenticates on its own, keeps producing across several lifetimes.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import kafkajs from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { CredentialStore } from '../../src/security/credential-store.js'
import { newCredential } from '../../src/security/scram-keys.js'
import { startTestBroker, type TestBroker } from '../broker/test-broker.js'
import { SaslWire, ScramClient } from './sasl-wire.js'

const LIFETIME_MS = 2_000
let dir: string
let broker: TestBroker
let port: number

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ringlog-reauth-'))
  const store = CredentialStore.open(join(dir, 'data'))
  store.set('alice', 'SCRAM-SHA-256', newCredential('SCRAM-SHA-256', 'alice-pw'))
  store.set('bob', 'SCRAM-SHA-256', newCredential('SCRAM-SHA-256', 'bob-pw'))
  broker = await startTestBroker({ listeners: ['SASL_PLAINTEXT://127.0.0.1:0'], saslMechanisms: ['SCRAM-SHA-256'], connectionsMaxReauthMs: LIFETIME_MS, maxWorkers: 1 }, undefined, join(dir, 'data'))
  port = broker.server.listenerAddress('SASL_PLAINTEXT')!.port
}, 60_000)

afterAll(async () => {
  await broker?.stop()
  rmSync(dir, { recursive: true, force: true })
})

/** One SCRAM exchange on `wire`; the final SaslAuthenticate answer. */
async function scram(wire: SaslWire, user: string, password: string) {
  const handshake = await wire.handshake('SCRAM-SHA-256', 1)
  if (!handshake || handshake.errorCode !== ErrorCode.NONE) return handshake && { errorCode: handshake.errorCode, sessionLifetimeMs: 0 }
  const client = new ScramClient('SCRAM-SHA-256', user, password)
  const first = await wire.authenticate(client.first(), 1)
  if (!first || first.errorCode !== ErrorCode.NONE) return first
  return wire.authenticate(client.final(first.authBytes), 1)
}

describe('KIP-368 re-authentication', () => {
  it('announces the lifetime, renews on the same connection, refuses another principal', async () => {
    const wire = await SaslWire.connect(port)
    const login = await scram(wire, 'alice', 'alice-pw')
    expect(login).toMatchObject({ errorCode: ErrorCode.NONE, sessionLifetimeMs: LIFETIME_MS })
    expect(await wire.metadata()).not.toBeNull()
    const renewed = await scram(wire, 'alice', 'alice-pw')
    expect(renewed).toMatchObject({ errorCode: ErrorCode.NONE, sessionLifetimeMs: LIFETIME_MS })
    expect(await wire.metadata()).not.toBeNull()
    const other = await scram(wire, 'bob', 'bob-pw')
    expect(other?.errorCode).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED)
    await wire.whenClosed
    expect(wire.closed).toBe(true)
  }, 30_000)

  it('closes a connection whose session expired at its next request; kafkajs re-authenticates and keeps producing', async () => {
    const wire = await SaslWire.connect(port)
    expect((await scram(wire, 'alice', 'alice-pw'))?.errorCode).toBe(ErrorCode.NONE)
    const expiresAfter = Date.now() + LIFETIME_MS

    const kafka = new kafkajs.Kafka({
      clientId: 'reauth', brokers: [`127.0.0.1:${port}`], logLevel: kafkajs.logLevel.NOTHING, retry: { retries: 0 },
      sasl: { mechanism: 'scram-sha-256', username: 'alice', password: 'alice-pw' },
    })
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: 'reauth' }], waitForLeaders: true })
    await admin.disconnect()
    const producer = kafka.producer()
    await producer.connect()
    let sent = 0
    // Produce until well past two lifetimes of the producer's first session (bounded in count and time).
    const until = Date.now() + 2 * LIFETIME_MS + 500
    while (Date.now() < until && sent < 200) {
      await producer.send({ topic: 'reauth', messages: [{ value: `m${sent}` }] })
      sent++
      await new Promise((r) => setTimeout(r, 100))
    }
    await producer.disconnect()
    expect(sent).toBeGreaterThan(5)

    // The raw connection never re-authenticated: its first request after expiry closes it.
    while (Date.now() <= expiresAfter) await new Promise((r) => setTimeout(r, 50))
    expect(await wire.metadata()).toBeNull()
    expect(wire.closed).toBe(true)
  }, 60_000)
})
