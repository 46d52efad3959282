import { describe, expect, it } from 'vitest'
import { NO_LEADER } from '../../src/cluster/metadata-layout.js'
import { electAfterBrokerChange, electPreferred, initialPartitionState, moveAwayForShutdown } from '../../src/cluster/partition-leader-election.js'

const ctx = (live: number[], opts: { shuttingDown?: number[]; unclean?: boolean } = {}) => ({
  live: new Set(live), shuttingDown: new Set(opts.shuttingDown ?? []), uncleanElection: opts.unclean ?? false,
})
const st = (leader: number, leaderEpoch: number, isr: number[]) => ({ leader, leaderEpoch, isr, version: 7 })

describe('partition leader election rules', () => {
  it('a new partition: ISR = live replicas, the first of them leads', () => {
    expect(initialPartitionState([3, 1, 2], new Set([1, 2]))).toEqual({ leader: 1, leaderEpoch: 0, isr: [1, 2], version: 0 })
    expect(initialPartitionState([3], new Set([1]))).toEqual({ leader: NO_LEADER, leaderEpoch: 0, isr: [3], version: 0 })
  })

  it('leader died: next live ISR member in replica order, epoch + 1, dead leader out of the ISR', () => {
    expect(electAfterBrokerChange(st(1, 4, [1, 3, 2]), [1, 2, 3], ctx([2, 3]))).toEqual({ leader: 2, leaderEpoch: 5, isr: [3, 2] })
  })

  it('never picks a live replica outside the ISR; goes offline keeping the last ISR', () => {
    expect(electAfterBrokerChange(st(1, 4, [1]), [1, 2, 3], ctx([2, 3]))).toEqual({ leader: NO_LEADER, leaderEpoch: 5, isr: [1] })
    // Already offline and still nobody eligible: nothing to write.
    expect(electAfterBrokerChange(st(NO_LEADER, 5, [1]), [1, 2, 3], ctx([2, 3]))).toBeUndefined()
  })

  it('an offline partition comes back when an ISR member returns', () => {
    expect(electAfterBrokerChange(st(NO_LEADER, 5, [1]), [1, 2, 3], ctx([1, 2, 3]))).toEqual({ leader: 1, leaderEpoch: 6, isr: [1] })
  })

  it('unclean election, when the topic allows it: first live replica, ISR restarts as [leader]', () => {
    expect(electAfterBrokerChange(st(1, 4, [1]), [1, 3, 2], ctx([2, 3], { unclean: true }))).toEqual({ leader: 3, leaderEpoch: 5, isr: [3] })
  })

  it('a dead follower leaves the ISR at once, leader and epoch unchanged; nothing to do when all live', () => {
    expect(electAfterBrokerChange(st(1, 4, [1, 2, 3]), [1, 2, 3], ctx([1, 3]))).toEqual({ leader: 1, leaderEpoch: 4, isr: [1, 3] })
    expect(electAfterBrokerChange(st(1, 4, [1, 2]), [1, 2, 3], ctx([1, 2]))).toBeUndefined()
  })

  it('does not elect a broker that is shutting down', () => {
    expect(electAfterBrokerChange(st(1, 0, [1, 2, 3]), [1, 2, 3], ctx([2, 3], { shuttingDown: [2] }))).toEqual({ leader: 3, leaderEpoch: 1, isr: [2, 3] })
  })

  it('controlled shutdown moves leadership to another live ISR member and drops the broker from ISRs', () => {
    expect(moveAwayForShutdown(st(2, 3, [2, 1, 3]), [2, 3, 1], 2, ctx([1, 2, 3], { shuttingDown: [2] }))).toEqual({ leader: 3, leaderEpoch: 4, isr: [1, 3] })
    expect(moveAwayForShutdown(st(1, 3, [1, 2]), [1, 2], 2, ctx([1, 2], { shuttingDown: [2] }))).toEqual({ leader: 1, leaderEpoch: 3, isr: [1] })
    expect(moveAwayForShutdown(st(2, 3, [2]), [2, 1], 2, ctx([1, 2], { shuttingDown: [2] }))).toBe('stuck')
    expect(moveAwayForShutdown(st(1, 3, [1]), [1, 2], 2, ctx([1, 2], { shuttingDown: [2] }))).toBeUndefined()
  })
})

describe('preferred replica election', () => {
  it('moves leadership to the first replica only when it is live, in the ISR and not shutting down', () => {
    expect(electPreferred(st(2, 3, [2, 1]), [1, 2], ctx([1, 2]))).toEqual({ leader: 1, leaderEpoch: 4, isr: [2, 1] })
    expect(electPreferred(st(2, 3, [2]), [1, 2], ctx([1, 2]))).toBeUndefined()
    expect(electPreferred(st(2, 3, [2, 1]), [1, 2], ctx([2]))).toBeUndefined()
    expect(electPreferred(st(2, 3, [2, 1]), [1, 2], ctx([1, 2], { shuttingDown: [1] }))).toBeUndefined()
    expect(electPreferred(st(1, 3, [2, 1]), [1, 2], ctx([1, 2]))).toBeUndefined()
  })
})
