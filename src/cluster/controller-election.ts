/**
 * The controller election: the `controller` key, created only if absent and bound to the
 * candidate's lease (Kafka's ephemeral /controller znode). Losers watch the key and try again
 * when it is deleted. The winner's fence is the key's create revision: it rises with every
 * election (Kafka's controller epoch), and every controller write compares it, so a deposed
 * controller's late writes fail instead of landing.
 */
import { EventEmitter } from 'node:events'
import type { Lease } from 'etcd3'
import type { ClusterMetadata, WriteFence } from './cluster-metadata.js'
import { parseControllerRecord } from './metadata-layout.js'

export interface ElectionEvents {
  /** The lease behind a won election was lost: stop acting as controller at once. */
  lost: [error: Error]
}

export class ControllerElection extends EventEmitter<ElectionEvents> {
  private lease: Lease | undefined
  private closed = false
  private wakeUp: (() => void) | undefined

  constructor(private readonly metadata: ClusterMetadata, readonly brokerId: number, private readonly ttlSeconds: number) {
    super()
  }

  /** The current controller's broker id, if any. */
  static async currentController(metadata: ClusterMetadata): Promise<{ brokerId: number; epoch: string } | undefined> {
    const key = metadata.layout.controller
    const response = await metadata.etcd.get(key).exec()
    const kv = response.kvs[0]
    if (!kv) return undefined
    return { brokerId: parseControllerRecord(key, kv.value.toString('utf8')).brokerId, epoch: kv.create_revision }
  }

  /**
   * Resolves with the fence once this candidate holds the controller key; undefined if closed
   * first. Throws on etcd errors (the caller retries).
   */
  async campaign(): Promise<WriteFence | undefined> {
    const etcd = this.metadata.etcd
    const key = this.metadata.layout.controller
    while (!this.closed) {
      const lease = etcd.lease(this.ttlSeconds)
      let leaseId: string
      try {
        leaseId = await lease.grant()
      } catch (error) {
        lease.release()
        throw error
      }
      const result = await etcd.if(key, 'Create', '==', 0)
        .then(etcd.put(key).value(JSON.stringify({ brokerId: this.brokerId })).lease(leaseId))
        .commit()
        .catch(async (error: unknown) => {
          await lease.revoke().catch(() => undefined)
          throw error
        })
      if (result.succeeded) {
        if (this.closed) {
          await lease.revoke().catch(() => undefined)
          return undefined
        }
        this.lease = lease
        lease.on('lost', (error) => {
          if (this.lease === lease) {
            this.lease = undefined
            this.emit('lost', error)
          }
        })
        return { key, createRevision: result.header.revision }
      }
      // Someone else leads: give up this lease and wait for their key to go.
      await lease.revoke().catch(() => undefined)
      await this.waitForVacancy(key, result.header.revision)
    }
    return undefined
  }

  private async waitForVacancy(key: string, revision: string): Promise<void> {
    const watcher = await this.metadata.etcd.watch().key(key).startRevision((BigInt(revision) + 1n).toString()).create()
    try {
      await new Promise<void>((resolve, reject) => {
        this.wakeUp = resolve
        watcher.once('delete', () => resolve())
        watcher.once('error', reject)
        if (this.closed) resolve()
      })
    } finally {
      this.wakeUp = undefined
      await watcher.cancel()
    }
  }

  /** Gives up the controller key (revokes the lease) so another candidate wins at once. */
  async resign(): Promise<void> {
    const lease = this.lease
    this.lease = undefined
    if (lease) await lease.revoke().catch(() => undefined)
  }

  /** Stops campaigning and resigns. */
  async close(): Promise<void> {
    this.closed = true
    this.wakeUp?.()
    await this.resign()
  }

  /** Stops keep-alives without resigning: the key lasts until its TTL, as with a hung controller. */
  abandon(): void {
    this.closed = true
    this.wakeUp?.()
    this.lease?.release()
    this.lease = undefined
  }
}
