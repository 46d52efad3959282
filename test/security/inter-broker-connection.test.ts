/**
 * The one way brokers open connections to each other (kafka-client/inter-broker-connection.ts):
 * settings from the broker config (listener protocol, SASL login, TLS files), a login on a real
 * SASL_PLAINTEXT / SASL_SSL listener, and a refused login that is thrown and logged, once per
 * peer and interval rather than at every retry.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { type AddressInfo, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ReplicaFetcher } from '../../src/cluster/replica-fetcher.js'
import type { LogEngine } from '../../src/engine/log-engine.js'
import { ApiKey } from '../../src/kafka-client/kafka-wire-client.js'
import { InterBrokerConnector, interBrokerProtocol, interBrokerSettingsOf } from '../../src/kafka-client/inter-broker-connection.js'
import { startTestBroker } from '../broker/test-broker.js'
import { makeCerts } from './certs.js'
import { ALICE, startSecureBroker, type SecureBroker } from './secure-broker.js'

const BASE = { listeners: [] as string[], interBrokerListener: '', interBrokerSasl: '', interBrokerSaslMechanism: 'SCRAM-SHA-512', tlsCaFile: '', tlsCertFile: '', tlsKeyFile: '' }

describe('inter-broker connections', () => {
  let secure: SecureBroker

  beforeAll(async () => {
    secure = await startSecureBroker()
  }, 60_000)

  afterAll(async () => {
    await secure?.close()
  })

  it('takes the named listener, else the first, else PLAINTEXT; a login only for SASL, TLS only for SSL', () => {
    expect(interBrokerProtocol(BASE)).toBe('PLAINTEXT')
    expect(interBrokerProtocol({ listeners: [' SASL_SSL://127.0.0.1:9093', 'PLAINTEXT://:9092'], interBrokerListener: '' })).toBe('SASL_SSL')
    expect(interBrokerProtocol({ listeners: ['SASL_SSL://127.0.0.1:9093', 'PLAINTEXT://:9092'], interBrokerListener: 'PLAINTEXT' })).toBe('PLAINTEXT')
    expect(interBrokerSettingsOf({ ...BASE, listeners: ['PLAINTEXT://:9092'], interBrokerSasl: 'b:pw' })).toEqual({ protocol: 'PLAINTEXT' })
    const sasl = interBrokerSettingsOf({ ...BASE, listeners: ['SASL_PLAINTEXT://:9093'], interBrokerSasl: 'broker:p:w', interBrokerSaslMechanism: 'PLAIN' })
    expect(sasl).toEqual({ protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'PLAIN', username: 'broker', password: 'p:w' } })
    const tls = interBrokerSettingsOf({ ...BASE, listeners: ['SASL_SSL://:9093'], interBrokerSasl: 'broker:pw', tlsCaFile: secure.certs.caCert, tlsCertFile: secure.certs.brokerCert, tlsKeyFile: secure.certs.brokerKey })
    expect(tls.tls?.ca).toBeInstanceOf(Buffer)
    expect(tls.tls?.cert).toBeInstanceOf(Buffer)
  })

  it('logs in on SASL_PLAINTEXT and SASL_SSL listeners and can then send requests', async () => {
    for (const [listener, port] of [['SASL_PLAINTEXT', secure.saslPlaintext], ['SASL_SSL', secure.saslSsl]] as const) {
      const connector = new InterBrokerConnector(interBrokerSettingsOf({
        ...BASE, listeners: [`${listener}://127.0.0.1:${port}`], interBrokerSasl: `${ALICE.user}:${ALICE.password}`, tlsCaFile: secure.certs.caCert,
      }))
      const client = await connector.connect(`127.0.0.1:${port}`, { clientId: 'inter-broker-test', requestTimeoutMs: 5_000 })
      try {
        const metadata = await client.request(ApiKey.Metadata, 9, { topics: [], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false })
        expect(metadata.brokers.length).toBe(1)
      } finally {
        await client.close()
      }
    }
  })

  it('a refused login is thrown and logged once per peer and interval, not at every retry', async () => {
    const lines: string[] = []
    const connector = new InterBrokerConnector(interBrokerSettingsOf({ ...BASE, listeners: [`SASL_PLAINTEXT://127.0.0.1:${secure.saslPlaintext}`], interBrokerSasl: `${ALICE.user}:wrong` }), (line) => lines.push(line))
    const peer = `127.0.0.1:${secure.saslPlaintext}`
    for (let attempt = 0; attempt < 3; attempt++) {
      await expect(connector.connect(peer, { requestTimeoutMs: 5_000 })).rejects.toThrow(/SASL_AUTHENTICATION_FAILED/)
    }
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(new RegExp(`^inter-broker connection to ${peer} over SASL_PLAINTEXT as alice \\(SCRAM-SHA-512\\) failed: SASL authentication failed`))
  })
})

describe('a replica fetch without CLUSTER_ACTION', () => {
  let secure: SecureBroker
  const warnings: string[] = []

  beforeAll(async () => {
    const logger = { error: () => {}, info: () => {}, warn: (message: string) => { warnings.push(message) } }
    secure = await startSecureBroker(logger, { authorizer: 'on', superUsers: ['User:admin'] })
  }, 60_000)

  afterAll(async () => {
    await secure?.close()
  })

  it('is refused per partition and the leader says once what the follower\'s principal lacks', async () => {
    const connector = new InterBrokerConnector(interBrokerSettingsOf({ ...BASE, listeners: [`SASL_PLAINTEXT://127.0.0.1:${secure.saslPlaintext}`], interBrokerSasl: `${ALICE.user}:${ALICE.password}` }))
    const client = await connector.connect(`127.0.0.1:${secure.saslPlaintext}`, { requestTimeoutMs: 5_000 })
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const r = await client.request(ApiKey.Fetch, 11, {
          replicaId: 2, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, rackId: '',
          topics: [{ topic: 'any-topic', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 16, currentLeaderEpoch: -1, logStartOffset: -1 }] }], forgottenTopicsData: [],
        })
        expect(r.responses[0].partitions[0].errorCode).toBe(29) // TOPIC_AUTHORIZATION_FAILED
      }
    } finally {
      await client.close()
    }
    const refusals = warnings.filter((w) => w.startsWith('replica fetch from broker 2 refused for User:alice: it needs CLUSTER_ACTION on the cluster'))
    expect(refusals, warnings.join('\n')).toHaveLength(1)
  })
})

describe('inter-broker settings belong to one broker', () => {
  // They were process-wide: a broker started with an SSL listener set them for the process, and a
  // replica fetcher created later in the same process (a test's, here) spoke TLS to a plaintext leader.
  it('a broker with an SSL listener in this process leaves a replica fetcher of its own settings speaking plaintext', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringlog-inter-broker-'))
    const certs = makeCerts(dir)
    const ssl = await startTestBroker({ listeners: ['SSL://127.0.0.1:0'], tlsCertFile: certs.brokerCert, tlsKeyFile: certs.brokerKey, tlsCaFile: certs.caCert }, undefined, join(dir, 'data'))
    let firstBytes: (chunk: Buffer) => void = () => undefined
    const received = new Promise<Buffer>((resolve) => { firstBytes = resolve })
    const leader = createServer((socket) => socket.once('data', (chunk: Buffer) => { firstBytes(chunk); socket.destroy() }))
    await new Promise<void>((resolve) => leader.listen(0, '127.0.0.1', resolve))
    const { port } = leader.address() as AddressInfo
    const fetcher = new ReplicaFetcher({ nodeId: 2, leaderId: 1, engine: { followerStaging: undefined } as unknown as LogEngine, address: () => ({ host: '127.0.0.1', port }) })
    try {
      fetcher.addPartition('t', 0, 0)
      const bytes = await received
      // A Kafka request (a 4-byte size, then ApiVersions, key 18), not a TLS ClientHello (0x16 0x03 ...).
      expect(bytes[0]).not.toBe(0x16)
      expect(bytes.readInt16BE(4)).toBe(ApiKey.ApiVersions)
    } finally {
      await fetcher.close()
      leader.close()
      await ssl.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
