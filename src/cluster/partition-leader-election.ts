/**
 * The controller's decisions for one partition, as pure functions of its state, its replica
 * list and the live brokers (Kafka's ZooKeeper-era controller rules). No I/O: the controller
 * applies the result with a CAS write, and on conflict re-reads and decides again.
 *
 * - A leader is only chosen from the ISR among live brokers, in replica order (the preferred
 *   replica first), and never among brokers shutting down; outside the ISR only when the topic
 *   enables unclean election, and then the ISR restarts as just the new leader.
 * - A leader change bumps leaderEpoch; an ISR-only change (a dead follower leaves) does not.
 * - With no eligible replica the partition goes offline (leader -1, epoch + 1) and keeps its
 *   last ISR, so the first of those brokers to come back leads it again without data loss.
 */
import { NO_LEADER, type PartitionState } from './metadata-layout.js'

export type PartitionChange = Omit<PartitionState, 'version'>

export interface ElectionContext {
  live: ReadonlySet<number>
  /** Brokers with a controlled-shutdown request: alive, but not to be given leaderships. */
  shuttingDown: ReadonlySet<number>
  uncleanElection: boolean
}

function sameMembers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

/** State of a new partition: ISR = live replicas, leader = the first of them. */
export function initialPartitionState(replicas: readonly number[], live: ReadonlySet<number>): PartitionState {
  const isr = replicas.filter((b) => live.has(b))
  return { leader: isr[0] ?? NO_LEADER, leaderEpoch: 0, isr: isr.length > 0 ? isr : [...replicas], version: 0 }
}

/**
 * What the partition should become given who is alive (after a broker died, or when the
 * controller takes over); undefined when nothing changes.
 */
export function electAfterBrokerChange(state: PartitionState, replicas: readonly number[], context: ElectionContext): PartitionChange | undefined {
  const { live, shuttingDown } = context
  const liveIsr = state.isr.filter((b) => live.has(b))
  if (state.leader !== NO_LEADER && live.has(state.leader)) {
    // The leader lives: only dead followers leave the ISR (shrinking for lag is the leader's job).
    return sameMembers(liveIsr, state.isr) ? undefined : { leader: state.leader, leaderEpoch: state.leaderEpoch, isr: liveIsr }
  }
  const eligible = (b: number): boolean => live.has(b) && !shuttingDown.has(b)
  const clean = replicas.find((b) => liveIsr.includes(b) && eligible(b))
  if (clean !== undefined) return { leader: clean, leaderEpoch: state.leaderEpoch + 1, isr: liveIsr }
  if (context.uncleanElection) {
    const unclean = replicas.find(eligible)
    if (unclean !== undefined) return { leader: unclean, leaderEpoch: state.leaderEpoch + 1, isr: [unclean] }
  }
  // Offline. Keep the last ISR when every member is dead: one of them must lead next.
  const isr = liveIsr.length > 0 ? liveIsr : state.isr
  if (state.leader === NO_LEADER && sameMembers(isr, state.isr)) return undefined
  return { leader: NO_LEADER, leaderEpoch: state.leader === NO_LEADER ? state.leaderEpoch : state.leaderEpoch + 1, isr }
}

/**
 * Controlled shutdown of `broker`: a partition it leads moves to another live ISR member that
 * is not shutting down (epoch + 1) and it leaves every ISR it is in. Returns `stuck` when it
 * leads the partition and no other ISR member can take over (the partition stays where it is).
 */
export function moveAwayForShutdown(
  state: PartitionState,
  replicas: readonly number[],
  broker: number,
  context: ElectionContext,
): PartitionChange | 'stuck' | undefined {
  const isrWithout = state.isr.filter((b) => b !== broker)
  if (state.leader === broker) {
    const next = replicas.find((b) => b !== broker && state.isr.includes(b) && context.live.has(b) && !context.shuttingDown.has(b))
    if (next === undefined) return 'stuck'
    return { leader: next, leaderEpoch: state.leaderEpoch + 1, isr: isrWithout }
  }
  if (!state.isr.includes(broker) || isrWithout.length === 0) return undefined
  if (state.leader === NO_LEADER) return undefined
  return { leader: state.leader, leaderEpoch: state.leaderEpoch, isr: isrWithout }
}

/**
 * Preferred replica election: the first replica in the assignment takes the leadership back
 * (epoch + 1) if it is live, in the ISR and not shutting down; otherwise nothing changes.
 */
export function electPreferred(state: PartitionState, replicas: readonly number[], context: ElectionContext): PartitionChange | undefined {
  const preferred = replicas[0]
  if (preferred === undefined || state.leader === preferred) return undefined
  if (!state.isr.includes(preferred) || !context.live.has(preferred) || context.shuttingDown.has(preferred)) return undefined
  return { leader: preferred, leaderEpoch: state.leaderEpoch + 1, isr: state.isr }
}
