import { describe, expect, it } from 'vitest'
import { BenchParamError, DEFAULT_BENCH_PARAMS, parseBenchParams } from '../../src/bench/scenario.js'

describe('parseBenchParams', () => {
  it('parses the key=value form with units and aliases', () => {
    const p = parseBenchParams('record-size=1KiB,partitions=4,acks=all,compression=LZ4,flush=10ms,batch-size=64k,linger=2,in-flight=16,mode=tcp,brokers=127.0.0.1:9092;127.0.0.1:9093,rate=50k,duration=5s')
    expect(p).toEqual({
      recordSize: 1024, partitions: 4, acks: -1, compression: 'lz4', flush: 10, batchSize: 64_000, lingerMs: 2, inFlight: 16, mode: 'tcp',
      brokers: ['127.0.0.1:9092', '127.0.0.1:9093'], rate: 50_000, durationMs: 5000, records: null, cluster: 0, replicationFactor: 1,
    })
  })

  it('parses an options object (camelCase, snake_case, numbers, booleans as strings)', () => {
    const p = parseBenchParams({ recordSize: 200, record_count: '2M', flush: 'always', acks: 1, rate: null })
    expect(p.recordSize).toBe(200)
    expect(p.records).toBe(2_000_000)
    expect(p.flush).toBe('always')
    expect(p.acks).toBe(1)
    expect(p.rate).toBeNull()
  })

  it('keeps defaults and the base untouched', () => {
    const base = parseBenchParams('records=10')
    const p = parseBenchParams('brokers=h:1', base)
    p.brokers.push('x:2')
    expect(base.brokers).toEqual([])
    expect(DEFAULT_BENCH_PARAMS.brokers).toEqual([])
    expect(parseBenchParams('')).toEqual({ ...DEFAULT_BENCH_PARAMS })
  })

  it('a duration replaces the default record count, both together keep both', () => {
    expect(parseBenchParams('duration=2s').records).toBeNull()
    const both = parseBenchParams('duration=2s,records=100')
    expect(both.records).toBe(100)
    expect(both.durationMs).toBe(2000)
  })

  it('rejects bad input with BenchParamError', () => {
    for (const bad of ['acks=2', 'nope=1', 'record-size=0', 'record-size=1.5', 'compression=zstd', 'mode=udp', 'flush=soon', 'partitions', 'records=,duration=', 'mode=tcp,brokers=localhost']) {
      expect(() => parseBenchParams(bad), bad).toThrow(BenchParamError)
    }
  })
})

describe('cluster parameters', () => {
  it('parses --cluster and --replication-factor; a replication factor above the brokers the bench starts is refused before anything starts', async () => {
    const p = parseBenchParams('mode=tcp,cluster=3,replication-factor=3')
    expect([p.cluster, p.replicationFactor]).toEqual([3, 3])
    for (const bad of ['cluster=1.5', 'replication-factor=0']) expect(() => parseBenchParams(bad), bad).toThrow(BenchParamError)
    const { produceScenario } = await import('../../src/bench/scenarios/produce.js')
    await expect(produceScenario({ mode: 'tcp', replicationFactor: '3' }).setup!()).rejects.toThrow(/needs at least that many brokers/)
    await expect(produceScenario({ mode: 'tcp', cluster: '3' }).setup!()).rejects.toThrow(/cluster launcher/)
    expect(() => produceScenario({ cluster: '3' })).toThrow(/--cluster needs --mode tcp/)
  })
})
