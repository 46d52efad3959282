import { describe, expect, test } from 'vitest'
import { Partitioners } from 'kafkajs'
import { murmur2, partitionForKey, StickyPartitioner } from '../../src/client/partitioner.js'

describe('murmur2 partitioner', () => {
  test('matches the Java client (Kafka UtilsTest.testMurmur2 vectors)', () => {
    const cases: [Uint8Array, number][] = [
      [Buffer.from('21'), -973932308],
      [Buffer.from('foobar'), -790332482],
      [Buffer.from('a-little-bit-long-string'), -985981536],
      [Buffer.from('a-little-bit-longer-string'), -1486304829],
      [Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'), -58897971],
      [Buffer.from([0x61, 0x62, 0x63]), 479470107],
    ]
    for (const [key, expected] of cases) expect(murmur2(key)).toBe(expected)
  })

  test('agrees with kafkajs DefaultPartitioner for 2000 keys and several partition counts', () => {
    const partitioner = Partitioners.DefaultPartitioner()
    for (const count of [1, 3, 6, 7, 32]) {
      const partitionMetadata = Array.from({ length: count }, (_, i) => ({ partitionId: i, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }))
      for (let i = 0; i < 2000; i++) {
        const key = `key-${i}-${(i * 7919) % 1013}`
        const theirs = partitioner({ topic: 't', partitionMetadata, message: { key, value: 'v' } })
        expect(partitionForKey(Buffer.from(key), count)).toBe(theirs)
      }
    }
  })

  test('sticky partitioning stays on one partition until a batch is sent, then moves', () => {
    const sticky = new StickyPartitioner()
    const first = sticky.partition('t', 6)
    for (let i = 0; i < 100; i++) expect(sticky.partition('t', 6)).toBe(first)
    sticky.batchSent('t', 6)
    expect(sticky.partition('t', 6)).not.toBe(first)
    expect(sticky.partition('single', 1)).toBe(0)
  })
})
