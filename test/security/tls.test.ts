/**
 * TLS listeners: mTLS (a client certificate signed by the CA is required; the principal is
 * User:<CN>), TLS 1.2 and 1.3 both accepted, and reloadSecurity (what SIGHUP calls) serving a
 * new certificate to new connections while an open connection keeps working.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type TLSSocket } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BrokerLogger } from '../../src/broker/logger.js'
import { startTestBroker, type TestBroker } from '../broker/test-broker.js'
import { issue, makeCerts, type TestCerts } from './certs.js'
import { SaslWire } from './sasl-wire.js'

const debug: string[] = []
const logger = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: (m: string) => { debug.push(m) } } as unknown as BrokerLogger

let dir: string
let certs: TestCerts
let broker: TestBroker
let port: number
let servedCert: string
let servedKey: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ringlog-tls-'))
  certs = makeCerts(dir)
  // The broker reads its own copies, so the test can replace them.
  servedCert = join(dir, 'served.pem')
  servedKey = join(dir, 'served.key')
  copyFileSync(certs.brokerCert, servedCert)
  copyFileSync(certs.brokerKey, servedKey)
  broker = await startTestBroker({ listeners: ['SSL://127.0.0.1:0'], tlsCertFile: servedCert, tlsKeyFile: servedKey, tlsCaFile: certs.caCert } as never, logger, join(dir, 'data'))
  port = broker.server.listenerAddress('SSL')!.port
}, 120_000)

afterAll(async () => {
  await broker?.stop()
  rmSync(dir, { recursive: true, force: true })
})

function clientTls() {
  return { ca: readFileSync(certs.caCert), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) }
}

describe('TLS listener', () => {
  it('with a CA file requires a client certificate and names the principal User:<CN>', async () => {
    const wire = await SaslWire.connect(port, clientTls())
    expect(await wire.metadata()).not.toBeNull()
    wire.close()
    expect(debug.some((m) => m.includes('client certificate User:carol'))).toBe(true)

    // Without a client certificate: TLS 1.2 fails the handshake, TLS 1.3 closes right after it; no request is answered.
    const noCert = await SaslWire.connect(port, { ca: readFileSync(certs.caCert) }).catch(() => null)
    expect(noCert === null || (await noCert.apiVersions()) === null).toBe(true)
  })

  it('speaks TLS 1.2 and TLS 1.3', async () => {
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      const wire = await SaslWire.connect(port, clientTls())
      wire.close()
      const socket = await new Promise<TLSSocket>((resolve, reject) => {
        const tls = clientTls()
        const s = connect({ host: '127.0.0.1', port, servername: 'localhost', ...tls, minVersion: version, maxVersion: version }, () => resolve(s))
        s.once('error', reject)
      })
      expect(socket.getProtocol()).toBe(version)
      socket.destroy()
    }
  })

  it('reloadSecurity serves a new certificate to new connections and keeps open ones', async () => {
    const open = await SaslWire.connect(port, clientTls())
    const before = (open.socket as TLSSocket).getPeerCertificate().serialNumber
    const renewed = issue(dir, 'renewed', 'localhost', 'IP:127.0.0.1,DNS:localhost')
    copyFileSync(renewed.cert, servedCert)
    copyFileSync(renewed.key, servedKey)
    broker.server.reloadSecurity()
    expect(await open.metadata()).not.toBeNull()
    const fresh = await SaslWire.connect(port, clientTls())
    const after = (fresh.socket as TLSSocket).getPeerCertificate().serialNumber
    expect(after).not.toBe(before)
    expect(await fresh.metadata()).not.toBeNull()
    open.close()
    fresh.close()
  })
})
