import { describe, expect, it } from 'vitest'
import { allGroupStates, assertTransition, canTransition, GroupState, IllegalGroupStateTransitionError, parseGroupState, type GroupStateName } from '../../src/groups/group-state.js'
import { Group } from '../../src/groups/group.js'

// Kafka's GroupMetadata validPreviousStates, restated as the pairs that must be legal.
const legal = new Set([
  'Empty->PreparingRebalance', 'Empty->Dead',
  'PreparingRebalance->CompletingRebalance', 'PreparingRebalance->Empty', 'PreparingRebalance->Dead',
  'CompletingRebalance->Stable', 'CompletingRebalance->PreparingRebalance', 'CompletingRebalance->Dead',
  'Stable->PreparingRebalance', 'Stable->Dead',
  'Dead->Dead',
])

/** Drives a fresh group into `state` through legal transitions. */
function groupIn(state: GroupStateName): Group {
  const group = new Group('g', 0)
  const path: Record<GroupStateName, GroupStateName[]> = {
    Empty: [],
    PreparingRebalance: ['PreparingRebalance'],
    CompletingRebalance: ['PreparingRebalance', 'CompletingRebalance'],
    Stable: ['PreparingRebalance', 'CompletingRebalance', 'Stable'],
    Dead: ['Dead'],
  }
  for (const step of path[state]) group.transitionTo(step, 1)
  return group
}

describe('group state transitions', () => {
  it('has the five states', () => {
    expect([...allGroupStates].sort()).toEqual(['CompletingRebalance', 'Dead', 'Empty', 'PreparingRebalance', 'Stable'])
  })

  for (const from of allGroupStates) {
    for (const to of allGroupStates) {
      const key = `${from}->${to}`
      if (legal.has(key)) {
        it(`allows ${key}`, () => {
          expect(canTransition(from, to)).toBe(true)
          const group = groupIn(from)
          group.transitionTo(to, 42)
          expect(group.state).toBe(to)
          expect(group.stateSinceMs).toBe(42)
        })
      } else {
        it(`refuses ${key}`, () => {
          expect(canTransition(from, to)).toBe(false)
          expect(() => assertTransition('g', from, to)).toThrow(IllegalGroupStateTransitionError)
          const group = groupIn(from)
          expect(() => group.transitionTo(to, 42)).toThrow(/illegal state transition/)
          expect(group.state).toBe(from)
        })
      }
    }
  }

  it('parses state names case-insensitively', () => {
    expect(parseGroupState('stable')).toBe(GroupState.Stable)
    expect(parseGroupState('COMPLETINGREBALANCE')).toBe(GroupState.CompletingRebalance)
    expect(parseGroupState('AwaitingSync')).toBeNull()
  })
})
