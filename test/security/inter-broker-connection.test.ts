/**
 * The one way brokers open connections to each other (kafka-client/inter-broker-connection.ts):
 * settings from the broker config (listener protocol, SASL login, TLS files), a login on a real
 * SASL_PLAINTEXT / SASL_SSL listener, and a refused login that is thrown and logged, once per
 * peer and interval rather than at every retry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiKey } from '../../src/kafka-client/kafka-wire-client.js'
import { configureInterBroker, connectInterBroker, interBrokerProtocol, interBrokerSettingsOf } from '../../src/kafka-client/inter-broker-connection.js'
import { ALICE, startSecureBroker, type SecureBroker } from './secure-broker.js'

const BASE = { listeners: [] as string[], interBrokerListener: '', interBrokerSasl: '', interBrokerSaslMechanism: 'SCRAM-SHA-512', tlsCaFile: '', tlsCertFile: '', tlsKeyFile: '' }

describe('inter-broker connections', () => {
  let secure: SecureBroker

  beforeAll(async () => {
    secure = await startSecureBroker()
  }, 60_000)

  afterAll(async () => {
    configureInterBroker({ protocol: 'PLAINTEXT' })
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
      configureInterBroker(interBrokerSettingsOf({
        ...BASE, listeners: [`${listener}://127.0.0.1:${port}`], interBrokerSasl: `${ALICE.user}:${ALICE.password}`, tlsCaFile: secure.certs.caCert,
      }))
      const client = await connectInterBroker(`127.0.0.1:${port}`, { clientId: 'inter-broker-test', requestTimeoutMs: 5_000 })
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
    configureInterBroker(interBrokerSettingsOf({ ...BASE, listeners: [`SASL_PLAINTEXT://127.0.0.1:${secure.saslPlaintext}`], interBrokerSasl: `${ALICE.user}:wrong` }), (line) => lines.push(line))
    const peer = `127.0.0.1:${secure.saslPlaintext}`
    for (let attempt = 0; attempt < 3; attempt++) {
      await expect(connectInterBroker(peer, { requestTimeoutMs: 5_000 })).rejects.toThrow(/SASL_AUTHENTICATION_FAILED/)
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
    configureInterBroker({ protocol: 'PLAINTEXT' })
    await secure?.close()
  })

  it('is refused per partition and the leader says once what the follower\'s principal lacks', async () => {
    configureInterBroker(interBrokerSettingsOf({ ...BASE, listeners: [`SASL_PLAINTEXT://127.0.0.1:${secure.saslPlaintext}`], interBrokerSasl: `${ALICE.user}:${ALICE.password}` }))
    const client = await connectInterBroker(`127.0.0.1:${secure.saslPlaintext}`, { requestTimeoutMs: 5_000 })
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
