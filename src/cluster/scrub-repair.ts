/**
 * Cluster side of the background scrubber (issue 18 item 4). Replicas hold the leader's batches
 * byte for byte, so a damaged range of a closed segment can be mended from another replica: a
 * follower fetches the same offsets from its leader (a plain read_uncommitted Fetch, replica id
 * -1, so the leader's view of this follower's progress is untouched) and the engine rewrites the
 * range in place once the copy proves to be exactly those batches. A leader whose own copy is
 * damaged first hands its leadership to another live in-sync replica, then mends the range from
 * it as a follower; if it is the only in-sync copy, the range stays refused (KAFKA_STORAGE_ERROR).
 * Repairs run one at a time, each bounded in attempts; every outcome is logged.
 */
import type { LogEngine, ScrubDamageEvent } from '../engine/log-engine.js'
import type { InterBrokerConnector } from '../kafka-client/inter-broker-connection.js'
import { ApiKey } from '../kafka-client/kafka-wire-client.js'
import { ErrorCode } from '../protocol/error-codes.js'

const FETCH_VERSION = 12
/** A range this long or longer (an unparsable tail of a big segment) is not copied through the worker ring in one piece. */
export const MAX_REPAIR_BYTES = 8 * 1024 * 1024
const ATTEMPTS = 40
const BACKOFF_MS = 500

export interface ScrubRepairHost {
  nodeId: number
  engine: LogEngine
  /** The partition's current leader as this broker's metadata cache knows it (-1: none). */
  leaderOf(topic: string, partition: number): number
  address(brokerId: number): { host: string; port: number } | undefined
  /** How this broker connects to the leader holding the good copy. */
  readonly connector: InterBrokerConnector
  /** Moves this broker's leadership of the partition to another live ISR member; false if there is none. */
  resignLeadership(topic: string, partition: number): Promise<boolean>
  log(message: string): void
}

export class ScrubRepairer {
  private readonly queue: ScrubDamageEvent[] = []
  private running: Promise<void> | undefined
  private closed = false

  constructor(private readonly host: ScrubRepairHost) {}

  /** Queues a damaged range for repair. */
  onDamage(damage: ScrubDamageEvent): void {
    if (this.closed) return
    this.queue.push(damage)
    this.running ??= this.drain().finally(() => { this.running = undefined })
  }

  async close(): Promise<void> {
    this.closed = true
    this.queue.length = 0
    await this.running
  }

  private async drain(): Promise<void> {
    for (let damage = this.queue.shift(); damage && !this.closed; damage = this.queue.shift()) {
      const where = `${damage.topic}-${damage.partition} ${damage.path} bytes ${damage.position}-${damage.position + damage.length}`
      try {
        this.host.log(`scrub repair: ${where}: ${await this.repair(damage)}`)
      } catch (error) {
        this.host.log(`scrub repair: ${where}: not repaired (${error instanceof Error ? error.message : String(error)}); the range stays refused`)
      }
    }
  }

  private async repair(damage: ScrubDamageEvent): Promise<string> {
    const { host } = this
    if (damage.firstOffset < 0) return 'not repaired: its first offset is unknown (the batches before it are damaged too); the range stays refused'
    if (damage.length >= MAX_REPAIR_BYTES) return `not repaired: ${damage.length} bytes is more than a repair copies (${MAX_REPAIR_BYTES}); the range stays refused`
    let resigned = false
    let lastProblem = 'no leader'
    for (let attempt = 0; attempt < ATTEMPTS && !this.closed; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, BACKOFF_MS))
      const leader = host.leaderOf(damage.topic, damage.partition)
      if (leader === host.nodeId) {
        if (!resigned) {
          if (!(await host.resignLeadership(damage.topic, damage.partition))) {
            return 'not repaired: this broker leads the partition and no other live replica is in sync; the range stays refused'
          }
          resigned = true
          host.log(`scrub repair: ${damage.topic}-${damage.partition}: leadership handed to another in-sync replica to repair a damaged range`)
        }
        lastProblem = 'still the leader'
        continue
      }
      const address = leader >= 0 ? host.address(leader) : undefined
      if (!address) { lastProblem = 'no live leader'; continue }
      const copy = await this.fetchCopy(address, damage).catch((error: unknown) => {
        lastProblem = error instanceof Error ? error.message : String(error)
        return undefined
      })
      if (!copy) continue
      await host.engine.repairDamagedRange(damage.topic, damage.partition, damage.path, damage.position, copy)
      return `repaired with broker ${leader}'s copy of offsets from ${damage.firstOffset}; served again`
    }
    return `not repaired after ${ATTEMPTS} attempts (${lastProblem}); the range stays refused`
  }

  /** The leader's bytes for the range: whole batches from its first offset, `length` of them. */
  private async fetchCopy(address: { host: string; port: number }, damage: ScrubDamageEvent): Promise<Buffer> {
    const client = await this.host.connector.connect(`${address.host}:${address.port}`, { clientId: `ringlog-scrub-repair-${this.host.nodeId}`, requestTimeoutMs: 10_000 })
    try {
      const response = await client.request(ApiKey.Fetch, FETCH_VERSION, {
        replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: damage.length, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
        topics: [{
          topic: damage.topic,
          partitions: [{ partition: damage.partition, currentLeaderEpoch: -1, fetchOffset: damage.firstOffset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: damage.length }],
        }],
        forgottenTopicsData: [], rackId: '',
      })
      const answer = response.responses.find((t) => t.topic === damage.topic)?.partitions.find((p) => p.partitionIndex === damage.partition)
      if (!answer) throw new Error('the leader did not answer for the partition')
      if (answer.errorCode !== ErrorCode.NONE) throw new Error(`the leader answered error ${answer.errorCode}`)
      const records = answer.records
      if (!records || records.length < damage.length) throw new Error(`the leader sent ${records?.length ?? 0} of ${damage.length} bytes`)
      return records.subarray(0, damage.length)
    } finally {
      await client.close().catch(() => undefined)
    }
  }
}
