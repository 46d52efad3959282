/** The connection-limit settings: defaults, range checks, and their flag / environment names. */
import { describe, expect, it } from 'vitest'
import { serveConfig } from '../../src/cli/serve.js'
import { DEFAULT_CONFIG, resolveConfig } from '../../src/config.js'
import { InvalidConfigError } from '../../src/errors.js'
import { fdReserve } from '../../src/broker/connection-limits.js'

describe('connection-limit settings', () => {
  it('have generous defaults (Kafka: connections.max.idle.ms 10 minutes)', () => {
    expect(DEFAULT_CONFIG.maxConnections).toBe(10_000)
    expect(DEFAULT_CONFIG.maxConnectionsPerIp).toBe(1_000)
    expect(DEFAULT_CONFIG.connectionsMaxIdleMs).toBe(600_000)
    expect(DEFAULT_CONFIG.queuedMaxRequestBytes).toBeGreaterThanOrEqual(2 * DEFAULT_CONFIG.socketRequestMaxBytes)
  })

  it('reject out-of-range values and a per-address limit above the total', () => {
    expect(() => resolveConfig({ maxConnections: 0 })).toThrow(InvalidConfigError)
    expect(() => resolveConfig({ connectionsMaxIdleMs: -1 })).toThrow(InvalidConfigError)
    expect(() => resolveConfig({ queuedMaxRequestBytes: 10 })).toThrow(InvalidConfigError)
    expect(() => resolveConfig({ maxConnections: 10, maxConnectionsPerIp: 11 })).toThrow(/maxConnectionsPerIp \(11\) must not exceed maxConnections \(10\)/)
    expect(resolveConfig({ maxConnections: 10, maxConnectionsPerIp: 10 }).maxConnectionsPerIp).toBe(10)
  })

  it('are read from flags and RINGLOG_* variables, and errors name them', () => {
    const config = serveConfig({ maxConnectionsPerIp: '50' }, { RINGLOG_CONNECTIONS_MAX_IDLE_MS: '1234', RINGLOG_MAX_CONNECTIONS: '500' })
    expect(config.maxConnectionsPerIp).toBe(50)
    expect(config.maxConnections).toBe(500)
    expect(config.connectionsMaxIdleMs).toBe(1234)
    expect(() => serveConfig({}, { RINGLOG_MAX_CONNECTIONS_PER_IP: 'many' })).toThrow(/RINGLOG_MAX_CONNECTIONS_PER_IP/)
    expect(() => serveConfig({ maxConnections: '0' }, {})).toThrow(/--max-connections/)
  })

  it('keep a descriptor reserve for storage below the open-files limit', () => {
    expect(fdReserve(256)).toBe(64)
    expect(fdReserve(1024)).toBe(256)
    expect(fdReserve(1_048_576)).toBe(4096)
  })
})
