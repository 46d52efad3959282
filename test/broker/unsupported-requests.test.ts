/**
 * An unknown API key and an unsupported version of a served API: the connection closes (no
 * response body the client could decode exists, as in Kafka) and the broker's log names the
 * API, the version, the client id and the software the client named in ApiVersions v3.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BrokerLogger, LogFields } from '../../src/broker/logger.js'
import { RawClient } from './raw-client.js'
import { startTestBroker, type TestBroker } from './test-broker.js'

const warnings: { message: string; fields?: LogFields }[] = []
const logger: BrokerLogger = { error: () => {}, info: () => {}, warn: (message, fields) => { warnings.push({ message, fields }) } }
let broker: TestBroker

beforeAll(async () => {
  broker = await startTestBroker({}, logger)
})

afterAll(async () => {
  await broker?.destroy()
})

/** A request frame with client id "raw-client" (header v1) and a few body bytes. */
function frame(apiKey: number, version: number): Buffer {
  const body = Buffer.alloc(2 + 2 + 4 + 2 + 10 + 4)
  let at = body.writeInt16BE(apiKey, 0)
  at = body.writeInt16BE(version, at)
  at = body.writeInt32BE(7, at)
  at = body.writeInt16BE(10, at)
  at += body.write('raw-client', at)
  const out = Buffer.alloc(4 + body.length)
  out.writeInt32BE(body.length, 0)
  body.copy(out, 4)
  return out
}

describe('unknown and unsupported requests', () => {
  it('logs an unknown API key with the client id and the software it named, then closes', async () => {
    const c = await RawClient.connect(broker.port)
    const versions = await c.request<{ errorCode: number }>(18, 3, { clientSoftwareName: 'probe-client', clientSoftwareVersion: '9.1.0' })
    expect(versions.errorCode).toBe(0)
    c.write(frame(999, 0))
    expect(await c.closesWithin(5000)).toBe(true)
    const line = warnings.find((w) => w.fields?.apiKey === 999)
    expect(line?.message).toMatch(/unknown API key 999 \(v0\) from client id "raw-client", software probe-client 9\.1\.0; closing it/)
    expect(line?.fields).toMatchObject({ clientId: 'raw-client', clientSoftware: 'probe-client 9.1.0', apiVersion: 0 })
  })

  it('logs an unsupported version of a served API with the range served; a client that never named itself is "unnamed"', async () => {
    const c = await RawClient.connect(broker.port)
    c.write(frame(1, 17))
    expect(await c.closesWithin(5000)).toBe(true)
    const line = warnings.find((w) => w.fields?.apiKey === 1 && w.fields?.apiVersion === 17)
    expect(line?.message).toMatch(/unsupported version v17 of Fetch \(this broker serves v0-v16\) from client id "raw-client", software unnamed/)
  })
})
