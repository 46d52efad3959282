/**
 * Issue 17, listeners per broker in cluster mode: the etcd registration with every listener's
 * endpoint (and the one-address form of the release before, still readable), which endpoint a
 * request on a listener is told, and what a broker advertises per listener.
 */
import { describe, expect, it } from 'vitest'
import { encodeBrokerRegistration, MalformedMetadataError, parseBrokerRegistration } from '../../src/cluster/metadata-layout.js'
import { brokersOn, endpointFor } from '../../src/core/broker-endpoints.js'
import type { ClusterBrokerView } from '../../src/core/cluster-view.js'
import { serveConfig } from '../../src/cli/serve.js'
import { InvalidConfigError } from '../../src/errors.js'
import { advertisedEndpoints, resolveListeners } from '../../src/security/listeners.js'

const KEY = '/ringlog/c/brokers/1'
const ENDPOINTS = [
  { listener: 'PLAINTEXT', securityProtocol: 'PLAINTEXT', host: '10.0.0.1', port: 9092 },
  { listener: 'SASL_SSL', securityProtocol: 'SASL_SSL', host: 'b1.example.com', port: 9093 },
]

describe('broker registration value', () => {
  it('round-trips every listener endpoint beside the inter-broker host and port', () => {
    const value = { host: 'b1.example.com', port: 9093, endpoints: ENDPOINTS, startedAt: 1_700_000_000_000, incarnation: 2 }
    const text = encodeBrokerRegistration(value)
    // An older release's reader needs only host, port, startedAt and incarnation: all still there.
    expect(JSON.parse(text)).toMatchObject({ host: 'b1.example.com', port: 9093, startedAt: 1_700_000_000_000, incarnation: 2 })
    expect(parseBrokerRegistration(KEY, text)).toEqual(value)
    expect(parseBrokerRegistration(KEY, encodeBrokerRegistration({ ...value, rack: 'r1' })).rack).toBe('r1')
  })

  it('reads the one-address form of the release before (no endpoints)', () => {
    const old = '{"host":"127.0.0.1","port":9092,"startedAt":5,"incarnation":1}'
    const parsed = parseBrokerRegistration(KEY, old)
    expect(parsed).toEqual({ host: '127.0.0.1', port: 9092, startedAt: 5, incarnation: 1 })
    expect(parsed.endpoints).toBeUndefined()
  })

  it('refuses malformed endpoints', () => {
    const base = { host: 'h', port: 1, startedAt: 1, incarnation: 1 }
    for (const endpoints of [
      'PLAINTEXT://h:1',
      [{ listener: 'PLAINTEXT', securityProtocol: 'PLAINTEXT', host: 'h' }],
      [{ listener: 'PLAINTEXT', securityProtocol: 'PLAINTEXT', host: 'h', port: 70_000 }],
      [{ listener: 'PLAINTEXT', securityProtocol: 'PLAINTEXT', host: 'h', port: 1 }, { listener: 'PLAINTEXT', securityProtocol: 'PLAINTEXT', host: 'g', port: 2 }],
    ]) {
      expect(() => parseBrokerRegistration(KEY, JSON.stringify({ ...base, endpoints }))).toThrow(MalformedMetadataError)
    }
  })
})

describe('per-listener endpoint choice', () => {
  const current: ClusterBrokerView = { id: 1, host: 'b1.example.com', port: 9093, endpoints: ENDPOINTS }
  const plaintextOnly: ClusterBrokerView = { id: 2, host: '10.0.0.2', port: 9092, endpoints: [{ ...ENDPOINTS[0], host: '10.0.0.2' }] }
  const older: ClusterBrokerView = { id: 3, host: '10.0.0.3', port: 9500, endpoints: null }

  it('names each broker at its endpoint on the listener asked about', () => {
    expect(endpointFor(current, 'PLAINTEXT')).toEqual({ host: '10.0.0.1', port: 9092 })
    expect(endpointFor(current, 'SASL_SSL')).toEqual({ host: 'b1.example.com', port: 9093 })
    expect(endpointFor(plaintextOnly, 'SASL_SSL')).toBeUndefined()
  })

  it('answers a broker of the release before at its one address on every listener', () => {
    expect(endpointFor(older, 'SASL_SSL')).toEqual({ host: '10.0.0.3', port: 9500 })
    expect(endpointFor(older, 'PLAINTEXT')).toEqual({ host: '10.0.0.3', port: 9500 })
  })

  it('leaves out the brokers without the listener', () => {
    const all = [current, plaintextOnly, older]
    expect(brokersOn(all, 'SASL_SSL')).toEqual([{ id: 1, host: 'b1.example.com', port: 9093 }, { id: 3, host: '10.0.0.3', port: 9500 }])
    expect(brokersOn(all, 'PLAINTEXT').map((b) => b.id)).toEqual([1, 2, 3])
    expect(brokersOn(all, 'SSL').map((b) => b.id)).toEqual([3])
  })
})

