/**
 * Seeded fuzz of the SASL state machine on the wire: random and mutated SCRAM/PLAIN tokens, in
 * the Kafka framing and the legacy raw framing, and random requests before authentication.
 * Every connection either authenticates legitimately (never with a wrong proof) or is closed;
 * no request other than ApiVersions/SASL is answered before authentication; the broker keeps
 * serving a well-behaved client throughout. Replay: RINGLOG_SEED=<n> (printed on failure).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { randomForTest, type SeededRandom } from '../seed.js'
import { ALICE, startSecureBroker, type SecureBroker } from './secure-broker.js'
import { SaslWire, ScramClient } from './sasl-wire.js'

let sb: SecureBroker

beforeAll(async () => {
  sb = await startSecureBroker()
}, 120_000)

afterAll(async () => {
  await sb?.close()
})

function randomBytes(random: SeededRandom, max: number): Buffer {
  const out = Buffer.alloc(random.int(max))
  for (let i = 0; i < out.length; i++) out[i] = random.int(256)
  return out
}

/** A valid-looking message with one byte changed, inserted or removed. */
function mutate(random: SeededRandom, message: Buffer): Buffer {
  const bytes = Buffer.from(message)
  const at = random.int(Math.max(1, bytes.length))
  const kind = random.int(3)
  if (kind === 0 && bytes.length > 0) { bytes[at] = (bytes[at] + 1 + random.int(255)) & 0xff; return bytes } // never the same byte
  if (kind === 1) return Buffer.concat([bytes.subarray(0, at), Buffer.from([random.int(256)]), bytes.subarray(at)])
  return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)])
}

async function legitimateClientWorks(): Promise<void> {
  const wire = await SaslWire.connect(sb.saslPlaintext)
  expect((await wire.handshake('PLAIN'))?.errorCode).toBe(ErrorCode.NONE)
  expect((await wire.authenticate(Buffer.from(`\0${ALICE.user}\0${ALICE.password}`)))?.errorCode).toBe(ErrorCode.NONE)
  expect(await wire.metadata()).not.toBeNull()
  wire.close()
}

describe('SASL fuzz', () => {
  it('random and mutated tokens never authenticate wrongly and never stop the broker', async () => {
    const random = randomForTest()
    for (let round = 0; round < 60; round++) {
      const mechanism = (['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const)[random.int(3)]
      const legacy = random.int(2) === 0
      const wire = await SaslWire.connect(sb.saslPlaintext)
      expect((await wire.handshake(mechanism, legacy ? 0 : 1))?.errorCode).toBe(ErrorCode.NONE)
      const send = async (token: Buffer): Promise<Buffer | null> => {
        if (legacy) {
          wire.writeRaw(token)
          return wire.nextFrame()
        }
        const answer = await wire.authenticate(token)
        return answer && answer.errorCode === ErrorCode.NONE ? answer.authBytes : null
      }
      let authenticated = false
      if (mechanism === 'PLAIN') {
        const good = Buffer.from(`\0${ALICE.user}\0${ALICE.password}`)
        const token = random.int(2) === 0 ? randomBytes(random, 200) : mutate(random, good)
        authenticated = (await send(token)) !== null
        // Only the exact credentials may pass (a mutation may turn the empty authzid into the user name).
        if (authenticated) expect([`\0${ALICE.user}\0${ALICE.password}`, `${ALICE.user}\0${ALICE.user}\0${ALICE.password}`]).toContain(token.toString('latin1'))
      } else {
        const client = new ScramClient(mechanism, ALICE.user, ALICE.password)
        const fuzzFirst = random.int(2) === 0
        const first = fuzzFirst ? (random.int(2) === 0 ? randomBytes(random, 200) : mutate(random, client.first())) : client.first()
        const serverFirst = await send(first)
        if (serverFirst !== null && !fuzzFirst) {
          const final = mutate(random, client.final(serverFirst))
          authenticated = (await send(final)) !== null
          // A mutated client-final can only pass if the mutation left the proof, nonce and binding valid (never observed).
          expect(authenticated).toBe(false)
        }
      }
      if (!authenticated) {
        expect(await wire.metadata()).toBeNull()
        expect(wire.closed).toBe(true)
      } else {
        expect(await wire.metadata()).not.toBeNull()
      }
      wire.close()
      if (round % 10 === 9) await legitimateClientWorks()
    }
  }, 120_000)

  it('random requests before authentication are refused by closing, except ApiVersions', async () => {
    const random = randomForTest()
    for (let round = 0; round < 40; round++) {
      const wire = await SaslWire.connect(sb.saslPlaintext)
      const apiKey = random.int(70)
      if (apiKey === 17 || apiKey === 18 || apiKey === 36) {
        wire.close()
        continue
      }
      const body = Buffer.alloc(8 + random.int(64))
      body.writeInt16BE(apiKey, 0)
      body.writeInt16BE(random.int(12), 2)
      body.writeInt32BE(round, 4)
      for (let i = 8; i < body.length; i++) body[i] = random.int(256)
      wire.writeRaw(body)
      expect(await wire.nextFrame()).toBeNull()
    }
    await legitimateClientWorks()
  }, 120_000)
})
