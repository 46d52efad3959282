import { Buffer } from 'node:buffer'
import { assertTransition, GroupState, type GroupStateName } from './group-state.js'
import type { TimerHandle } from './clock.js'
import type { GroupMetadataValue } from '../protocol/consumer-offsets-records.js'

/**
 * One consumer group's membership and generation, as Kafka's GroupMetadata keeps it.
 * Timing and request flow live in GroupCoordinator; this file only knows who is in the
 * group, what they support and which protocol the group settles on.
 */

export interface GroupProtocol { name: string; metadata: Buffer }

export interface JoinGroupMember { memberId: string; groupInstanceId: string | null; metadata: Buffer }

export interface JoinGroupResult {
  errorCode: number
  generationId: number
  protocolType: string | null
  protocolName: string | null
  leader: string
  memberId: string
  /** Every member's metadata for the chosen protocol, sent to the leader only. */
  members: JoinGroupMember[]
  /**
   * JoinGroup v9+: a static leader that came back with the group unchanged gets the members
   * so it knows them, and must not compute a new assignment (KIP-814).
   */
  skipAssignment?: boolean
}

export interface SyncGroupResult {
  errorCode: number
  protocolType: string | null
  protocolName: string | null
  assignment: Buffer
}

export interface MemberInit {
  memberId: string
  groupInstanceId: string | null
  clientId: string
  clientHost: string
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  protocolType: string
  protocols: GroupProtocol[]
}

const emptyBuffer = Buffer.alloc(0)

export class GroupMember {
  memberId: string
  readonly groupInstanceId: string | null
  clientId: string
  clientHost: string
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  protocolType: string
  protocols: GroupProtocol[]
  assignment: Buffer = emptyBuffer
  /** Set while the member's JoinGroup is parked waiting for the join phase to end. */
  joinWaiter: ((result: JoinGroupResult) => void) | null = null
  /** Set while the member's SyncGroup is parked waiting for the leader's assignment. */
  syncWaiter: ((result: SyncGroupResult) => void) | null = null
  sessionTimer: TimerHandle | null = null

  constructor(init: MemberInit) {
    this.memberId = init.memberId
    this.groupInstanceId = init.groupInstanceId
    this.clientId = init.clientId
    this.clientHost = init.clientHost
    this.sessionTimeoutMs = init.sessionTimeoutMs
    this.rebalanceTimeoutMs = init.rebalanceTimeoutMs
    this.protocolType = init.protocolType
    this.protocols = init.protocols
  }

  get isStatic(): boolean { return this.groupInstanceId !== null }
  get isAwaitingJoin(): boolean { return this.joinWaiter !== null }
  get isAwaitingSync(): boolean { return this.syncWaiter !== null }

  metadataFor(protocolName: string): Buffer {
    return this.protocols.find((p) => p.name === protocolName)?.metadata ?? emptyBuffer
  }

  /** The member's most preferred protocol among the candidates (its vote). */
  vote(candidates: ReadonlySet<string>): string {
    const choice = this.protocols.find((p) => candidates.has(p.name))
    if (!choice) throw new Error(`member ${this.memberId} supports none of the candidate protocols`)
    return choice.name
  }

  /** Same protocols, same order, same metadata bytes. */
  sameProtocols(protocols: readonly GroupProtocol[]): boolean {
    return this.protocols.length === protocols.length &&
      this.protocols.every((p, i) => p.name === protocols[i].name && p.metadata.equals(protocols[i].metadata))
  }
}

export interface GroupMemberSummary {
  memberId: string
  groupInstanceId: string | null
  clientId: string
  clientHost: string
  /** Metadata and assignment are only reported while the group is Stable (as Kafka does). */
  metadata: Buffer
  assignment: Buffer
}

export interface GroupSummary {
  groupId: string
  state: GroupStateName
  protocolType: string
  protocolName: string
  members: GroupMemberSummary[]
}

