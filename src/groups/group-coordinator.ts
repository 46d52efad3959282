import { Buffer } from 'node:buffer'
import { randomUUID } from 'node:crypto'
import { ErrorCode } from '../protocol/error-codes.js'
import { RinglogError } from '../errors.js'
import { realClock, type GroupClock, type TimerHandle } from './clock.js'
import { Group, GroupMember, type GroupProtocol, type GroupSummary, type JoinGroupResult, type SyncGroupResult } from './group.js'
import { GroupState, parseGroupState, type GroupStateName } from './group-state.js'
import { consumerProtocolType, decodeSubscription } from './consumer-protocol.js'
import type { OffsetsBackend, OffsetToCommit, StoredGroupMetadata, TopicPartition } from './offsets-backend.js'

/**
 * Kafka's classic GroupCoordinator (JoinGroup / SyncGroup / Heartbeat / LeaveGroup,
 * OffsetCommit / OffsetFetch, DescribeGroups / ListGroups) as plain objects, with no wire
 * format. Each method returns a promise that resolves when Kafka would send its response:
 * JoinGroup and SyncGroup are long polls parked until the join phase ends or the leader's
 * assignment arrives. All state changes happen synchronously inside a call or a timer
 * callback, so there are no interleavings to reason about.
 *
 * Left out: group.max.size (GROUP_MAX_SIZE_REACHED), transactional offset commits,
 * KIP-848 (the new consumer protocol: every group here is "classic"), and per-topic offset
 * expiry for live groups. Membership is stored after each SyncGroup (and when a group
 * empties) where the backend keeps group metadata, and restored when this broker becomes
 * the group's coordinator.
 */

export interface GroupCoordinatorConfig {
  /** group.initial.rebalance.delay.ms */
  initialRebalanceDelayMs: number
  /** group.min.session.timeout.ms */
  minSessionTimeoutMs: number
  /** group.max.session.timeout.ms */
  maxSessionTimeoutMs: number
  /** offset.metadata.max.bytes (compared against the string length, as Kafka does) */
  offsetMetadataMaxBytes: number
  /** offsets.retention.minutes, in ms */
  offsetsRetentionMs: number
  /** offsets.retention.check.interval.ms */
  offsetsRetentionCheckIntervalMs: number
}

export const defaultGroupCoordinatorConfig: GroupCoordinatorConfig = {
  initialRebalanceDelayMs: 3000,
  minSessionTimeoutMs: 6000,
  maxSessionTimeoutMs: 1_800_000,
  offsetMetadataMaxBytes: 4096,
  offsetsRetentionMs: 7 * 24 * 60 * 60 * 1000,
  offsetsRetentionCheckIntervalMs: 600_000,
}

export interface GroupCoordinatorOptions {
  /** Where committed offsets live; the caller opens and closes it. */
  offsets: OffsetsBackend
  clock?: GroupClock
  config?: Partial<GroupCoordinatorConfig>
}

export interface JoinGroupRequest {
  groupId: string
  /** '' for a member joining for the first time. */
  memberId: string
  groupInstanceId?: string | null
  sessionTimeoutMs: number
  /** JoinGroup v0 has none: pass the session timeout, as Kafka does. */
  rebalanceTimeoutMs: number
  protocolType: string
  protocols: GroupProtocol[]
  clientId: string
  clientHost: string
  /** JoinGroup v4+: a new dynamic member first gets MEMBER_ID_REQUIRED and its id. */
  requireKnownMemberId?: boolean
  /** JoinGroup v9+: the client understands skipAssignment (see replaceStaticMemberAndJoin). */
  supportSkippingAssignment?: boolean
}

export interface SyncGroupRequest {
  groupId: string
  memberId: string
  generationId: number
  groupInstanceId?: string | null
  /** SyncGroup v5+; checked against the group's when given. */
  protocolType?: string | null
  protocolName?: string | null
  /** The leader's assignment; followers send none. */
  assignments?: { memberId: string; assignment: Buffer }[]
}

export interface HeartbeatRequest {
  groupId: string
  memberId: string
  generationId: number
  groupInstanceId?: string | null
}

export interface LeaveGroupRequest {
  groupId: string
  /** One entry for LeaveGroup v0-2; a batch for v3+ (memberId may be '' with an instance id). */
  members: { memberId: string; groupInstanceId?: string | null }[]
}

export interface LeaveGroupResult {
  errorCode: number
  members: { memberId: string; groupInstanceId: string | null; errorCode: number }[]
}

export interface OffsetCommitRequest {
  groupId: string
  /** '' and generation -1 for a simple (non-member) consumer. */
  memberId: string
  generationId: number
  groupInstanceId?: string | null
  offsets: { topic: string; partition: number; offset: number; leaderEpoch?: number; metadata?: string | null }[]
  /**
   * OffsetCommit v9+: a generation >= 0 for a group that does not exist answers
   * GROUP_ID_NOT_FOUND instead of ILLEGAL_GENERATION (Kafka keeps the old code for v0-8).
   */
  unknownGroupIsNotFound?: boolean
}

export interface PartitionErrorCode { topic: string; partition: number; errorCode: number }

export interface FetchedOffset {
  topic: string
  partition: number
  /** -1 when nothing is committed. */
  offset: number
  leaderEpoch: number
  metadata: string
  errorCode: number
}

export interface OffsetFetchResult { errorCode: number; partitions: FetchedOffset[] }

export interface DescribedGroup extends GroupSummary { errorCode: number }

export interface ListedGroup { groupId: string; protocolType: string; state: GroupStateName }

const noGeneration = -1

/** Offsets-backend failures OffsetCommit passes on as they are; the rest is COORDINATOR_NOT_AVAILABLE (retriable). */
const PASSED_COMMIT_ERRORS: ReadonlySet<number> = new Set([ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.INVALID_COMMIT_OFFSET_SIZE])

