import { beforeEach, describe, expect, it } from 'vitest'
import type { Consumer, GroupJoinEvent } from '../../src/index.js'
import { FAST_CONSUMER, logPerTest, waitFor } from './helpers.js'

interface Member {
  name: string
  consumer: Consumer
  joins: GroupJoinEvent[]
  handled: string[]
}

function partitionsOf(member: Member): number[] {
  const last = member.joins[member.joins.length - 1]
  return last ? [...(last.memberAssignment.events ?? [])] : []
}

/** Every live member saw the same (latest) generation and together they hold all partitions once. */
function stable(members: Member[], partitions: number): boolean {
  const generations = new Set(members.map((m) => m.joins[m.joins.length - 1]?.generationId ?? -1))
  if (generations.size !== 1 || generations.has(-1)) return false
  const all = members.flatMap(partitionsOf).sort((a, b) => a - b)
  return all.length === partitions && all.every((p, i) => p === i) && members.every((m) => m.consumer.assignment().length === partitionsOf(m).length)
}

describe('consumer groups (in-process, through the GroupCoordinator)', () => {
  const fixture = logPerTest('events', 6)
  /** The highest offset any member's auto commit reported, per partition of 'events'. */
  const committed = new Map<number, number>()
  beforeEach(() => committed.clear())

  async function startMember(name: string, assigner: 'range' | 'roundrobin', owner: Map<string, string[]>): Promise<Member> {
    const consumer = fixture.log.consumer({ groupId: 'shared', ...FAST_CONSUMER, partitionAssigners: [assigner], autoCommitInterval: 100 })
    const member: Member = { name, consumer, joins: [], handled: [] }
    consumer.on('consumer.group_join', (event) => member.joins.push(event))
    consumer.on('consumer.commit_offsets', (event) => {
      for (const t of event.topics) for (const p of t.partitions) committed.set(p.partition, Math.max(committed.get(p.partition) ?? 0, Number(p.offset)))
    })
    await consumer.subscribe({ topics: ['events'], fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const id = message.value!.toString()
        member.handled.push(id)
        if (!owner.has(id)) owner.set(id, [])
        owner.get(id)!.push(`${name}@${partition}`)
      },
    })
    return member
  }

  /**
   * One marker record per partition, then waits until all are handled and committed. Delivery is
   * in order within a partition, so by then any duplicate of an earlier record would have been
   * handled too: this replaces sleeping and then asserting that nothing more arrived.
   */
  async function markEveryPartition(tag: string, owner: Map<string, string[]>): Promise<void> {
    const ids = Array.from({ length: 6 }, (_, p) => `marker-${tag}-${p}`)
    const sent = await fixture.log.producer().send({ topic: 'events', messages: ids.map((value, partition) => ({ value, partition })) })
    await waitFor(() => ids.every((id) => owner.has(id)), `markers ${tag} on all 6 partitions`)
    await waitFor(() => sent.every((m) => (committed.get(m.partition) ?? 0) > Number(m.baseOffset)), `commits past the ${tag} markers`)
  }

  async function produce(from: number, count: number): Promise<void> {
    const producer = fixture.log.producer()
    await producer.send({ topic: 'events', messages: Array.from({ length: count }, (_, i) => ({ key: `k${from + i}`, value: `r${from + i}` })) })
  }

  for (const assigner of ['range', 'roundrobin'] as const) {
    it(`3 consumers share 6 partitions (${assigner}); each record is handled once; a leaver's partitions move`, async () => {
      const owner = new Map<string, string[]>()
      const members = [await startMember('a', assigner, owner), await startMember('b', assigner, owner), await startMember('c', assigner, owner)]
      await waitFor(() => stable(members, 6), 'a stable 3-member generation')
      for (const m of members) expect(partitionsOf(m).length).toBe(2)
      expect(members.filter((m) => m.joins[m.joins.length - 1].isLeader).length).toBe(1)
      expect(members[0].joins[members[0].joins.length - 1].groupProtocol).toBe(assigner)

      await produce(0, 600)
      await waitFor(() => owner.size === 600, '600 records handled')
      await markEveryPartition('first', owner)
      for (const [id, handlers] of owner) expect(handlers, id).toHaveLength(1)
      // Each member handled only records of its own partitions.
      for (const m of members) {
        const mine = new Set(partitionsOf(m))
        for (const [, handlers] of owner) for (const h of handlers) if (h.startsWith(`${m.name}@`)) expect(mine.has(Number(h.split('@')[1]))).toBe(true)
      }

      const leaver = members[2]
      const movedPartitions = partitionsOf(leaver)
      await leaver.consumer.disconnect()
      const remaining = members.slice(0, 2)
      await waitFor(() => stable(remaining, 6), 'a stable 2-member generation after the leave')
      const nowOwned = remaining.flatMap(partitionsOf)
      for (const p of movedPartitions) expect(nowOwned).toContain(p)

      const handledByLeaver = leaver.handled.length
      await produce(600, 600)
      await waitFor(() => owner.size === 1206, '1200 records and 6 markers handled')
      await markEveryPartition('second', owner)
      // Offsets were committed before partitions changed hands: nothing handled twice.
      for (const [id, handlers] of owner) expect(handlers, id).toHaveLength(1)
      expect(leaver.handled.length).toBe(handledByLeaver)
      const described = await fixture.log.admin().describeGroups(['shared'])
      expect(described.groups[0].state).toBe('Stable')
      expect(described.groups[0].members).toHaveLength(2)
    })
  }

  it('a member that stops heartbeating (stuck in its handler) loses its partitions to the others', async () => {
    let release: () => void = () => undefined
    const stuck = new Promise<void>((resolve) => { release = resolve })
    const handledBy = new Map<string, string>()
    const make = async (name: string, blocking: boolean): Promise<{ consumer: Consumer; joins: GroupJoinEvent[] }> => {
      const consumer = fixture.log.consumer({ groupId: 'hb', ...FAST_CONSUMER, sessionTimeout: 600 })
      const joins: GroupJoinEvent[] = []
      consumer.on('consumer.group_join', (e) => joins.push(e))
      await consumer.subscribe({ topic: 'events', fromBeginning: true })
      await consumer.run({
        eachMessage: async ({ message }) => {
          if (blocking) await stuck
          if (!handledBy.has(message.value!.toString())) handledBy.set(message.value!.toString(), name)
        },
      })
      return { consumer, joins }
    }
    const healthy = await make('healthy', false)
    const blocked = await make('blocked', true)
    await waitFor(() => {
      const h = healthy.joins.at(-1)
      const b = blocked.joins.at(-1)
      return !!h && !!b && h.generationId === b.generationId && (h.memberAssignment.events?.length ?? 0) === 3
    }, 'both members in one generation')
    await produce(0, 120)
    // The blocked member never returns from its handler, so it stops heartbeating; after the
    // session timeout the group drops it and the healthy member takes every partition.
    await waitFor(() => (healthy.joins.at(-1)?.memberAssignment.events?.length ?? 0) === 6, 'healthy member owns all 6 partitions')
    await waitFor(() => handledBy.size === 120, 'all records handled by the healthy member')
    expect([...handledBy.values()].every((name) => name === 'healthy')).toBe(true)
    release()
  })
})
