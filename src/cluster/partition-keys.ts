/**
 * "topic/partition" map keys, made once per partition: the leader looks partitions up several
 * times per partition of every follower fetch (~50 partitions, several fetches per acks=all
 * round trip), and a fresh template string each time was garbage for its main thread's minor GCs.
 */
const byTopic = new Map<string, string[]>()

export function partitionKey(topic: string, partition: number): string {
  let keys = byTopic.get(topic)
  if (!keys) byTopic.set(topic, keys = [])
  return keys[partition] ??= `${topic}/${partition}`
}

/** Drops a deleted topic's keys. */
export function forgetPartitionKeys(topic: string): void {
  byTopic.delete(topic)
}
