/**
 * One embedded consumer's membership in its group, spoken to the real GroupCoordinator with
 * the same requests and ConsumerProtocol bytes a wire client sends: JoinGroup (retrying on
 * MEMBER_ID_REQUIRED / UNKNOWN_MEMBER_ID / REBALANCE_IN_PROGRESS), the leader computing the
 * assignment with the chosen assignor, SyncGroup, Heartbeat, OffsetCommit and LeaveGroup.
 * Because embedded and wire members use the same protocol, they can share a group.
 */
import type { GroupCoordinator } from '../groups/group-coordinator.js'
import { assignors } from '../groups/assignors.js'
import {
  consumerProtocolType, decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription, toTopicPartitions,
} from '../groups/consumer-protocol.js'
import type { TopicRegistry } from '../core/topic-registry.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { errorForCode } from '../errors.js'
import type { PartitionAssignerName } from './types.js'

export interface MembershipOptions {
  groupId: string
  clientId: string
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  assigners: PartitionAssignerName[]
}

export interface JoinedGeneration {
  memberId: string
  generationId: number
  leaderId: string
  protocol: string
  /** topic -> partitions, as the leader assigned them to this member. */
  assignment: Map<string, number[]>
}

/** Codes after which the member simply joins again. */
const REJOIN_CODES = new Set<number>([
  ErrorCode.REBALANCE_IN_PROGRESS, ErrorCode.ILLEGAL_GENERATION, ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.MEMBER_ID_REQUIRED,
])

export class GroupMembership {
  memberId = ''
  generationId = -1

  constructor(
    private readonly groups: GroupCoordinator,
    private readonly topics: TopicRegistry,
    readonly options: MembershipOptions,
  ) {}

  get groupId(): string {
    return this.options.groupId
  }

  /**
   * Joins (or rejoins) and syncs until this member holds a generation. `stillWanted` is asked
   * between attempts, so a consumer that stops does not keep rejoining.
   */
  async join(subscribedTopics: readonly string[], stillWanted: () => boolean): Promise<JoinedGeneration | null> {
    const metadata = encodeSubscription({ topics: subscribedTopics })
    const protocols = this.options.assigners.map((name) => ({ name, metadata }))
    while (stillWanted()) {
      const joined = await this.groups.joinGroup({
        groupId: this.groupId,
        memberId: this.memberId,
        sessionTimeoutMs: this.options.sessionTimeoutMs,
        rebalanceTimeoutMs: this.options.rebalanceTimeoutMs,
        protocolType: consumerProtocolType,
        protocols,
        clientId: this.options.clientId,
        clientHost: 'embedded',
      })
      if (joined.errorCode === ErrorCode.MEMBER_ID_REQUIRED) {
        this.memberId = joined.memberId
        continue
      }
      if (joined.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) {
        this.memberId = ''
        continue
      }
      if (joined.errorCode === ErrorCode.REBALANCE_IN_PROGRESS) continue
      if (joined.errorCode !== ErrorCode.NONE) throw errorForCode(joined.errorCode, null, `joining group "${this.groupId}"`)
      this.memberId = joined.memberId
      this.generationId = joined.generationId
      const protocol = joined.protocolName ?? this.options.assigners[0]
      const assignments = joined.leader === joined.memberId ? this.assign(protocol, joined.members) : undefined
      const synced = await this.groups.syncGroup({
        groupId: this.groupId,
        memberId: this.memberId,
        generationId: this.generationId,
        protocolType: consumerProtocolType,
        protocolName: protocol,
        assignments,
      })
      if (synced.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = ''
      if (REJOIN_CODES.has(synced.errorCode)) continue
      if (synced.errorCode !== ErrorCode.NONE) throw errorForCode(synced.errorCode, null, `syncing group "${this.groupId}"`)
      const assignment = new Map<string, number[]>()
      for (const { topic, partitions } of decodeAssignment(synced.assignment).partitions) assignment.set(topic, [...partitions].sort((a, b) => a - b))
      return { memberId: this.memberId, generationId: this.generationId, leaderId: joined.leader, protocol, assignment }
    }
    return null
  }

  /** The leader's job: every member's subscription in, one ConsumerProtocol assignment per member out. */
  private assign(protocol: string, members: readonly { memberId: string; groupInstanceId: string | null; metadata: Buffer }[]): { memberId: string; assignment: Buffer }[] {
    const assignor = assignors.get(protocol)
    if (!assignor) throw errorForCode(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, `no assignor named "${protocol}"`, `group "${this.groupId}"`)
    const subscribers = members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, topics: decodeSubscription(m.metadata).topics }))
    const partitionsPerTopic = new Map<string, number>()
    for (const member of subscribers) {
      for (const topic of member.topics) {
        const info = this.topics.get(topic)
        if (info) partitionsPerTopic.set(topic, info.partitions)
      }
    }
    const result = assignor.assign(subscribers, partitionsPerTopic)
    return subscribers.map((m) => ({ memberId: m.memberId, assignment: encodeAssignment({ partitions: toTopicPartitions(result.get(m.memberId) ?? new Map()) }) }))
  }

  /** ErrorCode.NONE while the generation holds; otherwise the code that says why not. */
  async heartbeat(): Promise<number> {
    if (this.generationId < 0) return ErrorCode.UNKNOWN_MEMBER_ID
    const code = await this.groups.heartbeat({ groupId: this.groupId, memberId: this.memberId, generationId: this.generationId })
    if (code === ErrorCode.UNKNOWN_MEMBER_ID) this.forget()
    return code
  }

  /** Commits `offsets` (next offsets to read) under the current generation; returns per-partition codes. */
  async commit(offsets: readonly { topic: string; partition: number; offset: number }[]): Promise<{ topic: string; partition: number; errorCode: number }[]> {
    return this.groups.commitOffsets({
      groupId: this.groupId,
      memberId: this.generationId >= 0 ? this.memberId : '',
      generationId: this.generationId,
      offsets: offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })),
    })
  }

  /** Committed offsets (-1 when none) of the given partitions. */
  async committed(partitions: readonly { topic: string; partition: number }[]): Promise<Map<string, number>> {
    const fetched = await this.groups.fetchOffsets(this.groupId, partitions)
    if (fetched.errorCode !== ErrorCode.NONE) throw errorForCode(fetched.errorCode, null, `fetching offsets of group "${this.groupId}"`)
    return new Map(fetched.partitions.map((p) => [`${p.topic}\u0000${p.partition}`, p.errorCode === ErrorCode.NONE ? p.offset : -1]))
  }

  async leave(): Promise<void> {
    if (this.memberId === '') return
    await this.groups.leaveGroup({ groupId: this.groupId, members: [{ memberId: this.memberId }] })
    this.forget()
  }

  /** Drops the member id and generation (after UNKNOWN_MEMBER_ID or leaving). */
  forget(): void {
    this.memberId = ''
    this.generationId = -1
  }
}