export class GroupCoordinator {
  readonly config: GroupCoordinatorConfig
  private readonly groups = new Map<string, Group>()
  private readonly offsets: OffsetsBackend
  private readonly clock: GroupClock
  private retentionTimer: TimerHandle | null = null
  private closed = false

  constructor(options: GroupCoordinatorOptions) {
    this.config = { ...defaultGroupCoordinatorConfig, ...options.config }
    this.offsets = options.offsets
    this.clock = options.clock ?? realClock
    // Groups known only by their committed offsets exist (Empty), as after Kafka loads
    // __consumer_offsets. Their retention counts from now: never expire earlier than Kafka would.
    for (const groupId of this.offsets.groupIds()) this.loadGroup(groupId)
    this.offsets.setOwnershipListener?.({
      loaded: (groupIds) => { for (const groupId of groupIds) if (!this.groups.has(groupId)) this.loadGroup(groupId) },
      unloaded: (groupIds) => { for (const groupId of groupIds) this.unloadGroup(groupId) },
    })
    this.scheduleRetentionCheck()
  }

  /** NONE when this broker coordinates the group, else NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS. */
  coordinatorError(groupId: string): number {
    if (this.closed) return ErrorCode.COORDINATOR_NOT_AVAILABLE
    return this.offsets.coordinatorError?.(groupId) ?? ErrorCode.NONE
  }

  /** Creates the offsets topic if needed (a cluster's FindCoordinator before any commit). */
  prepareOffsetsTopic(): Promise<void> {
    return this.offsets.prepare?.() ?? Promise.resolve()
  }

  /**
   * A group this broker now coordinates, from what the offsets backend holds: its last stored
   * metadata (members, generation, assignments; each member's session starts now, as in
   * Kafka's onGroupLoaded) or, with offsets only, an Empty group.
   */
  private loadGroup(groupId: string): void {
    const now = this.clock.now()
    const stored = this.offsets.storedGroup?.(groupId)
    const group = stored ? Group.restore(groupId, stored, now) : new Group(groupId, now)
    this.groups.set(groupId, group)
    for (const member of group.members.values()) this.scheduleSessionExpiry(group, member)
  }

  /** Another broker coordinates the group now: forget it, answering parked calls NOT_COORDINATOR. */
  private unloadGroup(groupId: string): void {
    const group = this.groups.get(groupId)
    if (!group) return
    this.groups.delete(groupId)
    this.releaseGroup(group)
  }

  private releaseGroup(group: Group): void {
    this.clearJoinTimer(group)
    this.clearSyncTimer(group)
    for (const timer of group.pendingMembers.values()) if (timer !== null) this.clock.clearTimer(timer)
    group.pendingMembers.clear()
    for (const member of group.members.values()) {
      this.clearSessionTimer(member)
      this.answerJoin(member, joinError(ErrorCode.NOT_COORDINATOR, member.memberId))
      this.answerSync(member, syncError(ErrorCode.NOT_COORDINATOR))
    }
  }

  /** Clears every timer and answers parked JoinGroup/SyncGroup calls with NOT_COORDINATOR. */
  close(): void {
    if (this.closed) return
    this.closed = true
    if (this.retentionTimer !== null) this.clock.clearTimer(this.retentionTimer)
    this.retentionTimer = null
    for (const group of this.groups.values()) this.releaseGroup(group)
  }

  /** The group's state object, for inspection (tests, CLI); undefined if unknown. */
  group(groupId: string): Group | undefined {
    return this.groups.get(groupId)
  }

  // ---------------------------------------------------------------- JoinGroup