export class Group {
  private currentState: GroupStateName = GroupState.Empty
  /** When the group entered its current state (offset retention counts from becoming Empty). */
  stateSinceMs: number
  generationId = 0
  protocolType: string | null = null
  protocolName: string | null = null
  leaderId: string | null = null
  /** Insertion-ordered, so "the next leader" is deterministic. */
  readonly members = new Map<string, GroupMember>()
  /** Ids handed out with MEMBER_ID_REQUIRED that have not joined yet, with their expiry timers. */
  readonly pendingMembers = new Map<string, TimerHandle | null>()
  /** groupInstanceId -> current memberId of the static member. */
  readonly staticMembers = new Map<string, string>()
  /** Members that got a JoinGroup response for this generation but have not synced yet. */
  readonly pendingSyncMembers = new Set<string>()
  /** A member joined during the initial delay, so the delay may be extended once more. */
  newMemberAdded = false
  /** The join phase is in a new group's initial delay, which never completes early. */
  inInitialDelay = false
  /** The running join-phase timer (initial delay or rebalance timeout). */
  joinTimer: TimerHandle | null = null
  /** Deadline for members to send SyncGroup after a join phase. */
  syncTimer: TimerHandle | null = null

  constructor(readonly groupId: string, nowMs: number) {
    this.stateSinceMs = nowMs
  }

  /**
   * The group as its last GroupMetadataValue left it (Kafka's loadGroup on becoming
   * coordinator): Stable with its members, generation and assignments, or Empty without
   * members. Members keep their ids, so they commit and heartbeat on without rejoining.
   */
  static restore(groupId: string, stored: GroupMetadataValue, nowMs: number): Group {
    const group = new Group(groupId, nowMs)
    group.generationId = stored.generation
    group.protocolType = stored.protocolType === '' ? null : stored.protocolType
    group.protocolName = stored.protocol
    for (const m of stored.members) {
      const member = new GroupMember({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        sessionTimeoutMs: m.sessionTimeoutMs,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        protocolType: stored.protocolType,
        protocols: stored.protocol === null ? [] : [{ name: stored.protocol, metadata: m.subscription }],
      })
      member.assignment = m.assignment
      group.members.set(member.memberId, member)
      if (member.groupInstanceId !== null) group.staticMembers.set(member.groupInstanceId, member.memberId)
    }
    group.leaderId = stored.leader !== null && group.members.has(stored.leader) ? stored.leader : (group.members.keys().next().value ?? null)
    if (group.members.size > 0 && stored.protocol !== null) group.currentState = GroupState.Stable
    else {
      group.members.clear()
      group.staticMembers.clear()
      group.leaderId = null
      group.protocolName = null
    }
    return group
  }

  get state(): GroupStateName { return this.currentState }

  is(state: GroupStateName): boolean { return this.currentState === state }

  transitionTo(state: GroupStateName, nowMs: number): void {
    assertTransition(this.groupId, this.currentState, state)
    this.currentState = state
    this.stateSinceMs = nowMs
  }

  /** Kafka only starts a rebalance from these states (PreparingRebalance is one already). */
  canRebalance(): boolean {
    return this.is(GroupState.Stable) || this.is(GroupState.CompletingRebalance) || this.is(GroupState.Empty)
  }

  has(memberId: string): boolean { return this.members.has(memberId) }
  get(memberId: string): GroupMember | undefined { return this.members.get(memberId) }
  isLeader(memberId: string): boolean { return this.leaderId === memberId }

