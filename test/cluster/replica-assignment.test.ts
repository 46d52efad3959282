import { describe, expect, it } from 'vitest'
import { assignReplicas } from '../../src/cluster/replica-assignment.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { rng, testSeed } from './fixtures/etcd-wait.js'

describe('assignReplicas (Kafka rack-unaware assignment)', () => {
  it('matches Kafka for 5 brokers, 10 partitions, RF 3 with a fixed start', () => {
    // Kafka's AdminUtils with fixedStartIndex 0 over brokers 0..4 gives exactly this layout.
    expect(assignReplicas({ partitions: 10, replicationFactor: 3, brokers: [4, 3, 2, 1, 0], startIndex: 0, replicaShift: 0 })).toEqual([
      [0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 0], [4, 0, 1],
      [0, 2, 3], [1, 3, 4], [2, 4, 0], [3, 0, 1], [4, 1, 2],
    ])
  })

  it('continues from a start partition id (CreatePartitions)', () => {
    const whole = assignReplicas({ partitions: 8, replicationFactor: 2, brokers: [1, 2, 3], startIndex: 1, replicaShift: 2 })
    const tail = assignReplicas({ partitions: 3, replicationFactor: 2, brokers: [1, 2, 3], startIndex: 1, replicaShift: 2, startPartitionId: 5 })
    // A partition's first replica depends only on its id and the start index, so added
    // partitions continue the leader rotation (followers depend on the shift the caller passes).
    expect(tail.map((r) => r[0])).toEqual(whole.slice(5).map((r) => r[0]))
  })

  it('spreads leaders and replicas evenly over random broker sets (seeded)', () => {
    const seed = testSeed('replica-assignment')
    const random = rng(seed)
    for (let round = 0; round < 300; round++) {
      const brokerCount = 1 + Math.floor(random() * 8)
      const brokers = Array.from({ length: brokerCount }, (_, i) => 100 + i * 7)
      const replicationFactor = 1 + Math.floor(random() * brokerCount)
      const rounds = 1 + Math.floor(random() * 5)
      const partitions = random() < 0.5 ? rounds * brokerCount : 1 + Math.floor(random() * 40)
      const assignment = assignReplicas({ partitions, replicationFactor, brokers, startIndex: Math.floor(random() * brokerCount), replicaShift: Math.floor(random() * brokerCount) })
      const context = `seed ${seed} round ${round}: ${brokerCount} brokers, ${partitions} partitions, RF ${replicationFactor}`
      expect(assignment, context).toHaveLength(partitions)
      const leaders = new Map<number, number>()
      const replicas = new Map<number, number>()
      for (const r of assignment) {
        expect(new Set(r).size, context).toBe(replicationFactor)
        expect(r.every((b) => brokers.includes(b)), context).toBe(true)
        leaders.set(r[0], (leaders.get(r[0]) ?? 0) + 1)
        for (const b of r) replicas.set(b, (replicas.get(b) ?? 0) + 1)
      }
      const leaderCounts = brokers.map((b) => leaders.get(b) ?? 0)
      expect(Math.max(...leaderCounts) - Math.min(...leaderCounts), context).toBeLessThanOrEqual(1)
      if (partitions % brokerCount === 0) {
        // Whole rounds: every broker holds exactly its share of replicas.
        expect(brokers.map((b) => replicas.get(b) ?? 0), context).toEqual(brokers.map(() => (partitions * replicationFactor) / brokerCount))
      }
    }
  })

  it('picks a random start when none is given, still valid', () => {
    const assignment = assignReplicas({ partitions: 6, replicationFactor: 3, brokers: [1, 2, 3] })
    expect(assignment).toHaveLength(6)
    for (const r of assignment) expect([...r].sort()).toEqual([1, 2, 3])
  })

  it('refuses a replication factor above the live brokers with INVALID_REPLICATION_FACTOR (38)', () => {
    expect(() => assignReplicas({ partitions: 1, replicationFactor: 3, brokers: [1, 2] })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_REPLICATION_FACTOR }))
    expect(() => assignReplicas({ partitions: 1, replicationFactor: 1, brokers: [] })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_REPLICATION_FACTOR }))
    expect(() => assignReplicas({ partitions: 1, replicationFactor: 0, brokers: [1] })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_REPLICATION_FACTOR }))
    expect(() => assignReplicas({ partitions: 0, replicationFactor: 1, brokers: [1] })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_PARTITIONS }))
  })
})