  joinGroup(request: JoinGroupRequest): Promise<JoinGroupResult> {
    const groupInstanceId = request.groupInstanceId ?? null
    if (this.closed) return Promise.resolve(joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, request.memberId))
    if (request.groupId === '') return Promise.resolve(joinError(ErrorCode.INVALID_GROUP_ID, request.memberId))
    const owner = this.coordinatorError(request.groupId)
    if (owner !== ErrorCode.NONE) return Promise.resolve(joinError(owner, request.memberId))
    if (request.sessionTimeoutMs < this.config.minSessionTimeoutMs || request.sessionTimeoutMs > this.config.maxSessionTimeoutMs) {
      return Promise.resolve(joinError(ErrorCode.INVALID_SESSION_TIMEOUT, request.memberId))
    }
    const isNewMember = request.memberId === ''
    let group = this.groups.get(request.groupId)
    if (!group) {
      if (!isNewMember) return Promise.resolve(joinError(ErrorCode.UNKNOWN_MEMBER_ID, request.memberId))
      group = new Group(request.groupId, this.clock.now())
      this.groups.set(request.groupId, group)
    }
    const g = group
    return new Promise((resolve) => {
      if (isNewMember) this.joinNewMember(g, request, groupInstanceId, resolve)
      else this.joinKnownMember(g, request, groupInstanceId, resolve)
    })
  }

  private joinNewMember(group: Group, request: JoinGroupRequest, groupInstanceId: string | null, respond: (r: JoinGroupResult) => void): void {
    if (group.is(GroupState.Dead)) return respond(joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, ''))
    if (!group.supportsProtocols(request.protocolType, request.protocols)) return respond(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, ''))
    // Kafka prefixes the id with the instance id for static members, else the client id.
    const newMemberId = `${groupInstanceId ?? request.clientId}-${randomUUID()}`
    if (groupInstanceId !== null) {
      const oldMemberId = group.staticMemberId(groupInstanceId)
      if (oldMemberId === undefined) return this.addMemberAndRebalance(group, newMemberId, groupInstanceId, request, respond)
      return this.replaceStaticMemberAndJoin(group, oldMemberId, newMemberId, groupInstanceId, request, respond)
    }
    if (request.requireKnownMemberId) {
      // The id is reserved; the member must come back with it within its session timeout.
      const timer = this.clock.setTimer(() => this.expirePendingMember(group, newMemberId), request.sessionTimeoutMs)
      group.pendingMembers.set(newMemberId, timer)
      return respond(joinError(ErrorCode.MEMBER_ID_REQUIRED, newMemberId))
    }
    this.addMemberAndRebalance(group, newMemberId, null, request, respond)
  }

  private joinKnownMember(group: Group, request: JoinGroupRequest, groupInstanceId: string | null, respond: (r: JoinGroupResult) => void): void {
    const memberId = request.memberId
    if (group.is(GroupState.Dead)) return respond(joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, memberId))
    if (!group.supportsProtocols(request.protocolType, request.protocols)) return respond(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, memberId))
    if (group.pendingMembers.has(memberId)) {
      const timer = group.pendingMembers.get(memberId)
      if (timer !== null && timer !== undefined) this.clock.clearTimer(timer)
      group.pendingMembers.delete(memberId)
      return this.addMemberAndRebalance(group, memberId, groupInstanceId, request, respond)
    }
    if (group.isStaticMemberFenced(memberId, groupInstanceId)) return respond(joinError(ErrorCode.FENCED_INSTANCE_ID, memberId))
    const member = group.get(memberId)
    if (!member || (groupInstanceId !== null && group.staticMemberId(groupInstanceId) === undefined)) {
      return respond(joinError(ErrorCode.UNKNOWN_MEMBER_ID, memberId))
    }
    switch (group.state) {
      case GroupState.PreparingRebalance:
        return this.updateMemberAndRebalance(group, member, request, respond)
      case GroupState.CompletingRebalance:
        // A duplicate join (the response was lost): answer with the current generation.
        if (member.sameProtocols(request.protocols)) return respond(this.joinResponse(group, member))
        return this.updateMemberAndRebalance(group, member, request, respond)
      case GroupState.Stable:
        // The leader rejoining, or anyone with new metadata, means a new assignment is needed.
        if (group.isLeader(memberId) || !member.sameProtocols(request.protocols)) return this.updateMemberAndRebalance(group, member, request, respond)
        return respond(this.joinResponse(group, member))
      default:
        return respond(joinError(ErrorCode.UNKNOWN_MEMBER_ID, memberId))
    }
  }

  private joinResponse(group: Group, member: GroupMember): JoinGroupResult {
    return {
      errorCode: ErrorCode.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leader: group.leaderId ?? '',
      memberId: member.memberId,
      members: group.isLeader(member.memberId) ? group.currentMemberMetadata() : [],
    }
  }

  private addMemberAndRebalance(group: Group, memberId: string, groupInstanceId: string | null, request: JoinGroupRequest, respond: (r: JoinGroupResult) => void): void {
    const member = new GroupMember({
      memberId,
      groupInstanceId,
      clientId: request.clientId,
      clientHost: request.clientHost,
      sessionTimeoutMs: request.sessionTimeoutMs,
      rebalanceTimeoutMs: request.rebalanceTimeoutMs,
      protocolType: request.protocolType,
      protocols: request.protocols,
    })
    // A member arriving during a new group's initial delay extends the delay once more.
    if (group.is(GroupState.PreparingRebalance) && group.generationId === 0) group.newMemberAdded = true
    group.add(member)
    member.joinWaiter = respond
    this.maybePrepareRebalance(group)
    this.tryCompleteJoin(group)
  }

  private updateMemberAndRebalance(group: Group, member: GroupMember, request: JoinGroupRequest, respond: (r: JoinGroupResult) => void): void {
    this.updateMember(member, request, respond)
    this.maybePrepareRebalance(group)
    this.tryCompleteJoin(group)
  }

  private updateMember(member: GroupMember, request: JoinGroupRequest, respond: (r: JoinGroupResult) => void): void {
    member.protocols = request.protocols
    member.rebalanceTimeoutMs = request.rebalanceTimeoutMs
    member.sessionTimeoutMs = request.sessionTimeoutMs
    member.clientId = request.clientId
    member.clientHost = request.clientHost
    // A client only re-sends JoinGroup after giving up on the previous one.
    this.answerJoin(member, joinError(ErrorCode.REBALANCE_IN_PROGRESS, member.memberId))
    member.joinWaiter = respond
  }

  private replaceStaticMemberAndJoin(group: Group, oldMemberId: string, newMemberId: string, groupInstanceId: string, request: JoinGroupRequest, respond: (r: JoinGroupResult) => void): void {
    const previousLeader = group.leaderId
    const oldMember = group.get(oldMemberId)!
    // The old incarnation is fenced: whatever it waits on is answered with FENCED_INSTANCE_ID.
    this.answerJoin(oldMember, joinError(ErrorCode.FENCED_INSTANCE_ID, oldMemberId))
    this.answerSync(oldMember, syncError(ErrorCode.FENCED_INSTANCE_ID))
    const unchanged = oldMember.sameProtocols(request.protocols)
    const member = group.replaceStaticMember(groupInstanceId, oldMemberId, newMemberId)
    this.scheduleSessionExpiry(group, member)
    const selectedBefore = group.protocolName
    this.updateMember(member, request, respond)
    switch (group.state) {
      case GroupState.Stable:
        if (unchanged && group.selectProtocol() === selectedBefore) {
          member.joinWaiter = null
          if (request.supportSkippingAssignment && group.isLeader(member.memberId)) {
            // v9+ (KIP-814): the returning leader learns the members but keeps the assignment;
            // its SyncGroup returns the stored one.
            return respond({ ...this.joinResponse(group, member), members: group.currentMemberMetadata(), skipAssignment: true })
          }
          // Kafka (JoinGroup < v9) names the previous leader id here, so a static leader
          // coming back takes the follower path and gets its stored assignment from SyncGroup.
          return respond({ ...this.joinResponse(group, member), leader: previousLeader ?? '', members: [] })
        }
        this.prepareRebalance(group)
        return
      case GroupState.CompletingRebalance:
        // The leader may be assigning to the old id: start over so the new id gets a share.
        this.prepareRebalance(group)
        return
      default:
        // PreparingRebalance: the new id simply waits for the join phase like everyone else.
        this.tryCompleteJoin(group)
    }
  }

  private expirePendingMember(group: Group, memberId: string): void {
    if (!group.pendingMembers.delete(memberId)) return
    if (group.is(GroupState.PreparingRebalance)) this.tryCompleteJoin(group)
  }

  // ---------------------------------------------------------------- rebalance

  private maybePrepareRebalance(group: Group): void {
    if (group.canRebalance()) this.prepareRebalance(group)
  }

  private prepareRebalance(group: Group): void {
    if (group.is(GroupState.CompletingRebalance)) this.resetAndPropagateAssignmentError(group, ErrorCode.REBALANCE_IN_PROGRESS)
    this.clearSyncTimer(group)
    group.pendingSyncMembers.clear()
    const wasEmpty = group.is(GroupState.Empty)
    group.transitionTo(GroupState.PreparingRebalance, this.clock.now())
    this.clearJoinTimer(group)
    if (wasEmpty) {
      // A new group waits a little for more members so it does not rebalance once per arrival.
      const delay = this.config.initialRebalanceDelayMs
      group.inInitialDelay = true
      this.scheduleInitialDelayedJoin(group, delay, Math.max(group.rebalanceTimeoutMs() - delay, 0))
    } else {
      group.joinTimer = this.clock.setTimer(() => { group.joinTimer = null; this.completeJoin(group) }, group.rebalanceTimeoutMs())
      // Kafka's tryCompleteElseWatch: done at once if everyone already waits (or no one is left).
      this.tryCompleteJoin(group)
    }
  }

  private scheduleInitialDelayedJoin(group: Group, delayMs: number, remainingMs: number): void {
    group.joinTimer = this.clock.setTimer(() => {
      group.joinTimer = null
      if (group.newMemberAdded && remainingMs > 0) {
        group.newMemberAdded = false
        const next = Math.min(this.config.initialRebalanceDelayMs, remainingMs)
        this.scheduleInitialDelayedJoin(group, next, Math.max(remainingMs - delayMs, 0))
      } else {
        group.newMemberAdded = false
        this.completeJoin(group)
      }
    }, delayMs)
  }

  /** DelayedJoin.tryComplete: the join phase ends early once every member has rejoined. */
  private tryCompleteJoin(group: Group): void {
    if (!group.is(GroupState.PreparingRebalance) || group.joinTimer === null) return
    // The initial delay never ends early: it exists to let more members arrive.
    if (group.inInitialDelay) return
    if (group.hasAllMembersJoined()) {
      this.clearJoinTimer(group)
      this.completeJoin(group)
    }
  }

  private completeJoin(group: Group): void {
    if (!group.is(GroupState.PreparingRebalance)) return
    group.inInitialDelay = false
    // Dynamic members that did not rejoin in time are out; static ones stay until their
    // session expires (they may be restarting).
    for (const member of [...group.members.values()]) {
      if (!member.isAwaitingJoin && !member.isStatic) this.removeMember(group, member)
    }
    if (!group.maybeElectNewJoinedLeader() && group.members.size > 0) {
      // Nobody rejoined: wait another rebalance timeout for sessions to expire the rest.
      group.joinTimer = this.clock.setTimer(() => { group.joinTimer = null; this.completeJoin(group) }, group.rebalanceTimeoutMs())
      return
    }
    group.initNextGeneration(this.clock.now())
    if (group.is(GroupState.Empty)) {
      // Kafka writes the empty generation too, so a later coordinator does not restore old members.
      this.offsets.storeGroup?.(group.groupId, this.storedMetadata(group))?.catch(() => undefined)
      return
    }
    const leaderView = group.currentMemberMetadata()
    for (const member of group.members.values()) {
      if (!member.isAwaitingJoin) continue
      const response = this.joinResponse(group, member)
      if (group.isLeader(member.memberId)) response.members = leaderView
      group.pendingSyncMembers.add(member.memberId)
      this.answerJoin(member, response)
      this.scheduleSessionExpiry(group, member)
    }
    this.scheduleSyncExpiry(group)
  }

  /** Members that never send SyncGroup after joining are removed after the rebalance timeout. */
  private scheduleSyncExpiry(group: Group): void {
    this.clearSyncTimer(group)
    const generation = group.generationId
    group.syncTimer = this.clock.setTimer(() => {
      group.syncTimer = null
      if (group.generationId !== generation) return
      if (!group.is(GroupState.CompletingRebalance) && !group.is(GroupState.Stable)) return
      const laggards = [...group.pendingSyncMembers].map((id) => group.get(id)).filter((m): m is GroupMember => m !== undefined)
      group.pendingSyncMembers.clear()
      for (const member of laggards) this.removeMemberAndUpdateGroup(group, member)
    }, group.rebalanceTimeoutMs())
  }

  private resetAndPropagateAssignmentError(group: Group, errorCode: number): void {
    for (const member of group.members.values()) {
      member.assignment = Buffer.alloc(0)
      this.answerSync(member, syncError(errorCode))
    }
  }

  private removeMember(group: Group, member: GroupMember): void {
    this.clearSessionTimer(member)
    this.answerJoin(member, joinError(ErrorCode.UNKNOWN_MEMBER_ID, member.memberId))
    this.answerSync(member, syncError(ErrorCode.UNKNOWN_MEMBER_ID))
    group.remove(member.memberId)
  }

  private removeMemberAndUpdateGroup(group: Group, member: GroupMember): void {
    this.removeMember(group, member)
    switch (group.state) {
      case GroupState.Stable:
      case GroupState.CompletingRebalance:
        this.prepareRebalance(group)
        break
      case GroupState.PreparingRebalance:
        this.tryCompleteJoin(group)
        break
      default:
        break
    }
  }

  private scheduleSessionExpiry(group: Group, member: GroupMember): void {
    this.clearSessionTimer(member)
    member.sessionTimer = this.clock.setTimer(() => {
      member.sessionTimer = null
      if (group.get(member.memberId) !== member) return
      // A member parked in JoinGroup/SyncGroup is bounded by the rebalance timeout instead.
      if (member.isAwaitingJoin || member.isAwaitingSync) return
      this.removeMemberAndUpdateGroup(group, member)
    }, member.sessionTimeoutMs)
  }

  // ---------------------------------------------------------------- SyncGroup

  syncGroup(request: SyncGroupRequest): Promise<SyncGroupResult> {
    const groupInstanceId = request.groupInstanceId ?? null
    if (this.closed) return Promise.resolve(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE))
    if (request.groupId === '') return Promise.resolve(syncError(ErrorCode.INVALID_GROUP_ID))
    const owner = this.coordinatorError(request.groupId)
    if (owner !== ErrorCode.NONE) return Promise.resolve(syncError(owner))
    const group = this.groups.get(request.groupId)
    if (!group) return Promise.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID))
    if (group.is(GroupState.Dead)) return Promise.resolve(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE))
    if (group.isStaticMemberFenced(request.memberId, groupInstanceId)) return Promise.resolve(syncError(ErrorCode.FENCED_INSTANCE_ID))
    const member = group.get(request.memberId)
    if (!member) return Promise.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID))
    if (request.generationId !== group.generationId) return Promise.resolve(syncError(ErrorCode.ILLEGAL_GENERATION))
    if ((request.protocolType != null && request.protocolType !== group.protocolType) ||
        (request.protocolName != null && request.protocolName !== group.protocolName)) {
      return Promise.resolve(syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL))
    }
    switch (group.state) {
      case GroupState.PreparingRebalance:
        return Promise.resolve(syncError(ErrorCode.REBALANCE_IN_PROGRESS))
      case GroupState.Stable:
        group.pendingSyncMembers.delete(member.memberId)
        this.scheduleSessionExpiry(group, member)
        return Promise.resolve(this.syncResponse(group, member))
      case GroupState.CompletingRebalance:
        return new Promise((resolve) => {
          group.pendingSyncMembers.delete(member.memberId)
          this.answerSync(member, syncError(ErrorCode.REBALANCE_IN_PROGRESS))
          member.syncWaiter = resolve
          this.scheduleSessionExpiry(group, member)
          if (group.isLeader(member.memberId)) this.applyLeaderAssignment(group, request.assignments ?? [])
        })
      default:
        return Promise.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID))
    }
  }

  private applyLeaderAssignment(group: Group, assignments: readonly { memberId: string; assignment: Buffer }[]): void {
    const byMember = new Map(assignments.map((a) => [a.memberId, a.assignment]))
    for (const member of group.members.values()) {
      // Members the leader left out get an empty assignment (Kafka fills them in too).
      member.assignment = byMember.get(member.memberId) ?? Buffer.alloc(0)
    }
    group.transitionTo(GroupState.Stable, this.clock.now())
    const generation = group.generationId
    const answer = (failure: number): void => {
      // A rebalance since the write started answers those members itself.
      if (this.groups.get(group.groupId) !== group || group.generationId !== generation) return
      for (const member of group.members.values()) {
        if (!member.isAwaitingSync) continue
        this.answerSync(member, failure === ErrorCode.NONE ? this.syncResponse(group, member) : syncError(failure))
        this.scheduleSessionExpiry(group, member)
      }
    }
    // Kafka answers SyncGroup once the group's metadata record is written.
    const stored = this.offsets.storeGroup?.(group.groupId, this.storedMetadata(group))
    if (!stored) return answer(ErrorCode.NONE)
    stored.then(() => answer(ErrorCode.NONE), (error: unknown) => {
      answer(error instanceof RinglogError && PASSED_COMMIT_ERRORS.has(error.code) ? error.code : ErrorCode.COORDINATOR_NOT_AVAILABLE)
    })
  }

  private storedMetadata(group: Group): StoredGroupMetadata {
    const protocol = group.protocolName
    return {
      protocolType: group.protocolType ?? '',
      generation: group.generationId,
      protocol,
      leader: group.leaderId,
      currentStateTimestamp: group.stateSinceMs,
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        sessionTimeoutMs: m.sessionTimeoutMs,
        subscription: protocol === null ? Buffer.alloc(0) : m.metadataFor(protocol),
        assignment: m.assignment,
      })),
    }
  }

  private syncResponse(group: Group, member: GroupMember): SyncGroupResult {
    return { errorCode: ErrorCode.NONE, protocolType: group.protocolType, protocolName: group.protocolName, assignment: member.assignment }
  }

  // ---------------------------------------------------------------- Heartbeat

  heartbeat(request: HeartbeatRequest): Promise<number> {
    return Promise.resolve(this.doHeartbeat(request))
  }

  private doHeartbeat(request: HeartbeatRequest): number {
    if (this.closed) return ErrorCode.COORDINATOR_NOT_AVAILABLE
    if (request.groupId === '') return ErrorCode.INVALID_GROUP_ID
    const owner = this.coordinatorError(request.groupId)
    if (owner !== ErrorCode.NONE) return owner
    const group = this.groups.get(request.groupId)
    if (!group) return ErrorCode.UNKNOWN_MEMBER_ID
    if (group.is(GroupState.Dead)) return ErrorCode.COORDINATOR_NOT_AVAILABLE
    if (group.isStaticMemberFenced(request.memberId, request.groupInstanceId ?? null)) return ErrorCode.FENCED_INSTANCE_ID
    const member = group.get(request.memberId)
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID
    if (request.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION
    switch (group.state) {
      case GroupState.PreparingRebalance:
        this.scheduleSessionExpiry(group, member)
        return ErrorCode.REBALANCE_IN_PROGRESS
      case GroupState.CompletingRebalance:
      case GroupState.Stable:
        // Consumers may heartbeat between JoinGroup and SyncGroup: a normal heartbeat.
        this.scheduleSessionExpiry(group, member)
        return ErrorCode.NONE
      default:
        return ErrorCode.UNKNOWN_MEMBER_ID
    }
  }

  // ---------------------------------------------------------------- LeaveGroup

  leaveGroup(request: LeaveGroupRequest): Promise<LeaveGroupResult> {
    const group = this.groups.get(request.groupId)
    const results: LeaveGroupResult['members'] = []
    if (this.closed) return Promise.resolve({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] })
    if (request.groupId === '') return Promise.resolve({ errorCode: ErrorCode.INVALID_GROUP_ID, members: [] })
    const owner = this.coordinatorError(request.groupId)
    if (owner !== ErrorCode.NONE) return Promise.resolve({ errorCode: owner, members: [] })
    if (group?.is(GroupState.Dead)) return Promise.resolve({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] })
    for (const leaving of request.members) {
      const groupInstanceId = leaving.groupInstanceId ?? null
      const result: LeaveGroupResult['members'][number] = { memberId: leaving.memberId, groupInstanceId, errorCode: ErrorCode.NONE }
      results.push(result)
      if (!group) { result.errorCode = ErrorCode.UNKNOWN_MEMBER_ID; continue }
      // LeaveGroup v3+ may name a static member by instance id alone.
      const memberId = leaving.memberId === '' && groupInstanceId !== null ? (group.staticMemberId(groupInstanceId) ?? '') : leaving.memberId
      if (group.isStaticMemberFenced(memberId, groupInstanceId)) { result.errorCode = ErrorCode.FENCED_INSTANCE_ID; continue }
      if (group.pendingMembers.has(memberId)) {
        const timer = group.pendingMembers.get(memberId)
        if (timer !== null && timer !== undefined) this.clock.clearTimer(timer)
        group.pendingMembers.delete(memberId)
        this.tryCompleteJoin(group)
        continue
      }
      const member = group.get(memberId)
      if (!member) { result.errorCode = ErrorCode.UNKNOWN_MEMBER_ID; continue }
      this.removeMemberAndUpdateGroup(group, member)
    }
    return Promise.resolve({ errorCode: ErrorCode.NONE, members: results })
  }

  // ---------------------------------------------------------------- Describe / List

  describeGroups(groupIds: readonly string[]): Promise<DescribedGroup[]> {
    return Promise.resolve(groupIds.map((groupId) => {
      const owner = this.coordinatorError(groupId)
      if (owner !== ErrorCode.NONE) return { errorCode: owner, groupId, state: GroupState.Dead, protocolType: '', protocolName: '', members: [] }
      const group = this.groups.get(groupId)
      if (!group) return { errorCode: ErrorCode.NONE, groupId, state: GroupState.Dead, protocolType: '', protocolName: '', members: [] }
      return { errorCode: ErrorCode.NONE, ...group.summary() }
    }))
  }

  /** Kafka's ListGroups; `statesFilter` (v4+) matches state names case-insensitively. */
  listGroups(statesFilter?: readonly string[] | null): Promise<ListedGroup[]> {
    const wanted = statesFilter && statesFilter.length > 0
      ? new Set(statesFilter.map(parseGroupState).filter((s): s is GroupStateName => s !== null))
      : null
    const out: ListedGroup[] = []
    for (const group of this.groups.values()) {
      if (wanted && !wanted.has(group.state)) continue
      out.push({ groupId: group.groupId, protocolType: group.protocolType ?? '', state: group.state })
    }
    return Promise.resolve(out)
  }

  /**
   * Kafka's DeleteGroups: a group with members is NON_EMPTY_GROUP, an unknown one
   * GROUP_ID_NOT_FOUND; otherwise its committed offsets go and the group is Dead.
   */
  async deleteGroup(groupId: string): Promise<number> {
    if (this.closed) return ErrorCode.COORDINATOR_NOT_AVAILABLE
    if (groupId === '') return ErrorCode.INVALID_GROUP_ID
    const owner = this.coordinatorError(groupId)
    if (owner !== ErrorCode.NONE) return owner
    const group = this.groups.get(groupId)
    if (!group || group.is(GroupState.Dead)) return ErrorCode.GROUP_ID_NOT_FOUND
    if (!group.is(GroupState.Empty) || group.pendingMembers.size > 0) return ErrorCode.NON_EMPTY_GROUP
    const committed = this.offsets.list(groupId).map(({ topic, partition }) => ({ topic, partition }))
    if (committed.length > 0) await this.offsets.delete(groupId, committed)
    await this.offsets.deleteGroup?.(groupId)
    group.transitionTo(GroupState.Dead, this.clock.now())
    if (this.groups.get(groupId) === group) this.groups.delete(groupId)
    return ErrorCode.NONE
  }

  // ---------------------------------------------------------------- offsets

  async commitOffsets(request: OffsetCommitRequest): Promise<PartitionErrorCode[]> {
    const everyone = (errorCode: number): PartitionErrorCode[] => request.offsets.map((o) => ({ topic: o.topic, partition: o.partition, errorCode }))
    const owner = this.coordinatorError(request.groupId)
    if (owner !== ErrorCode.NONE) return everyone(owner)
    let group = this.groups.get(request.groupId)
    if (!group) {
      // A group that only stores offsets (no group management) comes into being here.
      if (request.generationId >= 0) return everyone(request.unknownGroupIsNotFound ? ErrorCode.GROUP_ID_NOT_FOUND : ErrorCode.ILLEGAL_GENERATION)
      group = new Group(request.groupId, this.clock.now())
      this.groups.set(request.groupId, group)
    }
    const groupInstanceId = request.groupInstanceId ?? null
    if (group.is(GroupState.Dead)) return everyone(ErrorCode.COORDINATOR_NOT_AVAILABLE)
    if (group.isStaticMemberFenced(request.memberId, groupInstanceId)) return everyone(ErrorCode.FENCED_INSTANCE_ID)
    if (!(request.generationId < 0 && group.is(GroupState.Empty))) {
      const member = group.get(request.memberId)
      if (!member) return everyone(ErrorCode.UNKNOWN_MEMBER_ID)
      if (request.generationId !== group.generationId) return everyone(ErrorCode.ILLEGAL_GENERATION)
      // Joined but not synced: the member knows the generation but not its partitions yet.
      if (group.is(GroupState.CompletingRebalance)) return everyone(ErrorCode.REBALANCE_IN_PROGRESS)
      // Commits during PreparingRebalance are allowed; the heartbeat tells the member to rejoin.
      this.scheduleSessionExpiry(group, member)
    }
    const results = everyone(ErrorCode.NONE)
    const accepted: OffsetToCommit[] = []
    for (let i = 0; i < request.offsets.length; i++) {
      const o = request.offsets[i]
      const metadata = o.metadata ?? ''
      if (metadata.length > this.config.offsetMetadataMaxBytes) { results[i].errorCode = ErrorCode.OFFSET_METADATA_TOO_LARGE; continue }
      accepted.push({ topic: o.topic, partition: o.partition, offset: o.offset, leaderEpoch: o.leaderEpoch ?? -1, metadata })
    }
    if (accepted.length === 0) return results
    try {
      await this.offsets.commit(request.groupId, this.clock.now(), accepted)
    } catch (error) {
      const code = error instanceof RinglogError && PASSED_COMMIT_ERRORS.has(error.code) ? error.code : ErrorCode.COORDINATOR_NOT_AVAILABLE
      for (const r of results) if (r.errorCode === ErrorCode.NONE) r.errorCode = code
    }
    return results
  }

  /**
   * Kafka's OffsetDelete: an Empty group (or one known only by its offsets) loses the named
   * partitions' offsets; a group with members keeps those of topics its members subscribe to
   * (GROUP_SUBSCRIBED_TO_TOPIC each) and loses the rest, unless it is not a consumer group
   * (NON_EMPTY_GROUP for the whole request). Unknown group: GROUP_ID_NOT_FOUND.
   */
  async deleteOffsets(groupId: string, partitions: readonly TopicPartition[]): Promise<{ errorCode: number; partitions: PartitionErrorCode[] }> {
    const none = (errorCode: number): { errorCode: number; partitions: PartitionErrorCode[] } => ({ errorCode, partitions: [] })
    if (this.closed) return none(ErrorCode.COORDINATOR_NOT_AVAILABLE)
    if (groupId === '') return none(ErrorCode.INVALID_GROUP_ID)
    const owner = this.coordinatorError(groupId)
    if (owner !== ErrorCode.NONE) return none(owner)
    const group = this.groups.get(groupId)
    if ((!group && !this.offsets.hasOffsets(groupId)) || group?.is(GroupState.Dead)) return none(ErrorCode.GROUP_ID_NOT_FOUND)
    const results: PartitionErrorCode[] = partitions.map(({ topic, partition }) => ({ topic, partition, errorCode: ErrorCode.NONE }))
    let eligible = results
    if (group && !group.is(GroupState.Empty)) {
      if (group.protocolType !== consumerProtocolType) return none(ErrorCode.NON_EMPTY_GROUP)
      const subscribed = subscribedTopics(group)
      for (const r of results) if (subscribed === null || subscribed.has(r.topic)) r.errorCode = ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC
      eligible = results.filter((r) => r.errorCode === ErrorCode.NONE)
    }
    const committed = eligible.filter((r) => this.offsets.get(groupId, r.topic, r.partition) !== undefined)
    if (committed.length > 0) await this.offsets.delete(groupId, committed.map(({ topic, partition }) => ({ topic, partition })))
    return { errorCode: ErrorCode.NONE, partitions: results }
  }

  /**
   * Offsets a transaction committed before this version kept them in `__transaction_state`
   * (a PrepareCommit written by an older ringlog): stored like any commit when it completes.
   * Rejects if the store cannot write them, so the transaction stays prepared and is retried.
   */
  async commitTransactionalOffsets(groupId: string, offsets: readonly OffsetToCommit[]): Promise<void> {
    if (offsets.length === 0) return
    await this.offsets.commit(groupId, this.clock.now(), offsets)
  }

  /**
   * TxnOffsetCommit, on the group's coordinator (Kafka's way): the offsets are written as the
   * producer's transactional batch and stay pending, invisible to OffsetFetch, until the
   * transaction coordinator's marker reaches the group's offsets partition
   * (`completeTransaction`). An error code: NONE, NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS,
   * INVALID_PRODUCER_EPOCH (a newer epoch of the producer already wrote there), or the append's.
   */
  async commitPendingTransactionalOffsets(groupId: string, producerId: number, producerEpoch: number, offsets: readonly OffsetToCommit[]): Promise<number> {
    const owner = this.coordinatorError(groupId)
    if (owner !== ErrorCode.NONE) return owner
    if (offsets.length === 0) return ErrorCode.NONE
    if (!this.offsets.commitTransactional) return ErrorCode.UNSUPPORTED_VERSION
    try {
      await this.offsets.commitTransactional(groupId, producerId, producerEpoch, this.clock.now(), offsets)
      return ErrorCode.NONE
    } catch (error) {
      return error instanceof RinglogError ? error.code : ErrorCode.COORDINATOR_NOT_AVAILABLE
    }
  }

  /** A transaction marker was acknowledged in `__consumer_offsets-<partition>`: its producer's pending offsets commit or go. */
  completeTransaction(partition: number, producerId: number, committed: boolean): void {
    this.offsets.completeTransaction?.(partition, producerId, committed)
  }

  /** OffsetFetch: the given partitions (offset -1 when none committed), or all when null. */
  fetchOffsets(groupId: string, partitions: readonly TopicPartition[] | null, requireStable = false): Promise<OffsetFetchResult> {
    const owner = this.coordinatorError(groupId)
    if (owner !== ErrorCode.NONE) return Promise.resolve({ errorCode: owner, partitions: [] })
    if (partitions === null) {
      return Promise.resolve({
        errorCode: ErrorCode.NONE,
        partitions: this.offsets.list(groupId).map((c) => ({ topic: c.topic, partition: c.partition, offset: c.offset, leaderEpoch: c.leaderEpoch, metadata: c.metadata, errorCode: ErrorCode.NONE })),
      })
    }
    return Promise.resolve({
      errorCode: ErrorCode.NONE,
      partitions: partitions.map(({ topic, partition }) => {
        // KIP-447: a consumer asking for stable offsets waits out an open transaction's commit.
        if (requireStable && this.offsets.hasPendingTransactionalOffset?.(groupId, topic, partition)) {
          return { topic, partition, offset: -1, leaderEpoch: -1, metadata: '', errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT }
        }
        const c = this.offsets.get(groupId, topic, partition)
        return c
          ? { topic, partition, offset: c.offset, leaderEpoch: c.leaderEpoch, metadata: c.metadata, errorCode: ErrorCode.NONE }
          : { topic, partition, offset: -1, leaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE }
      }),
    })
  }

  /**
   * Deletes offsets of groups that have been Empty for the retention period (each offset
   * also waits out the retention since its own commit), and drops Empty groups left with
   * no offsets.
   * Runs every offsetsRetentionCheckIntervalMs; returns how many offsets expired.
   */
  async expireOffsets(): Promise<number> {
    const now = this.clock.now()
    const retention = this.config.offsetsRetentionMs
    let expired = 0
    for (const groupId of this.offsets.groupIds()) {
      const group = this.groups.get(groupId)
      if (group && !group.is(GroupState.Empty)) continue
      const emptySince = group?.stateSinceMs ?? 0
      const stale = this.offsets.list(groupId).filter((c) => Math.max(c.commitTimestamp, emptySince) + retention <= now)
      if (stale.length === 0) continue
      await this.offsets.delete(groupId, stale.map(({ topic, partition }) => ({ topic, partition })))
      expired += stale.length
    }
    for (const [groupId, group] of this.groups) {
      // Like Kafka's cleanup: an Empty group with nothing committed is gone at the next check.
      if (group.is(GroupState.Empty) && !this.offsets.hasOffsets(groupId) && group.pendingMembers.size === 0) {
        group.transitionTo(GroupState.Dead, now)
        this.groups.delete(groupId)
      }
    }
    return expired
  }

  private scheduleRetentionCheck(): void {
    if (this.closed) return
    this.retentionTimer = this.clock.setTimer(() => {
      this.retentionTimer = null
      this.expireOffsets().catch(() => undefined).finally(() => this.scheduleRetentionCheck())
    }, this.config.offsetsRetentionCheckIntervalMs)
    this.clock.unrefTimer?.(this.retentionTimer)
  }

  // ---------------------------------------------------------------- helpers

  private answerJoin(member: GroupMember, result: JoinGroupResult): void {
    const waiter = member.joinWaiter
    if (!waiter) return
    member.joinWaiter = null
    waiter(result)
  }

  private answerSync(member: GroupMember, result: SyncGroupResult): void {
    const waiter = member.syncWaiter
    if (!waiter) return
    member.syncWaiter = null
    waiter(result)
  }

  private clearSessionTimer(member: GroupMember): void {
    if (member.sessionTimer !== null) this.clock.clearTimer(member.sessionTimer)
    member.sessionTimer = null
  }

  private clearJoinTimer(group: Group): void {
    if (group.joinTimer !== null) this.clock.clearTimer(group.joinTimer)
    group.joinTimer = null
  }

  private clearSyncTimer(group: Group): void {
    if (group.syncTimer !== null) this.clock.clearTimer(group.syncTimer)
    group.syncTimer = null
  }
}

function joinError(errorCode: number, memberId: string): JoinGroupResult {
  return { errorCode, generationId: noGeneration, protocolType: null, protocolName: null, leader: '', memberId, members: [] }
}

function syncError(errorCode: number): SyncGroupResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) }
}

/**
 * The topics a consumer group's members subscribe to (from their metadata for the chosen
 * protocol); null when a member's metadata does not decode, which Kafka treats as subscribed
 * to everything.
 */
function subscribedTopics(group: Group): Set<string> | null {
  const topics = new Set<string>()
  for (const member of group.members.values()) {
    try {
      for (const t of decodeSubscription(member.metadataFor(group.protocolName ?? '')).topics) topics.add(t)
    } catch {
      return null
    }
  }
  return topics
}
