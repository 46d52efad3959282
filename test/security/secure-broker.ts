/** An in-process broker with PLAINTEXT, SASL_PLAINTEXT and SASL_SSL listeners and two users, for the security tests. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTestBroker, type TestBroker } from '../broker/test-broker.js'
import type { BrokerLogger } from '../../src/broker/logger.js'
import { CredentialStore } from '../../src/security/credential-store.js'
import { newCredential } from '../../src/security/scram-keys.js'
import { makeCerts, type TestCerts } from './certs.js'

export const ALICE = { user: 'alice', password: 's3cret' }

export interface SecureBroker {
  broker: TestBroker
  certs: TestCerts
  plaintext: number
  saslPlaintext: number
  saslSsl: number
  close(): Promise<void>
}

export async function startSecureBroker(logger?: BrokerLogger, extra: Record<string, unknown> = {}): Promise<SecureBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'ringlog-security-'))
  const certs = makeCerts(dir)
  const dataDir = join(dir, 'data')
  const store = CredentialStore.open(dataDir)
  store.set(ALICE.user, 'SCRAM-SHA-512', newCredential('SCRAM-SHA-512', ALICE.password))
  store.set(ALICE.user, 'SCRAM-SHA-256', newCredential('SCRAM-SHA-256', ALICE.password))
  const broker = await startTestBroker({
    listeners: ['PLAINTEXT://127.0.0.1:0', 'SASL_PLAINTEXT://127.0.0.1:0', 'SASL_SSL://127.0.0.1:0'],
    tlsCertFile: certs.brokerCert, tlsKeyFile: certs.brokerKey, ...extra,
  } as never, logger, dataDir)
  const port = (protocol: 'PLAINTEXT' | 'SASL_PLAINTEXT' | 'SASL_SSL'): number => broker.server.listenerAddress(protocol)!.port
  return {
    broker, certs, plaintext: port('PLAINTEXT'), saslPlaintext: port('SASL_PLAINTEXT'), saslSsl: port('SASL_SSL'),
    close: async () => {
      await broker.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
