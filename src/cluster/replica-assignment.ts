/**
 * Kafka's rack-unaware replica assignment (AdminUtils.assignReplicasToBrokers in the ZooKeeper
 * era): over the sorted broker list, partition p's first replica is broker (p + startIndex) mod n,
 * so leaders go round-robin; the other replicas follow at a shift of 1 + (replicaShift + j) mod
 * (n - 1) from the first, and replicaShift grows by one after every n partitions, so followers of
 * consecutive rounds land on different brokers. Kafka picks startIndex and replicaShift at random
 * (so topics do not all start on the same broker); callers may fix them for reproducible tests.
 */
import { randomInt } from 'node:crypto'
import { InvalidPartitionsError, InvalidReplicationFactorError } from '../errors.js'

export interface AssignmentRequest {
  partitions: number
  replicationFactor: number
  /** Live broker ids (any order: they are sorted, as Kafka does). */
  brokers: readonly number[]
  /** Index (into the sorted brokers) of partition 0's first replica; random when omitted. */
  startIndex?: number
  /** Initial follower shift; random when omitted. */
  replicaShift?: number
  /** First partition id, when adding partitions to an existing topic (default 0). */
  startPartitionId?: number
}

/** replicas[i] = the brokers of partition startPartitionId + i, preferred leader first. */
export function assignReplicas(request: AssignmentRequest): number[][] {
  const { partitions, replicationFactor } = request
  if (!Number.isInteger(partitions) || partitions <= 0) throw new InvalidPartitionsError(`number of partitions must be larger than 0, got ${partitions}`)
  if (!Number.isInteger(replicationFactor) || replicationFactor <= 0) {
    throw new InvalidReplicationFactorError(`replication factor must be larger than 0, got ${replicationFactor}`)
  }
  const brokers = [...new Set(request.brokers)].sort((a, b) => a - b)
  if (replicationFactor > brokers.length) {
    throw new InvalidReplicationFactorError(`replication factor: ${replicationFactor} larger than available brokers: ${brokers.length}`)
  }
  const n = brokers.length
  const startIndex = request.startIndex ?? randomInt(n)
  let replicaShift = request.replicaShift ?? randomInt(n)
  let partitionId = Math.max(0, request.startPartitionId ?? 0)
  const assignment: number[][] = []
  for (let i = 0; i < partitions; i++, partitionId++) {
    if (partitionId > 0 && partitionId % n === 0) replicaShift += 1
    const first = (partitionId + startIndex) % n
    const replicas = [brokers[first]]
    for (let j = 0; j < replicationFactor - 1; j++) {
      const shift = 1 + ((replicaShift + j) % (n - 1))
      replicas.push(brokers[(first + shift) % n])
    }
    assignment.push(replicas)
  }
  return assignment
}