  add(member: GroupMember): void {
    if (this.members.size === 0) this.protocolType = member.protocolType
    this.members.set(member.memberId, member)
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, member.memberId)
    if (this.leaderId === null) this.leaderId = member.memberId
  }

  remove(memberId: string): GroupMember | undefined {
    const member = this.members.get(memberId)
    if (!member) return undefined
    this.members.delete(memberId)
    this.pendingSyncMembers.delete(memberId)
    if (member.groupInstanceId !== null && this.staticMembers.get(member.groupInstanceId) === memberId) {
      this.staticMembers.delete(member.groupInstanceId)
    }
    if (this.leaderId === memberId) this.leaderId = this.members.keys().next().value ?? null
    return member
  }

  /** Moves a static member to a new member id; the caller fences the old id's waiters. */
  replaceStaticMember(groupInstanceId: string, oldMemberId: string, newMemberId: string): GroupMember {
    const member = this.members.get(oldMemberId)
    if (!member) throw new Error(`static member ${groupInstanceId} has no member ${oldMemberId}`)
    // Rebuild the map so the member keeps its position (leader succession order).
    const entries = [...this.members.entries()]
    this.members.clear()
    for (const [id, m] of entries) this.members.set(id === oldMemberId ? newMemberId : id, m)
    member.memberId = newMemberId
    this.staticMembers.set(groupInstanceId, newMemberId)
    if (this.leaderId === oldMemberId) this.leaderId = newMemberId
    if (this.pendingSyncMembers.delete(oldMemberId)) this.pendingSyncMembers.add(newMemberId)
    return member
  }

  staticMemberId(groupInstanceId: string): string | undefined {
    return this.staticMembers.get(groupInstanceId)
  }

  /** A request naming an instance id whose current member id is another one is fenced. */
  isStaticMemberFenced(memberId: string, groupInstanceId: string | null): boolean {
    if (groupInstanceId === null) return false
    const current = this.staticMembers.get(groupInstanceId)
    return current !== undefined && current !== memberId
  }

  /** Whether a member with this protocol type and these protocols could be in the group. */
  supportsProtocols(protocolType: string, protocols: readonly GroupProtocol[]): boolean {
    if (this.members.size === 0) return protocolType.length > 0 && protocols.length > 0
    if (this.protocolType !== protocolType) return false
    const counts = this.protocolSupportCounts()
    return protocols.some((p) => counts.get(p.name) === this.members.size)
  }

  private protocolSupportCounts(): Map<string, number> {
    const counts = new Map<string, number>()
    for (const member of this.members.values()) {
      for (const name of new Set(member.protocols.map((p) => p.name))) counts.set(name, (counts.get(name) ?? 0) + 1)
    }
    return counts
  }

  /** Protocols every member supports, in the leader's preference order. */
  candidateProtocols(): string[] {
    const counts = this.protocolSupportCounts()
    const reference = (this.leaderId !== null ? this.members.get(this.leaderId) : undefined) ?? this.members.values().next().value
    if (!reference) return []
    return reference.protocols.map((p) => p.name).filter((name) => counts.get(name) === this.members.size)
  }

  /**
   * Each member votes for its most preferred candidate; the most votes wins. Kafka breaks
   * ties arbitrarily (hash order); here the earlier candidate in the leader's list wins.
   */
  selectProtocol(): string {
    const candidates = this.candidateProtocols()
    if (candidates.length === 0) throw new Error(`group ${this.groupId} has no protocol every member supports`)
    const candidateSet = new Set(candidates)
    const votes = new Map<string, number>()
    for (const member of this.members.values()) {
      const choice = member.vote(candidateSet)
      votes.set(choice, (votes.get(choice) ?? 0) + 1)
    }
    let best = candidates[0]
    for (const name of candidates) if ((votes.get(name) ?? 0) > (votes.get(best) ?? 0)) best = name
    return best
  }

  /** The join phase's deadline: the longest rebalance timeout of the members. */
  rebalanceTimeoutMs(): number {
    let max = 0
    for (const member of this.members.values()) max = Math.max(max, member.rebalanceTimeoutMs)
    return max
  }

  numAwaitingJoin(): number {
    let n = 0
    for (const member of this.members.values()) if (member.isAwaitingJoin) n++
    return n
  }

  hasAllMembersJoined(): boolean {
    return this.members.size === this.numAwaitingJoin() && this.pendingMembers.size === 0
  }

  /** If the leader did not rejoin, hand leadership to a member that did (false if none did). */
  maybeElectNewJoinedLeader(): boolean {
    if (this.leaderId === null) return false
    const leader = this.members.get(this.leaderId)
    if (leader?.isAwaitingJoin) return true
    for (const member of this.members.values()) {
      if (member.isAwaitingJoin) { this.leaderId = member.memberId; return true }
    }
    return false
  }

  /** Bumps the generation: CompletingRebalance with a chosen protocol, or Empty when no one is left. */
  initNextGeneration(nowMs: number): void {
    this.generationId += 1
    if (this.members.size > 0) {
      this.protocolName = this.selectProtocol()
      this.transitionTo(GroupState.CompletingRebalance, nowMs)
    } else {
      this.protocolName = null
      this.transitionTo(GroupState.Empty, nowMs)
    }
  }

  /** What the leader receives in its JoinGroup response. */
  currentMemberMetadata(): JoinGroupMember[] {
    const protocol = this.protocolName ?? ''
    return [...this.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadataFor(protocol) }))
  }

  summary(): GroupSummary {
    const stable = this.is(GroupState.Stable)
    const protocol = stable ? (this.protocolName ?? '') : ''
    return {
      groupId: this.groupId,
      state: this.currentState,
      protocolType: this.protocolType ?? '',
      protocolName: protocol,
      members: [...this.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable ? m.metadataFor(protocol) : emptyBuffer,
        assignment: stable ? m.assignment : emptyBuffer,
      })),
    }
  }
}
