/**
 * Leader side of one partition (Kafka's Partition on the leader): each follower's log end offset
 * from its Fetch requests and when it was last caught up, the high watermark as min LEO over the
 * ISR (the leader included; it never goes back), and which followers should leave the ISR (not
 * caught up for replica.lag.time.max.ms) or join it (reached the HW). The ISR itself is what
 * etcd says; changes are proposed here and written by the caller with CAS.
 *
 * A follower outside the ISR joins only after a fetch it made since it left (Kafka expands the
 * ISR on a follower's fetch): otherwise a follower the controller just removed because it died
 * would be put back from its last fetch before death, and the HW would wait for a dead replica.
 */

interface FollowerState {
  logEndOffset: number
  lastCaughtUpMs: number
  /** The leader's LEO and the time at this follower's previous fetch (Kafka's catch-up rule). */
  lastFetchLeaderLogEnd: number
  lastFetchMs: number
  /** Fetched since it was last outside the ISR: only such a follower may join it. */
  fetchedOutsideIsr: boolean
}

export class LeaderReplica {
  private readonly followers = new Map<number, FollowerState>()
  private highWatermark: number
  private members: number[] = []
  /** The engine showed this leader's last HW move at once (not flush 'always'): acks=all waits on this thread. */
  highWatermarkShownAtOnce = false

  constructor(
    readonly leaderEpoch: number,
    isr: number[],
    replicas: readonly number[],
    readonly nodeId: number,
    initialHighWatermark: number,
    now: number,
  ) {
    this.highWatermark = initialHighWatermark
    for (const id of replicas) {
      if (id !== nodeId) this.followers.set(id, { logEndOffset: -1, lastCaughtUpMs: now, lastFetchLeaderLogEnd: -1, lastFetchMs: now, fetchedOutsideIsr: false })
    }
    this.isr = isr
  }

  /** The ISR as etcd holds it (set from the partition state or after this leader's own CAS write). */
  get isr(): number[] { return this.members }

  set isr(isr: number[]) {
    this.members = isr
    for (const [id, f] of this.followers) if (!isr.includes(id)) f.fetchedOutsideIsr = false
  }

  isReplica(id: number): boolean { return this.followers.has(id) }

  get hw(): number { return this.highWatermark }

  /** Records a follower fetch at `fetchOffset` while the leader's log ends at `leaderLogEnd`. */
  recordFetch(id: number, fetchOffset: number, leaderLogEnd: number, now: number): void {
    const f = this.followers.get(id)
    if (!f) return
    f.logEndOffset = fetchOffset
    if (fetchOffset >= leaderLogEnd) f.lastCaughtUpMs = now
    else if (fetchOffset >= f.lastFetchLeaderLogEnd) f.lastCaughtUpMs = Math.max(f.lastCaughtUpMs, f.lastFetchMs)
    f.lastFetchLeaderLogEnd = leaderLogEnd
    f.lastFetchMs = now
    if (!this.members.includes(id)) f.fetchedOutsideIsr = true
  }

  /** The new HW if it moved forward: min LEO over the ISR. */
  advanceHighWatermark(leaderLogEnd: number): number | undefined {
    let min = leaderLogEnd
    for (const id of this.isr) {
      if (id === this.nodeId) continue
      const f = this.followers.get(id)
      min = Math.min(min, f ? f.logEndOffset : -1)
    }
    if (min <= this.highWatermark) return undefined
    this.highWatermark = min
    return min
  }

  /** The ISR to propose: laggards out, followers at or past the HW in; undefined when unchanged. */
  proposedIsr(now: number, lagTimeMaxMs: number): number[] | undefined {
    const next = this.isr.filter((id) => {
      if (id === this.nodeId) return true
      const f = this.followers.get(id)
      return f !== undefined && now - f.lastCaughtUpMs <= lagTimeMaxMs
    })
    for (const [id, f] of this.followers) {
      if (!next.includes(id) && f.fetchedOutsideIsr && f.logEndOffset >= this.highWatermark && now - f.lastCaughtUpMs <= lagTimeMaxMs) next.push(id)
    }
    if (next.length === this.isr.length && next.every((id) => this.isr.includes(id))) return undefined
    return next.sort((a, b) => a - b)
  }
}
