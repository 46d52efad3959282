/**
 * Choosing a partition the way Kafka's Java client (and kafkajs's default partitioner) does,
 * so the same key lands on the same partition whichever client wrote it:
 * keyed records go to `toPositive(murmur2(key)) % partitions`; records without a key stick to
 * one partition until a batch for it is sent (sticky partitioning, KIP-480), then move on.
 */

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as a signed 32-bit int. */
export function murmur2(data: Uint8Array): number {
  const length = data.length
  const m = 0x5bd1e995
  let h = (0x9747b28c ^ length) | 0
  const whole = length & ~3
  for (let i = 0; i < whole; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
    k = Math.imul(k, m)
    k ^= k >>> 24
    k = Math.imul(k, m)
    h = Math.imul(h, m) ^ k
  }
  const tail = length & 3
  if (tail === 3) h ^= data[whole + 2] << 16
  if (tail >= 2) h ^= data[whole + 1] << 8
  if (tail >= 1) {
    h ^= data[whole]
    h = Math.imul(h, m)
  }
  h ^= h >>> 13
  h = Math.imul(h, m)
  h ^= h >>> 15
  return h | 0
}

export function partitionForKey(key: Uint8Array, partitionCount: number): number {
  return (murmur2(key) & 0x7fffffff) % partitionCount
}

/** Per-topic sticky choice for records without a key. */
export class StickyPartitioner {
  private readonly current = new Map<string, number>()

  partition(topic: string, partitionCount: number): number {
    let p = this.current.get(topic)
    if (p === undefined || p >= partitionCount) {
      p = Math.floor(Math.random() * partitionCount)
      this.current.set(topic, p)
    }
    return p
  }

  /** Called when a batch for `topic` was sent: the next keyless records go elsewhere. */
  batchSent(topic: string, partitionCount: number): void {
    const previous = this.current.get(topic) ?? 0
    if (partitionCount <= 1) return
    const step = 1 + Math.floor(Math.random() * (partitionCount - 1))
    this.current.set(topic, (previous + step) % partitionCount)
  }
}
