import { AssignerProtocol } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription, toTopicPartitions } from '../../src/groups/consumer-protocol.js'
import { rangeAssignor } from '../../src/groups/assignors.js'

describe('consumer protocol bytes', () => {
  it('encodes a v0 subscription byte for byte', () => {
    const bytes = encodeSubscription({ version: 0, topics: ['ab', 'c'], userData: null })
    expect(bytes.toString('hex')).toBe('0000' + '00000002' + '0002' + '6162' + '0001' + '63' + 'ffffffff')
  })

  it('round-trips a v1 subscription with owned partitions and a v3 one with a rack', () => {
    const v1 = { version: 1, topics: ['t1', 't2'], userData: Buffer.from([1, 2]), ownedPartitions: [{ topic: 't1', partitions: [0, 3] }] }
    expect(decodeSubscription(encodeSubscription(v1))).toEqual({ ...v1, generationId: -1, rackId: null })
    const v3 = { version: 3, topics: ['t'], userData: null, ownedPartitions: [], generationId: 7, rackId: 'rack-a' }
    expect(decodeSubscription(encodeSubscription(v3))).toEqual(v3)
  })

  it('encodes a v0 assignment byte for byte and decodes an empty buffer as no assignment', () => {
    const bytes = encodeAssignment({ partitions: [{ topic: 't', partitions: [1, 2] }] })
    expect(bytes.toString('hex')).toBe('0000' + '00000001' + '0001' + '74' + '00000002' + '00000001' + '00000002' + 'ffffffff')
    expect(decodeAssignment(Buffer.alloc(0))).toEqual({ version: 0, partitions: [], userData: null })
  })

  it('reads what kafkajs writes and kafkajs reads what we write', () => {
    const theirs = AssignerProtocol.MemberMetadata.encode({ version: 1, topics: ['orders', 'payments'], userData: Buffer.from('ud') })
    expect(decodeSubscription(theirs)).toMatchObject({ version: 1, topics: ['orders', 'payments'], userData: Buffer.from('ud'), ownedPartitions: [] })
    const theirAssignment = AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: { orders: [0, 2], payments: [1] }, userData: Buffer.alloc(0) })
    expect(decodeAssignment(theirAssignment).partitions).toEqual([{ topic: 'orders', partitions: [0, 2] }, { topic: 'payments', partitions: [1] }])

    const assignment = rangeAssignor.assign([{ memberId: 'a', topics: ['orders'] }, { memberId: 'b', topics: ['orders'] }], new Map([['orders', 3]]))
    const ours = encodeAssignment({ partitions: toTopicPartitions(assignment.get('a')!) })
    expect(AssignerProtocol.MemberAssignment.decode(ours)).toMatchObject({ version: 0, assignment: { orders: [0, 1] } })
    expect(AssignerProtocol.MemberMetadata.decode(encodeSubscription({ version: 0, topics: ['x'], userData: Buffer.alloc(0) })))
      .toMatchObject({ version: 0, topics: ['x'] })
  })

  it('rejects truncated input and counts larger than the bytes present', () => {
    const good = encodeSubscription({ version: 1, topics: ['topic'], ownedPartitions: [{ topic: 'topic', partitions: [1] }] })
    for (let cut = 1; cut < 12; cut++) expect(() => decodeSubscription(good.subarray(0, cut))).toThrow(/consumer protocol/)
    const hugeCount = Buffer.from('0000' + '7fffffff', 'hex')
    expect(() => decodeSubscription(hugeCount)).toThrow(/truncated/)
    expect(() => decodeAssignment(hugeCount)).toThrow(/truncated/)
  })
})
