/**
 * Cluster-mode settings: flags, RINGLOG_* variables and defaults, each range-checked and named
 * in errors like every other setting; without --etcd the broker stays single-node.
 */
import { describe, expect, it } from 'vitest'
import { serveConfig } from '../../src/cli/serve.js'
import { DEFAULT_CONFIG } from '../../src/config.js'

describe('cluster-mode settings', () => {
  it('defaults keep single-node mode: no etcd, Kafka\'s replica.lag.time.max.ms and min.insync.replicas', () => {
    const config = serveConfig({}, {})
    expect(config.etcd).toBe('')
    expect(config.clusterName).toBe('ringlog')
    expect(config.advertisedHost).toBe('')
    expect(config.replicaLagTimeMaxMs).toBe(30_000)
    expect(config.leaseTtlSeconds).toBe(10)
    expect(config.minInsyncReplicas).toBe(1)
    expect(DEFAULT_CONFIG.etcd).toBe('')
  })

  it('reads the flags and the environment, flags first', () => {
    const config = serveConfig(
      { etcd: '127.0.0.1:2379,127.0.0.1:2479', clusterName: 'prod', advertisedHost: 'b1.example', replicaLagTimeMaxMs: '5000', leaseTtlSeconds: '3', nodeId: '7' },
      { RINGLOG_LEASE_TTL_SECONDS: '9', RINGLOG_MIN_INSYNC_REPLICAS: '2' },
    )
    expect(config).toMatchObject({ etcd: '127.0.0.1:2379,127.0.0.1:2479', clusterName: 'prod', advertisedHost: 'b1.example', replicaLagTimeMaxMs: 5000, leaseTtlSeconds: 3, minInsyncReplicas: 2, nodeId: 7 })
  })

  it('refuses out-of-range values, naming the flag or variable', () => {
    expect(() => serveConfig({ leaseTtlSeconds: '0' }, {})).toThrow(/--lease-ttl-seconds/)
    expect(() => serveConfig({ replicaLagTimeMaxMs: '-5' }, {})).toThrow(/--replica-lag-time-max-ms/)
    expect(() => serveConfig({}, { RINGLOG_MIN_INSYNC_REPLICAS: 'two' })).toThrow(/RINGLOG_MIN_INSYNC_REPLICAS/)
    expect(() => serveConfig({ clusterName: '' }, {})).toThrow(/--cluster-name/)
  })
})
