/**
 * The node's side of `__consumer_offsets` for groups/consumer-offsets-log.ts: create the topic on
 * first use, append a commit with acks=all (single node: the flush policy's durable append; a
 * cluster: the leader's append plus the ISR reaching it, as a Produce with acks=all), and read a
 * partition back from its log start when this broker takes it over.
 */
import { Buffer } from 'node:buffer'
import { closeSync, read } from 'node:fs'
import { promisify } from 'node:util'
import type { RinglogConfig } from '../config.js'
import type { LogEngine } from '../engine/log-engine.js'
import { RinglogError, TopicAlreadyExistsError } from '../errors.js'
import type { OffsetsTopicIo } from '../groups/consumer-offsets-log.js'
import { ErrorCode } from '../protocol/error-codes.js'
import type { ClusterView } from './cluster-view.js'
import { CONSUMER_OFFSETS_TOPIC, consumerOffsetsConfigs, offsetsTopicReplicationFactor } from './internal-topics.js'
import type { TopicRegistry } from './topic-registry.js'

const readAsync = promisify(read)

/** How long a commit waits for the ISR to reach it (Kafka's offsets.commit.timeout.ms). */
export const OFFSETS_COMMIT_TIMEOUT_MS = 5_000
const READ_CHUNK_BYTES = 1024 * 1024

export interface OffsetsTopicHost {
  readonly config: RinglogConfig
  readonly topics: TopicRegistry
  readonly engine: LogEngine
  readonly cluster: ClusterView | undefined
  createTopic(name: string, partitions: number, configs: Record<string, string>, options: { internal: boolean }): Promise<unknown>
}

export function offsetsTopicIo(host: OffsetsTopicHost): OffsetsTopicIo {
  return internalTopicIo(host, {
    topic: CONSUMER_OFFSETS_TOPIC,
    partitions: (config) => config.offsetsTopicNumPartitions,
    replicationFactor: offsetsTopicReplicationFactor,
    configs: consumerOffsetsConfigs,
  })
}

/** One of the node's internal topics: its name, and how it is created on first use. */
export interface InternalTopicSpec {
  topic: string
  partitions(config: RinglogConfig): number
  replicationFactor(config: RinglogConfig, liveBrokers: number): number
  /** Topic configs for a topic created at `replicationFactor` (1 for a single node). */
  configs(replicationFactor: number): Readonly<Record<string, string>>
}

/** The same I/O for any internal topic (`__consumer_offsets`, `__transaction_state`). */
export function internalTopicIo(host: OffsetsTopicHost, spec: InternalTopicSpec): OffsetsTopicIo {
  const { topic } = spec
  return {
    get partitions(): number {
      const existing = host.cluster ? host.cluster.topic(topic)?.partitions.length : host.topics.get(topic)?.partitions
      return existing ?? spec.partitions(host.config)
    },

    ledHere(partition: number): boolean {
      const { cluster } = host
      return !cluster || cluster.topic(topic)?.partitions[partition]?.leader === cluster.nodeId
    },

    async ensureTopic(): Promise<void> {
      const { cluster, config } = host
      try {
        if (cluster) {
          if (cluster.topic(topic)) return
          const rf = spec.replicationFactor(config, cluster.brokers().length)
          await cluster.createTopic(topic, spec.partitions(config), rf, { ...spec.configs(rf) })
        } else if (!host.topics.get(topic)) {
          await host.createTopic(topic, spec.partitions(config), { ...spec.configs(1) }, { internal: true })
        }
      } catch (error) {
        if (!(error instanceof TopicAlreadyExistsError)) throw error
      }
    },

    async append(partition: number, batch: Buffer): Promise<void> {
      const { cluster, engine } = host
      if (!cluster) {
        const result = await engine.appendBatches(topic, partition, batch, -1)
        if (result.errorCode !== ErrorCode.NONE) throw new RinglogError(result.errorCode, result.errorMessage ?? `append to ${topic}-${partition} failed`)
        return
      }
      const leader = cluster.checkLeader(topic, partition, -1)
      if (leader !== ErrorCode.NONE) throw new RinglogError(leader, `this broker does not lead ${topic}-${partition}`)
      const insync = cluster.checkMinInsync(topic, partition)
      if (insync !== ErrorCode.NONE) throw new RinglogError(insync, `${topic}-${partition}: the ISR is smaller than min.insync.replicas`)
      // acks=1 to the worker: followers are woken before the leader's fdatasync; the HW awaited
      // below includes the leader's flush policy (see clusterAppend in 00-produce.ts).
      const result = await engine.appendBatches(topic, partition, batch, 1)
      if (result.errorCode !== ErrorCode.NONE) throw new RinglogError(result.errorCode, result.errorMessage ?? `append to ${topic}-${partition} failed`)
      cluster.onLeaderAppend(topic, partition)
      const lastOffset = (engine.offsets(topic, partition)?.logEndOffset ?? result.baseOffset + 1) - 1
      const code = await cluster.awaitReplication(topic, partition, lastOffset, OFFSETS_COMMIT_TIMEOUT_MS)
      if (code !== ErrorCode.NONE) throw new RinglogError(code, `${topic}-${partition}: not replicated to the ISR (${code})`)
    },

    async read(partition: number, onBatches: (bytes: Buffer) => void): Promise<void> {
      const { engine } = host
      const offsets = engine.offsets(topic, partition)
      if (!offsets) return
      let next = offsets.logStartOffset
      const end = offsets.logEndOffset
      while (next < end) {
        // holdFile: the worker hands over its own descriptor of the segment, so a cleaner swap or
        // retention between this answer and the read cannot put another file under the path.
        const slice = await engine.read(topic, partition, next, READ_CHUNK_BYTES, { upTo: 'logEnd', holdFile: true })
        if (slice.errorCode !== ErrorCode.NONE) throw new RinglogError(slice.errorCode, `reading ${topic}-${partition} at ${next} failed`)
        const segment = slice.segment
        if (!segment || segment.nextOffset === undefined || segment.nextOffset <= next) {
          if (segment?.heldFd !== undefined) closeSync(segment.heldFd)
          break
        }
        onBatches(await readHeldRange(segment.heldFd!, segment.position, segment.length))
        next = segment.nextOffset
      }
    },
  }
}

/** Reads a range through a descriptor the worker handed over (the engine's ReadOptions.holdFile), and closes it. */
async function readHeldRange(fd: number, position: number, length: number): Promise<Buffer> {
  try {
    const buffer = Buffer.allocUnsafe(length)
    let done = 0
    while (done < length) {
      const { bytesRead } = await readAsync(fd, buffer, done, length - done, position + done)
      if (bytesRead === 0) break
      done += bytesRead
    }
    return buffer.subarray(0, done)
  } finally {
    closeSync(fd)
  }
}
