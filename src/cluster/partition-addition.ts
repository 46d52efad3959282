/**
 * CreatePartitions in cluster mode, as any broker runs it (Kafka's AdminZkClient.addPartitions):
 * the new partitions get replicas over the live brokers with the topic's replication factor
 * (Kafka's assignment, continuing at the next partition id from the broker that holds
 * partition 0's preferred leader), or the request's own assignment, checked against the
 * registered brokers. The topic record and the new partition states are written in one etcd
 * transaction conditional on the topic being unchanged since it was read; every broker then
 * opens its new replicas from the topics watch and the controller takes over as for a new topic.
 */
import { InvalidPartitionsError, InvalidReplicationFactorError, RinglogError, UnknownTopicOrPartitionError } from '../errors.js'
import { ErrorCode } from '../protocol/error-codes.js'
import type { ClusterMetadata } from './cluster-metadata.js'
import { initialPartitionState } from './partition-leader-election.js'
import { assignReplicas } from './replica-assignment.js'

export interface AddPartitionsRequest {
  name: string
  /** The new total partition count. */
  count: number
  /** Replicas of each new partition (CreatePartitions' `assignments`), or null to compute them. */
  assignments: number[][] | null
  /** Check everything, write nothing. */
  validateOnly?: boolean
}

/** A concurrent change of the topic is retried this many times before the request fails. */
const MAX_ATTEMPTS = 5

/** Returns the replicas of the new partitions (what was or would be written). */
export async function addClusterPartitions(metadata: ClusterMetadata, request: AddPartitionsRequest): Promise<number[][]> {
  for (let attempt = 1; ; attempt++) {
    const read = await metadata.readTopic(request.name)
    if (!read) throw new UnknownTopicOrPartitionError(`unknown topic "${request.name}"`)
    const current = read.record.replicas.length
    if (request.count < current) throw new InvalidPartitionsError(`Topic currently has ${current} partitions, which is higher than the requested ${request.count}.`)
    if (request.count === current) throw new InvalidPartitionsError(`Topic already has ${current} partitions.`)
    const live = new Set((await metadata.listBrokers()).keys())
    const replicationFactor = read.record.replicas[0]?.length ?? 1
    const added = request.assignments === null
      ? computedAssignment(read.record.replicas, request.count - current, replicationFactor, live)
      : checkedAssignment(request.assignments, request.count - current, replicationFactor, live)
    if (request.validateOnly) return added
    if (await metadata.addPartitions(request.name, read, added, added.map((r) => initialPartitionState(r, live)))) return added
    if (attempt >= MAX_ATTEMPTS) throw new RinglogError(ErrorCode.REQUEST_TIMED_OUT, `topic "${request.name}" kept changing while partitions were added; retry`)
  }
}

function computedAssignment(existing: readonly number[][], count: number, replicationFactor: number, live: ReadonlySet<number>): number[][] {
  const brokers = [...live].sort((a, b) => a - b)
  if (replicationFactor > brokers.length) {
    throw new InvalidReplicationFactorError(`replication factor: ${replicationFactor} larger than available brokers: ${brokers.length}`)
  }
  const first = brokers.indexOf(existing[0]?.[0] ?? -1)
  return assignReplicas({ partitions: count, replicationFactor, brokers, startPartitionId: existing.length, ...(first >= 0 && { startIndex: first }) })
}

/** Kafka's checks of a manual assignment for new partitions (all INVALID_REPLICA_ASSIGNMENT). */
function checkedAssignment(assignments: number[][], count: number, replicationFactor: number, live: ReadonlySet<number>): number[][] {
  const invalid = (message: string): RinglogError => new RinglogError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, message)
  if (assignments.length !== count) throw invalid(`Increasing the number of partitions by ${count} but ${assignments.length} assignments provided.`)
  assignments.forEach((replicas, i) => {
    if (replicas.length === 0) throw invalid(`Replica assignment ${i} is empty.`)
    if (new Set(replicas).size !== replicas.length) throw invalid(`Duplicate brokers not allowed in replica assignment: ${replicas.join(', ')} for partition id ${i}.`)
    if (replicas.length !== replicationFactor) throw invalid(`Inconsistent replication factor between partitions, partition 0 has ${replicationFactor} while partitions [${i}] have replication factors [${replicas.length}], respectively.`)
    const unknown = replicas.filter((b) => !live.has(b))
    if (unknown.length > 0) throw invalid(`Unknown broker(s) in replica assignment: ${unknown.join(', ')}.`)
  })
  return assignments.map((r) => [...r])
}
