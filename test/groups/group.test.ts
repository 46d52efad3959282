import { describe, expect, it } from 'vitest'
import { Group, GroupMember, type GroupProtocol } from '../../src/groups/group.js'

const proto = (name: string, meta = name): GroupProtocol => ({ name, metadata: Buffer.from(meta) })

function member(memberId: string, protocols: GroupProtocol[], groupInstanceId: string | null = null, rebalanceTimeoutMs = 1000): GroupMember {
  return new GroupMember({ memberId, groupInstanceId, clientId: 'c', clientHost: '/127.0.0.1', sessionTimeoutMs: 1000, rebalanceTimeoutMs, protocolType: 'consumer', protocols })
}

describe('Group', () => {
  it('first member becomes leader and sets the protocol type; leadership passes on removal', () => {
    const g = new Group('g', 0)
    g.add(member('a', [proto('range')]))
    g.add(member('b', [proto('range')]))
    expect(g.leaderId).toBe('a')
    expect(g.protocolType).toBe('consumer')
    g.remove('a')
    expect(g.leaderId).toBe('b')
    g.remove('b')
    expect(g.leaderId).toBeNull()
  })

  it('selects the protocol with the most first-choice votes among common ones', () => {
    const g = new Group('g', 0)
    g.add(member('a', [proto('range'), proto('roundrobin')]))
    g.add(member('b', [proto('roundrobin'), proto('range'), proto('sticky')]))
    g.add(member('c', [proto('roundrobin'), proto('range')]))
    expect(g.candidateProtocols()).toEqual(['range', 'roundrobin'])
    expect(g.selectProtocol()).toBe('roundrobin')
  })

  it('checks that a newcomer supports a protocol every member supports', () => {
    const g = new Group('g', 0)
    expect(g.supportsProtocols('consumer', [proto('x')])).toBe(true)
    expect(g.supportsProtocols('', [proto('x')])).toBe(false)
    expect(g.supportsProtocols('consumer', [])).toBe(false)
    g.add(member('a', [proto('range'), proto('roundrobin')]))
    g.add(member('b', [proto('range')]))
    expect(g.supportsProtocols('consumer', [proto('range')])).toBe(true)
    expect(g.supportsProtocols('consumer', [proto('roundrobin')])).toBe(false)
    expect(g.supportsProtocols('connect', [proto('range')])).toBe(false)
  })

  it('replaces a static member id, keeping its leadership and position', () => {
    const g = new Group('g', 0)
    g.add(member('s1', [proto('range')], 'instance-1'))
    g.add(member('d1', [proto('range')]))
    expect(g.isStaticMemberFenced('s1', 'instance-1')).toBe(false)
    g.replaceStaticMember('instance-1', 's1', 's2')
    expect(g.leaderId).toBe('s2')
    expect([...g.members.keys()]).toEqual(['s2', 'd1'])
    expect(g.staticMemberId('instance-1')).toBe('s2')
    expect(g.isStaticMemberFenced('s1', 'instance-1')).toBe(true)
    expect(g.isStaticMemberFenced('s1', null)).toBe(false)
  })

  it('uses the largest member rebalance timeout and reports member metadata for the chosen protocol', () => {
    const g = new Group('g', 0)
    g.add(member('a', [proto('range', 'A-range')], null, 500))
    g.add(member('b', [proto('range', 'B-range')], null, 9000))
    expect(g.rebalanceTimeoutMs()).toBe(9000)
    g.transitionTo('PreparingRebalance', 1)
    g.initNextGeneration(2)
    expect(g.generationId).toBe(1)
    expect(g.protocolName).toBe('range')
    expect(g.currentMemberMetadata().map((m) => m.metadata.toString())).toEqual(['A-range', 'B-range'])
  })
})
