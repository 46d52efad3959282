/**
 * Listener settings: the flag (repeatable), environment and config-file forms, range and
 * consistency checks naming the setting, the default single PLAINTEXT listener, and Metadata on
 * each listener naming that listener's (advertised) address.
 */
import { describe, expect, it } from 'vitest'
import { InvalidConfigError } from '../../src/errors.js'
import { resolveConfig } from '../../src/config.js'
import { serveConfig } from '../../src/cli/serve.js'
import { resolveListeners } from '../../src/security/listeners.js'
import { decodeMetadataResponse } from '../../src/protocol/messages/metadata.js'
import { startTestBroker } from '../broker/test-broker.js'
import { SaslWire } from './sasl-wire.js'

describe('listener settings', () => {
  it('default: one PLAINTEXT listener on host/port', () => {
    expect(resolveListeners(resolveConfig({ host: '127.0.0.1', port: 9092 }))).toEqual([{ protocol: 'PLAINTEXT', host: '127.0.0.1', port: 9092, advertised: undefined }])
  })

  it('reads repeated flags, RINGLOG_LISTENERS and the config-file array, flag first', () => {
    const fromFlags = serveConfig({ listener: ['PLAINTEXT://127.0.0.1:9092', 'SASL_PLAINTEXT://127.0.0.1:9093'] }, { RINGLOG_LISTENERS: 'SSL://127.0.0.1:1' })
    expect(fromFlags.listeners).toEqual(['PLAINTEXT://127.0.0.1:9092', 'SASL_PLAINTEXT://127.0.0.1:9093'])
    const fromEnv = serveConfig({}, { RINGLOG_LISTENERS: 'PLAINTEXT://127.0.0.1:9092, SASL_PLAINTEXT://[::1]:9093', RINGLOG_SASL_MECHANISMS: 'PLAIN' })
    expect(resolveListeners(fromEnv).map((l) => `${l.protocol} ${l.host} ${l.port}`)).toEqual(['PLAINTEXT 127.0.0.1 9092', 'SASL_PLAINTEXT ::1 9093'])
    expect(fromEnv.saslMechanisms).toEqual(['PLAIN'])
    expect(resolveConfig({ listeners: ['SASL_PLAINTEXT://127.0.0.1:9093'], advertisedListeners: ['SASL_PLAINTEXT://broker.example:19093'] }).advertisedListeners).toEqual(['SASL_PLAINTEXT://broker.example:19093'])
  })

  it('rejects bad specs naming the flag, variable or key', () => {
    const bad: [Record<string, string | string[]>, NodeJS.ProcessEnv, RegExp][] = [
      [{ listener: ['HTTP://127.0.0.1:80'] }, {}, /--listener: security protocol HTTP/],
      [{ listener: ['PLAINTEXT://127.0.0.1:70000'] }, {}, /--listener: port 70000/],
      [{}, { RINGLOG_LISTENERS: 'PLAINTEXT:127.0.0.1:9092' }, /RINGLOG_LISTENERS: "PLAINTEXT:127.0.0.1:9092" is not PROTOCOL:\/\/host:port/],
      [{ listener: ['PLAINTEXT://127.0.0.1:1', 'PLAINTEXT://127.0.0.1:2'] }, {}, /PLAINTEXT is listed twice/],
      [{ listener: ['SSL://127.0.0.1:1'] }, {}, /SSL listener needs tlsCertFile and tlsKeyFile/],
      [{ listener: ['PLAINTEXT://127.0.0.1:1'], advertisedListener: ['SSL://x:1'] }, {}, /--advertised-listener: no SSL listener/],
      [{ saslMechanisms: 'GSSAPI' }, {}, /--sasl-mechanisms: GSSAPI/],
    ]
    for (const [flags, env, message] of bad) {
      let error: unknown
      try {
        serveConfig(flags, env)
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(InvalidConfigError)
      expect((error as Error).message).toMatch(message)
    }
  })
})

describe('Metadata per listener', () => {
  it('names the listener the request came in on, or its advertised address', async () => {
    const broker = await startTestBroker({
      listeners: ['PLAINTEXT://127.0.0.1:0', 'SASL_PLAINTEXT://127.0.0.1:0'],
      advertisedListeners: ['PLAINTEXT://kafka.example.com:29092'],
    } as never)
    try {
      const plain = await SaslWire.connect(broker.server.listenerAddress('PLAINTEXT')!.port)
      const reader = await plain.metadata()
      const brokers = decodeMetadataResponse(reader!, 1).brokers
      expect(brokers.map((b) => `${b.host}:${b.port}`)).toEqual(['kafka.example.com:29092'])
      plain.close()
      expect(broker.server.address().port).toBe(broker.server.listenerAddress('PLAINTEXT')!.port)
    } finally {
      await broker.destroy()
    }
  })
})
