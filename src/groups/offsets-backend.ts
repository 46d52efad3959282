/**
 * Where the group coordinator keeps committed offsets and group metadata. Two implementations:
 * `consumer-offsets-log.ts` (records in the replicated `__consumer_offsets` topic, Kafka's way,
 * used by every broker) and `offsets-store.ts` (the older msgpackr log under
 * `meta/group-offsets`, kept for migrating data dirs it wrote and for its own tests).
 */
import type { GroupMetadataValue } from '../protocol/consumer-offsets-records.js'

export interface CommittedOffset {
  topic: string
  partition: number
  offset: number
  leaderEpoch: number
  metadata: string
  commitTimestamp: number
}

export interface OffsetToCommit {
  topic: string
  partition: number
  offset: number
  leaderEpoch: number
  metadata: string
}

export interface TopicPartition { topic: string; partition: number }

export type StoredGroupMetadata = GroupMetadataValue

/** Told when this broker starts or stops coordinating the groups of an offsets partition. */
export interface OwnershipListener {
  /** The partition's offsets are loaded: these groups (with offsets or metadata) exist. */
  loaded(groupIds: readonly string[]): void
  /** This broker no longer coordinates these groups (another broker leads their partition). */
  unloaded(groupIds: readonly string[]): void
}

export interface OffsetsBackend {
  get(groupId: string, topic: string, partition: number): CommittedOffset | undefined
  /** All committed offsets of a group, sorted by topic then partition. */
  list(groupId: string): CommittedOffset[]
  groupIds(): string[]
  hasOffsets(groupId: string): boolean
  /** Durably records the offsets; resolves once they are acknowledged and visible. */
  commit(groupId: string, commitTimestamp: number, offsets: readonly OffsetToCommit[]): Promise<void>
  /** Durably removes offsets (retention expiry, DeleteGroups). */
  delete(groupId: string, partitions: readonly TopicPartition[]): Promise<void>
  /** Records a group's generation and assignments after SyncGroup (absent: not kept). */
  storeGroup?(groupId: string, metadata: StoredGroupMetadata): Promise<void>
  /** The group's last stored metadata, if any (read when this broker becomes its coordinator). */
  storedGroup?(groupId: string): StoredGroupMetadata | undefined
  /** Removes a group's stored metadata (a tombstone), when the group is deleted or expires. */
  deleteGroup?(groupId: string): Promise<void>
  /**
   * NONE when this broker coordinates the group; NOT_COORDINATOR when another broker leads its
   * offsets partition; COORDINATOR_LOAD_IN_PROGRESS while the partition is being loaded.
   * Absent: this broker coordinates every group.
   */
  coordinatorError?(groupId: string): number
  /** Creates the offsets topic if it does not exist yet (FindCoordinator in a cluster). */
  prepare?(): Promise<void>
  /** TxnOffsetCommit: appends the offsets as the producer's transactional batch, pending until its marker (absent: not supported). */
  commitTransactional?(groupId: string, producerId: number, producerEpoch: number, commitTimestamp: number, offsets: readonly OffsetToCommit[]): Promise<void>
  /** A COMMIT/ABORT marker for `producerId` was acknowledged in offsets partition `partition`: its pending offsets are applied or dropped. */
  completeTransaction?(partition: number, producerId: number, committed: boolean): void
  /** Whether an open transaction holds offsets of the group's partition. */
  hasPendingTransactionalOffset?(groupId: string, topic: string, partition: number): boolean
  /** Starts telling `listener` about ownership changes. */
  setOwnershipListener?(listener: OwnershipListener): void
  close(): Promise<void>
}
