/**
 * Cluster mode's public surface, for `ringlog serve --etcd` and `ringlog cluster up` to wire in.
 * Loaded only in cluster mode (single-node never imports etcd).
 */
export { BrokerRegistration, type BrokerAddress, type RegistrationOptions } from './broker-registration.js'
export {
  ClusterTimeoutError, InvalidPartitionsError, InvalidReplicationFactorError, InvalidTopicError,
} from '../errors.js'
export {
  ClusterMetadata, FencedWriteError, type CasResult, type ClusterMetadataOptions, type LiveBroker, type ProducerIdBlock,
  type VersionedPartitionState, type WriteFence,
} from './cluster-metadata.js'
export { controlledShutdown, type ControlledShutdownResult } from './controlled-shutdown.js'
export { Controller, UNCLEAN_LEADER_ELECTION_CONFIG, type ControllerOptions, type ReconcileSummary } from './controller.js'
export { ControllerElection } from './controller-election.js'
export { EtcdProcess, freeLoopbackPort, startEtcd, type EtcdOptions } from './etcd-process.js'
export { MetadataLayout, NO_LEADER, type PartitionState, type TopicRecord } from './metadata-layout.js'
export { electAfterBrokerChange, electPreferred, initialPartitionState, moveAwayForShutdown } from './partition-leader-election.js'
export { preferredReplicaElection, type PreferredElectionOutcome } from './preferred-election.js'
export { ClusterProducerIdAllocator, CLUSTER_PRODUCER_ID_BLOCK_SIZE } from './producer-id-blocks.js'
export { assignReplicas, type AssignmentRequest } from './replica-assignment.js'
export { createClusterTopic, type CreateTopicRequest, type CreatedTopic } from './topic-creation.js'
