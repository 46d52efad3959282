/**
 * The classic group protocol's states and the transitions Kafka allows between them
 * (GroupMetadata.scala's validPreviousStates, written as "from -> to").
 */
export const GroupState = {
  Empty: 'Empty',
  PreparingRebalance: 'PreparingRebalance',
  CompletingRebalance: 'CompletingRebalance',
  Stable: 'Stable',
  Dead: 'Dead',
} as const

export type GroupStateName = (typeof GroupState)[keyof typeof GroupState]

export const allGroupStates: readonly GroupStateName[] = Object.values(GroupState)

export const legalTransitions: Readonly<Record<GroupStateName, readonly GroupStateName[]>> = {
  // A first member joins (rebalance), or the group is deleted / its offsets expired.
  Empty: ['PreparingRebalance', 'Dead'],
  // Join phase done with members (-> CompletingRebalance) or without any (-> Empty).
  PreparingRebalance: ['CompletingRebalance', 'Empty', 'Dead'],
  // The leader's SyncGroup lands (-> Stable), or membership changes before it does.
  CompletingRebalance: ['Stable', 'PreparingRebalance', 'Dead'],
  Stable: ['PreparingRebalance', 'Dead'],
  Dead: ['Dead'],
}

export class IllegalGroupStateTransitionError extends Error {
  constructor(readonly groupId: string, readonly from: GroupStateName, readonly to: GroupStateName) {
    super(`group ${JSON.stringify(groupId)}: illegal state transition ${from} -> ${to}`)
    this.name = 'IllegalGroupStateTransitionError'
  }
}

export function canTransition(from: GroupStateName, to: GroupStateName): boolean {
  return legalTransitions[from].includes(to)
}

/** Throws IllegalGroupStateTransitionError unless `from -> to` is in the table. */
export function assertTransition(groupId: string, from: GroupStateName, to: GroupStateName): void {
  if (!canTransition(from, to)) throw new IllegalGroupStateTransitionError(groupId, from, to)
}

/** Parses a state name case-insensitively (ListGroups v4 filters), null if unknown. */
export function parseGroupState(name: string): GroupStateName | null {
  const lower = name.toLowerCase()
  return allGroupStates.find((state) => state.toLowerCase() === lower) ?? null
}
