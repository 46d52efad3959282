/**
 * The classic client-side partition assignors, matching Kafka's Java RangeAssignor and
 * RoundRobinAssignor (without rack awareness) result for result, so an embedded consumer
 * can lead a group that also holds Java, librdkafka or kafkajs members.
 */

export interface AssignorMember {
  memberId: string
  /** Static members sort before dynamic ones, by instance id (Java's MemberInfo order). */
  groupInstanceId?: string | null
  topics: readonly string[]
}

/** memberId -> topic -> assigned partitions (ascending); every member appears, possibly empty. */
export type Assignment = Map<string, Map<string, number[]>>

export interface Assignor {
  /** The protocol name sent in JoinGroup ("range", "roundrobin"). */
  readonly name: string
  assign(members: readonly AssignorMember[], partitionsPerTopic: ReadonlyMap<string, number>): Assignment
}

/** Java's String.compareTo is UTF-16 code unit order, which is what `<` on JS strings does. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Java's ConsumerPartitionAssignor.MemberInfo.compareTo. */
export function compareMembers(a: AssignorMember, b: AssignorMember): number {
  const ai = a.groupInstanceId ?? null
  const bi = b.groupInstanceId ?? null
  if (ai !== null && bi !== null) return compareStrings(ai, bi)
  if (ai !== null) return -1
  if (bi !== null) return 1
  return compareStrings(a.memberId, b.memberId)
}

function emptyAssignment(members: readonly AssignorMember[]): Assignment {
  return new Map(members.map((m) => [m.memberId, new Map<string, number[]>()]))
}

function give(assignment: Assignment, memberId: string, topic: string, partition: number): void {
  const topics = assignment.get(memberId)!
  let partitions = topics.get(topic)
  if (!partitions) topics.set(topic, partitions = [])
  partitions.push(partition)
}

/** Topics in name order, partitions ascending, so results compare and print the same way. */
function normalize(assignment: Assignment): Assignment {
  const out: Assignment = new Map()
  for (const [memberId, topics] of assignment) {
    const sorted = new Map<string, number[]>()
    for (const topic of [...topics.keys()].sort(compareStrings)) sorted.set(topic, [...topics.get(topic)!].sort((a, b) => a - b))
    out.set(memberId, sorted)
  }
  return out
}

/**
 * Per topic: the subscribed members in MemberInfo order share the partitions in contiguous
 * ranges; the first (partitions % members) members get one extra.
 */
export const rangeAssignor: Assignor = {
  name: 'range',
  assign(members, partitionsPerTopic) {
    const assignment = emptyAssignment(members)
    const topics = new Set(members.flatMap((m) => m.topics))
    for (const topic of [...topics].sort(compareStrings)) {
      const partitionCount = partitionsPerTopic.get(topic)
      // Java skips topics missing from the metadata.
      if (partitionCount === undefined) continue
      const consumers = members.filter((m) => m.topics.includes(topic)).sort(compareMembers)
      const perConsumer = Math.floor(partitionCount / consumers.length)
      const extra = partitionCount % consumers.length
      consumers.forEach((consumer, i) => {
        const start = perConsumer * i + Math.min(i, extra)
        const length = perConsumer + (i + 1 > extra ? 0 : 1)
        for (let p = start; p < start + length; p++) give(assignment, consumer.memberId, topic, p)
      })
    }
    return normalize(assignment)
  },
}

/**
 * All partitions of all subscribed topics, sorted by topic then partition, dealt to the
 * members in MemberInfo order, cycling and skipping members not subscribed to the topic.
 */
export const roundRobinAssignor: Assignor = {
  name: 'roundrobin',
  assign(members, partitionsPerTopic) {
    const assignment = emptyAssignment(members)
    const sorted = [...members].sort(compareMembers)
    if (sorted.length === 0) return assignment
    const topics = [...new Set(members.flatMap((m) => m.topics))].sort(compareStrings)
    let next = 0
    for (const topic of topics) {
      const partitionCount = partitionsPerTopic.get(topic)
      if (partitionCount === undefined) continue
      for (let partition = 0; partition < partitionCount; partition++) {
        // Every topic in the list has a subscriber, so this finds one within a full cycle.
        while (!sorted[next % sorted.length].topics.includes(topic)) next++
        give(assignment, sorted[next % sorted.length].memberId, topic, partition)
        next++
      }
    }
    return normalize(assignment)
  },
}

export const assignors: ReadonlyMap<string, Assignor> = new Map([rangeAssignor, roundRobinAssignor].map((a) => [a.name, a]))
