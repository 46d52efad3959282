/**
 * Producer ids in cluster mode: each broker takes blocks of ids from etcd (a CAS on the
 * producer-ids key, see ClusterMetadata.allocateProducerIdBlock) and hands them out one by one,
 * so no two brokers ever give out the same id and etcd sees one write per block, not per
 * InitProducerId (Kafka's controller hands out blocks of 1000 the same way).
 */
import type { ClusterMetadata, ProducerIdBlock } from './cluster-metadata.js'

export const CLUSTER_PRODUCER_ID_BLOCK_SIZE = 1000

export class ClusterProducerIdAllocator {
  private block: ProducerIdBlock | undefined
  private next = 0
  private refill: Promise<void> | undefined

  constructor(private readonly metadata: ClusterMetadata, private readonly blockSize = CLUSTER_PRODUCER_ID_BLOCK_SIZE) {
    if (!Number.isSafeInteger(blockSize) || blockSize < 1) throw new RangeError(`blockSize must be a positive integer, got ${blockSize}`)
  }

  /** A producer id no broker of the cluster has handed out before. */
  async allocate(): Promise<number> {
    for (;;) {
      const block = this.block
      if (block && this.next < block.firstProducerId + block.size) return this.next++
      // One etcd round trip per block, shared by every caller waiting for it.
      this.refill ??= this.metadata.allocateProducerIdBlock(this.blockSize).then(
        (fresh) => { this.block = fresh; this.next = fresh.firstProducerId; this.refill = undefined },
        (error: unknown) => { this.refill = undefined; throw error },
      )
      await this.refill
    }
  }
}
