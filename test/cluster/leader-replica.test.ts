/**
 * The leader's bookkeeping (HW = min LEO over the ISR, Kafka's catch-up rule for ISR shrink and
 * expand) and the follower's cut of a fetch that ends inside a batch. Deterministic: explicit
 * clock values, no timers.
 */
import { describe, expect, it } from 'vitest'
import { LeaderReplica } from '../../src/cluster/leader-replica.js'
import { wholeBatchesEnd, wholeBatchesLength } from '../../src/cluster/replica-fetcher.js'

describe('LeaderReplica', () => {
  it('moves the HW to the smallest log end over the ISR, never back', () => {
    const leader = new LeaderReplica(3, [1, 2, 3], [1, 2, 3], 1, 0, 0)
    expect(leader.advanceHighWatermark(10)).toBeUndefined() // followers not heard from yet
    leader.recordFetch(2, 10, 10, 1)
    expect(leader.advanceHighWatermark(10)).toBeUndefined()
    leader.recordFetch(3, 6, 10, 1)
    expect(leader.advanceHighWatermark(10)).toBe(6)
    leader.recordFetch(3, 4, 10, 2) // a truncated follower does not pull the HW back
    expect(leader.advanceHighWatermark(10)).toBeUndefined()
    expect(leader.hw).toBe(6)
  })

  it('an ISR of the leader alone follows the leader log end', () => {
    const leader = new LeaderReplica(0, [1], [1, 2], 1, 0, 0)
    expect(leader.advanceHighWatermark(5)).toBe(5)
  })

  it('drops a follower not caught up for the lag time and takes it back once it reaches the HW', () => {
    const leader = new LeaderReplica(1, [1, 2, 3], [1, 2, 3], 1, 0, 0)
    leader.recordFetch(2, 0, 0, 100)
    leader.recordFetch(3, 0, 0, 100)
    expect(leader.proposedIsr(1_000, 5_000)).toBeUndefined()
    // Broker 3 stops fetching; 2 keeps up with the leader's log end.
    leader.recordFetch(2, 50, 50, 6_000)
    expect(leader.proposedIsr(6_000, 5_000)).toEqual([1, 2])
    leader.isr = [1, 2]
    expect(leader.advanceHighWatermark(50)).toBe(50)
    leader.recordFetch(3, 20, 50, 7_000)
    expect(leader.proposedIsr(7_000, 5_000)).toBeUndefined() // behind the HW: not yet
    leader.recordFetch(3, 50, 50, 7_100)
    expect(leader.proposedIsr(7_100, 5_000)).toEqual([1, 2, 3])
  })

  it('a follower the controller removed (it died) is not put back from a fetch made before it left', () => {
    const leader = new LeaderReplica(1, [1, 2, 3], [1, 2, 3], 1, 0, 0)
    leader.recordFetch(2, 10, 10, 100)
    leader.recordFetch(3, 10, 10, 100)
    expect(leader.advanceHighWatermark(10)).toBe(10)
    leader.isr = [1, 2] // broker 3's lease expired: the controller's CAS, seen through etcd
    expect(leader.proposedIsr(200, 30_000)).toBeUndefined()
    expect(leader.advanceHighWatermark(20)).toBeUndefined() // broker 2 has not fetched 10..20 yet
    leader.recordFetch(2, 20, 20, 300)
    expect(leader.advanceHighWatermark(20)).toBe(20) // the dead broker 3 does not hold the HW back
    leader.recordFetch(3, 20, 20, 400) // back, and caught up: it rejoins
    expect(leader.proposedIsr(400, 30_000)).toEqual([1, 2, 3])
  })

  it('ignores fetches from brokers that are not replicas', () => {
    const leader = new LeaderReplica(0, [1], [1, 2], 1, 0, 0)
    expect(leader.isReplica(2)).toBe(true)
    expect(leader.isReplica(9)).toBe(false)
    leader.recordFetch(9, 100, 100, 1)
    expect(leader.proposedIsr(1, 5_000)).toBeUndefined()
  })
})

describe('wholeBatchesLength', () => {
  const batch = (bodyBytes: number): Buffer => {
    const b = Buffer.alloc(12 + bodyBytes)
    b.writeInt32BE(bodyBytes, 8)
    return b
  }
  it('keeps whole batches and drops a partial trailing one', () => {
    const two = Buffer.concat([batch(49), batch(61)])
    expect(wholeBatchesLength(two)).toBe(two.length)
    expect(wholeBatchesLength(two.subarray(0, two.length - 1))).toBe(61)
    expect(wholeBatchesLength(two.subarray(0, 70))).toBe(61)
    expect(wholeBatchesLength(two.subarray(0, 8))).toBe(0)
    expect(wholeBatchesLength(Buffer.alloc(0))).toBe(0)
  })
})

describe('wholeBatchesEnd', () => {
  /** A batch header at base offset `base` covering `count` offsets, `bodyBytes` after the 12-byte log overhead. */
  const batch = (base: number, count: number, bodyBytes = 61): Buffer => {
    const b = Buffer.alloc(12 + bodyBytes)
    b.writeBigInt64BE(BigInt(base), 0)
    b.writeInt32BE(bodyBytes, 8)
    b.writeInt32BE(count - 1, 23)
    return b
  }
  it('is the offset after the last whole batch, ignoring a partial trailing one', () => {
    const data = Buffer.concat([batch(100, 5), batch(105, 3), batch(108, 7)])
    expect(wholeBatchesEnd(data)).toEqual({ length: data.length, nextOffset: 115 })
    expect(wholeBatchesEnd(data.subarray(0, data.length - 1))).toEqual({ length: 146, nextOffset: 108 })
    expect(wholeBatchesEnd(data.subarray(0, 60))).toBeUndefined()
    expect(wholeBatchesEnd(Buffer.alloc(0))).toBeUndefined()
  })
})