describe('advertised endpoints', () => {
  const base = { host: '127.0.0.1', port: 9092, listeners: [] as string[], advertisedListeners: [] as string[], advertisedHost: '' }

  it('takes the advertised spec, else --advertised-host, else the bound host, else --host for a wildcard; the bound port when the port is 0', () => {
    const config = { ...base, listeners: ['PLAINTEXT://0.0.0.0:0', 'SASL_PLAINTEXT://10.1.1.1:9093', 'SSL://0.0.0.0:9094'], advertisedListeners: ['SSL://tls.example.com:443'] }
    const bound = new Map([['PLAINTEXT', 40_001], ['SASL_PLAINTEXT', 9093], ['SSL', 9094]])
    expect(advertisedEndpoints(resolveListeners(config), config, (l) => bound.get(l.protocol)!)).toEqual([
      { listener: 'PLAINTEXT', securityProtocol: 'PLAINTEXT', host: '127.0.0.1', port: 40_001 },
      { listener: 'SASL_PLAINTEXT', securityProtocol: 'SASL_PLAINTEXT', host: '10.1.1.1', port: 9093 },
      { listener: 'SSL', securityProtocol: 'SSL', host: 'tls.example.com', port: 443 },
    ])
    const withHost = { ...config, advertisedHost: 'node1.example.com' }
    expect(advertisedEndpoints(resolveListeners(withHost), withHost, (l) => bound.get(l.protocol)!).map((e) => e.host))
      .toEqual(['node1.example.com', 'node1.example.com', 'tls.example.com'])
  })

  it('the default single PLAINTEXT listener is --host:--port', () => {
    expect(advertisedEndpoints(resolveListeners(base), base, (l) => l.port)).toEqual([{ listener: 'PLAINTEXT', securityProtocol: 'PLAINTEXT', host: '127.0.0.1', port: 9092 }])
  })

  it('refuses to advertise a wildcard', () => {
    const config = { ...base, host: '0.0.0.0', listeners: ['PLAINTEXT://0.0.0.0:9092'] }
    expect(() => advertisedEndpoints(resolveListeners(config), config, (l) => l.port)).toThrow(InvalidConfigError)
  })
})

describe('cluster mode start-up checks', () => {
  it('refuses a listener whose only address is a wildcard, naming the settings that would fix it', () => {
    const wildcard = { etcd: '127.0.0.1:2379', host: '0.0.0.0', listener: ['PLAINTEXT://0.0.0.0:9092'] }
    expect(() => serveConfig(wildcard, {})).toThrow(/the PLAINTEXT listener binds 0.0.0.0, which other brokers and clients cannot reach: give advertisedListeners PLAINTEXT:\/\/host:port or advertisedHost/)
    expect(() => serveConfig({ host: '0.0.0.0', listener: ['PLAINTEXT://0.0.0.0:9092'] }, { RINGLOG_ETCD: '127.0.0.1:2379' })).toThrow(InvalidConfigError)
    // Each way out is accepted; a single node advertises the address a client reached, so it needs none.
    expect(serveConfig({ ...wildcard, advertisedListener: ['PLAINTEXT://kafka1.example.com:9092'] }, {}).advertisedListeners).toEqual(['PLAINTEXT://kafka1.example.com:9092'])
    expect(serveConfig({ ...wildcard, advertisedHost: 'kafka1.example.com' }, {}).advertisedHost).toBe('kafka1.example.com')
    expect(serveConfig({ host: '0.0.0.0', listener: ['PLAINTEXT://0.0.0.0:9092'] }, {}).etcd).toBe('')
    // --host still names a wildcard listener's address in a cluster, as before listeners were per broker.
    expect(serveConfig({ ...wildcard, host: '10.0.0.5' }, {}).host).toBe('10.0.0.5')
  })
})
