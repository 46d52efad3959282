/**
 * CreateTopics in cluster mode, as any broker runs it (Kafka's ZooKeeper-era AdminZkClient):
 * assign replicas over the live brokers, compute each partition's first state (ISR = the live
 * replicas, the first of them leads, epoch 0), and write the topic and all its partition states
 * in one etcd transaction. The controller takes over from there.
 */
import type { ClusterMetadata } from './cluster-metadata.js'
import { InvalidPartitionsError, InvalidReplicationFactorError } from '../errors.js'
import { initialPartitionState } from './partition-leader-election.js'
import { assignReplicas } from './replica-assignment.js'

export interface CreateTopicRequest {
  name: string
  partitions: number
  replicationFactor: number
  configs?: Record<string, string>
  /** An explicit assignment (CreateTopics' `assignments`) instead of the computed one. */
  replicaAssignment?: number[][]
}

export interface CreatedTopic {
  topicId: string
  replicas: number[][]
}

export async function createClusterTopic(metadata: ClusterMetadata, request: CreateTopicRequest): Promise<CreatedTopic> {
  const live = new Set((await metadata.listBrokers()).keys())
  const replicas = request.replicaAssignment ?? assignReplicas({ partitions: request.partitions, replicationFactor: request.replicationFactor, brokers: [...live] })
  if (request.replicaAssignment) validateExplicitAssignment(request.replicaAssignment, live)
  const topicId = await metadata.createTopic(
    request.name,
    { replicas, configs: request.configs ?? {} },
    replicas.map((r) => initialPartitionState(r, live)),
  )
  return { topicId, replicas }
}

/** Kafka's checks on a manual assignment: non-empty, no duplicate broker, same size, known brokers. */
function validateExplicitAssignment(assignment: number[][], live: ReadonlySet<number>): void {
  if (assignment.length === 0) throw new InvalidPartitionsError('the replica assignment is empty')
  const size = assignment[0].length
  assignment.forEach((replicas, p) => {
    if (replicas.length === 0 || replicas.length !== size) throw new InvalidReplicationFactorError(`partition ${p}: every partition needs the same, non-zero number of replicas`)
    if (new Set(replicas).size !== replicas.length) throw new InvalidReplicationFactorError(`partition ${p}: duplicate broker in [${replicas}]`)
    const unknown = replicas.filter((b) => !live.has(b))
    if (unknown.length > 0) throw new InvalidReplicationFactorError(`partition ${p}: brokers [${unknown}] are not registered`)
  })
}
