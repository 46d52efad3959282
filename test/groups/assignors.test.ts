import { describe, expect, it } from 'vitest'
import { assignors, rangeAssignor, roundRobinAssignor, type Assignment, type AssignorMember } from '../../src/groups/assignors.js'

/** Assignment as plain "topic-partition" lists per member, for readable expectations. */
function flat(assignment: Assignment): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const [memberId, topics] of assignment) out[memberId] = [...topics].flatMap(([t, ps]) => ps.map((p) => `${t}-${p}`))
  return out
}

const three: AssignorMember[] = [
  { memberId: 'c2', topics: ['t0', 't1'] },
  { memberId: 'c0', topics: ['t0', 't1'] },
  { memberId: 'c1', topics: ['t1', 't0'] },
]
const sixAndSeven = new Map([['t0', 6], ['t1', 7]])

// Expected values are worked by hand from Kafka's Java RangeAssignor / RoundRobinAssignor.
describe('range assignor', () => {
  it('3 members over 6 + 7 partitions: per topic ranges, first n % m members get one extra', () => {
    expect(flat(rangeAssignor.assign(three, sixAndSeven))).toEqual({
      c0: ['t0-0', 't0-1', 't1-0', 't1-1', 't1-2'],
      c1: ['t0-2', 't0-3', 't1-3', 't1-4'],
      c2: ['t0-4', 't0-5', 't1-5', 't1-6'],
    })
  })

  it('mixed subscriptions (Java testMultipleConsumersMixedTopics)', () => {
    const members = [
      { memberId: 'consumer1', topics: ['topic1'] },
      { memberId: 'consumer2', topics: ['topic1', 'topic2'] },
      { memberId: 'consumer3', topics: ['topic1'] },
    ]
    expect(flat(rangeAssignor.assign(members, new Map([['topic1', 3], ['topic2', 2]])))).toEqual({
      consumer1: ['topic1-0'],
      consumer2: ['topic1-1', 'topic2-0', 'topic2-1'],
      consumer3: ['topic1-2'],
    })
  })

  it('more members than partitions leaves the last ones empty; unknown topics are skipped', () => {
    const members = ['a', 'b', 'c'].map((memberId) => ({ memberId, topics: ['t', 'missing'] }))
    expect(flat(rangeAssignor.assign(members, new Map([['t', 2]])))).toEqual({ a: ['t-0'], b: ['t-1'], c: [] })
  })

  it('static members sort first, by instance id (Java MemberInfo order)', () => {
    const members = [
      { memberId: 'a', topics: ['t'] },
      { memberId: 'z', groupInstanceId: 'i2', topics: ['t'] },
      { memberId: 'y', groupInstanceId: 'i1', topics: ['t'] },
    ]
    expect(flat(rangeAssignor.assign(members, new Map([['t', 4]])))).toEqual({ y: ['t-0', 't-1'], z: ['t-2'], a: ['t-3'] })
  })
})

describe('roundrobin assignor', () => {
  it('3 members over 6 + 7 partitions: all partitions sorted, dealt in member order', () => {
    expect(flat(roundRobinAssignor.assign(three, sixAndSeven))).toEqual({
      c0: ['t0-0', 't0-3', 't1-0', 't1-3', 't1-6'],
      c1: ['t0-1', 't0-4', 't1-1', 't1-4'],
      c2: ['t0-2', 't0-5', 't1-2', 't1-5'],
    })
  })

  it('two members, two topics of three (Java testTwoConsumersTwoTopicsSixPartitions)', () => {
    const members = [{ memberId: 'consumer1', topics: ['topic1', 'topic2'] }, { memberId: 'consumer2', topics: ['topic1', 'topic2'] }]
    expect(flat(roundRobinAssignor.assign(members, new Map([['topic1', 3], ['topic2', 3]])))).toEqual({
      consumer1: ['topic1-0', 'topic1-2', 'topic2-1'],
      consumer2: ['topic1-1', 'topic2-0', 'topic2-2'],
    })
  })

  it('skips members not subscribed to a topic (Java testMultipleConsumersMixedTopics)', () => {
    const members = [
      { memberId: 'consumer1', topics: ['topic'] },
      { memberId: 'consumer2', topics: ['topic', 'topic2'] },
      { memberId: 'consumer3', topics: ['topic'] },
    ]
    expect(flat(roundRobinAssignor.assign(members, new Map([['topic', 3], ['topic2', 2]])))).toEqual({
      consumer1: ['topic-0'],
      consumer2: ['topic-1', 'topic2-0', 'topic2-1'],
      consumer3: ['topic-2'],
    })
  })

  it('every partition is assigned exactly once', () => {
    const members = Array.from({ length: 5 }, (_, i) => ({ memberId: `m${i}`, topics: i % 2 ? ['a', 'b'] : ['b', 'c'] }))
    const partitions = new Map([['a', 7], ['b', 11], ['c', 3]])
    for (const assignor of assignors.values()) {
      const all = Object.values(flat(assignor.assign(members, partitions))).flat().sort()
      expect(all).toHaveLength(21)
      expect(new Set(all).size).toBe(21)
    }
  })
})
