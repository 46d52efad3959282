/**
 * A broker's registration: `brokers/<id>` bound to an etcd lease kept alive while the broker
 * runs (Kafka's ephemeral /brokers/ids/<id> znode). When the lease is lost (etcd unreachable for
 * longer than the TTL), the broker registers again with a new lease as soon as etcd answers,
 * for as long as it runs. A registration left by an earlier run (kill -9, then a restart within
 * the TTL) is waited out, not overwritten: the controller must see that broker die first, so
 * the partitions it led get a new leader epoch.
 */
import { EventEmitter } from 'node:events'
import type { Lease } from 'etcd3'
import { ClusterTimeoutError } from '../errors.js'
import type { ClusterMetadata } from './cluster-metadata.js'
import { type BrokerEndpoint, type BrokerRegistration as RegistrationValue, encodeBrokerRegistration, isBrokerId } from './metadata-layout.js'

export interface BrokerAddress {
  /** The inter-broker listener's endpoint (what a registration of an older release held alone). */
  host: string
  port: number
  /** Every listener's advertised endpoint, so each listener's clients are told that listener's address. */
  endpoints?: BrokerEndpoint[]
  rack?: string
}

export interface RegistrationOptions {
  /** Lease TTL in seconds (how long a dead broker stays listed). Default 10. */
  ttlSeconds?: number
  /** Bound on the first registration, including waiting out an earlier run's key. Default 3 TTLs. */
  registerTimeoutMs?: number
}

const RETRY_MIN_MS = 100
const RETRY_MAX_MS = 1_000

export interface RegistrationEvents {
  registered: [incarnation: number]
  lost: [error: Error]
  error: [error: unknown]
}

export class BrokerRegistration extends EventEmitter<RegistrationEvents> {
  private lease: Lease | undefined
  private currentLeaseId: string | undefined
  private count = 0
  private closed = false
  private readonly startedAt = Date.now()
  private readonly ttlSeconds: number

  private constructor(
    private readonly metadata: ClusterMetadata,
    readonly brokerId: number,
    private readonly address: BrokerAddress,
    options: RegistrationOptions,
  ) {
    super()
    this.ttlSeconds = options.ttlSeconds ?? 10
  }

  /** Registers the broker and keeps it registered until `close()`. */
  static async register(metadata: ClusterMetadata, brokerId: number, address: BrokerAddress, options: RegistrationOptions = {}): Promise<BrokerRegistration> {
    if (!isBrokerId(brokerId)) throw new RangeError(`invalid broker id ${brokerId}`)
    const registration = new BrokerRegistration(metadata, brokerId, address, options)
    const timeoutMs = options.registerTimeoutMs ?? 3 * registration.ttlSeconds * 1000
    await registration.registerOnce(Date.now() + timeoutMs)
    return registration
  }

  /** The lease the registration (and this broker's shutdown request) is bound to. */
  get leaseId(): string {
    if (this.currentLeaseId === undefined) throw new Error('not registered')
    return this.currentLeaseId
  }

  /** 1 for the first registration, + 1 for each re-registration after a lost lease. */
  get incarnation(): number { return this.count }

  get registered(): boolean { return this.lease !== undefined && !this.lease.revoked() }

  private async registerOnce(deadline: number): Promise<void> {
    const etcd = this.metadata.etcd
    const key = this.metadata.layout.broker(this.brokerId)
    const lease = etcd.lease(this.ttlSeconds)
    lease.on('lost', (error) => this.onLeaseLost(lease, error))
    try {
      const leaseId = await lease.grant()
      const { host, port, endpoints, rack } = this.address
      const value: RegistrationValue = { host, port, ...(endpoints && { endpoints }), ...(rack !== undefined && { rack }), startedAt: this.startedAt, incarnation: this.count + 1 }
      while (!this.closed) {
        const result = await etcd.if(key, 'Create', '==', 0)
          .then(etcd.put(key).value(encodeBrokerRegistration(value)).lease(leaseId))
          .else(etcd.get(key))
          .commit()
        if (result.succeeded) {
          this.lease = lease
          this.currentLeaseId = leaseId
          this.count += 1
          this.emit('registered', this.count)
          return
        }
        await this.waitForDelete(key, result.header.revision, deadline)
      }
      throw new Error('registration closed')
    } catch (error) {
      lease.release()
      await lease.revoke().catch(() => undefined)
      throw error
    }
  }

  /** Waits until the key, seen at `revision`, is deleted (its owner's lease expires). */
  private async waitForDelete(key: string, revision: string, deadline: number): Promise<void> {
    const remaining = deadline - Date.now()
    if (remaining <= 0) throw new ClusterTimeoutError(`broker ${this.brokerId} is still registered by another run (key ${key})`)
    const watcher = await this.metadata.etcd.watch().key(key).startRevision((BigInt(revision) + 1n).toString()).create()
    let timer: NodeJS.Timeout | undefined
    try {
      await new Promise<void>((resolve, reject) => {
        watcher.once('delete', () => resolve())
        watcher.once('error', reject)
        timer = setTimeout(resolve, remaining)
      })
    } finally {
      clearTimeout(timer)
      await watcher.cancel()
    }
  }

  private onLeaseLost(lease: Lease, error: Error): void {
    if (this.closed || lease !== this.lease) return
    this.lease = undefined
    this.emit('lost', error)
    void this.reRegister()
  }

  /** Retries for as long as the broker runs: etcd may be down for a while. */
  private async reRegister(): Promise<void> {
    let delay = RETRY_MIN_MS
    while (!this.closed) {
      try {
        // No deadline here: an old key of ours expires within one TTL, and waiting is right.
        await this.registerOnce(Date.now() + 3 * this.ttlSeconds * 1000)
        return
      } catch (error) {
        if (this.closed) return
        // 'error' is informational here (we keep retrying): never throw it without a listener.
        if (this.listenerCount('error') > 0) this.emit('error', error)
        await new Promise((resolve) => setTimeout(resolve, delay))
        delay = Math.min(RETRY_MAX_MS, delay * 2)
      }
    }
  }

  /** Stops keep-alives without revoking: the registration expires after the TTL, as if the broker hung. */
  abandon(): void {
    this.closed = true
    this.lease?.release()
    this.lease = undefined
  }

  /** Deregisters at once (revokes the lease, which deletes the key and any shutdown request). */
  async close(): Promise<void> {
    if (this.closed && !this.lease) return
    this.closed = true
    const lease = this.lease
    this.lease = undefined
    if (lease) await lease.revoke().catch(() => undefined)
  }
}
