/**
 * The cluster controller (Kafka's ZooKeeper-era controller, on etcd). Every broker runs one as
 * a candidate; the elected one watches broker registrations, controlled-shutdown requests and
 * topics, and after any change reconciles every partition against who is alive:
 * partitions whose leader died get a new leader from ISR ∩ live brokers (epoch + 1), dead
 * followers leave ISRs, partitions with no eligible replica go offline (leader -1) unless the
 * topic enables unclean election, and offline partitions come back when an ISR member returns.
 * Controlled-shutdown requests move the broker's leaderships to other ISR members first;
 * preferred-replica-election requests give leaderships back to each partition's first replica.
 *
 * The controller keeps no decision in memory: each pass reads the state from etcd and writes
 * with CAS fenced on its election, so a new controller resumes from etcd alone, and a pass
 * that fails (etcd down) is simply run again.
 */
import { EventEmitter } from 'node:events'
import { type ClusterMetadata, FencedWriteError, type LiveBroker, type VersionedPartitionState, type WriteFence } from './cluster-metadata.js'
import { ControllerElection } from './controller-election.js'
import { MalformedMetadataError, type PreferredElectionRequest, type ShutdownRequest, type TopicRecord } from './metadata-layout.js'
import { type ElectionContext, type PartitionChange, electAfterBrokerChange, electPreferred, moveAwayForShutdown } from './partition-leader-election.js'
import type { Entry, PrefixWatch } from './prefix-watch.js'

export const UNCLEAN_LEADER_ELECTION_CONFIG = 'unclean.leader.election.enable'

export interface ControllerOptions {
  brokerId: number
  /** TTL in seconds of the election lease: how long a dead controller blocks a successor. Default 10. */
  ttlSeconds?: number
  /** Delay before a failed pass (etcd unreachable) is retried. Default 500 ms. */
  retryDelayMs?: number
}

export interface ReconcileSummary {
  /** The live brokers this pass decided on. */
  live: number[]
  /** Partitions written in this pass, as `topic-partition`. */
  changed: string[]
  /** Controlled shutdowns completed in this pass. */
  shutdownsDone: number[]
}

export interface ControllerEvents {
  elected: [epoch: string]
  deposed: []
  reconciled: [summary: ReconcileSummary]
  error: [error: unknown]
}

const MAX_DECISION_ATTEMPTS = 20
const CAMPAIGN_RETRY_MS = 500

export class Controller extends EventEmitter<ControllerEvents> {
  private readonly election: ControllerElection
  private readonly retryDelayMs: number
  private closed = false
  private fence: WriteFence | undefined
  private endLeadership: (() => void) | undefined
  private brokers: PrefixWatch<number, LiveBroker> | undefined
  private shutdowns: PrefixWatch<number, ShutdownRequest> | undefined
  private preferred: PrefixWatch<string, PreferredElectionRequest> | undefined
  private passRunning = false
  private passWanted = false
  /**
   * Brokers whose registration was deleted since the last pass started. A broker that dies and
   * registers again before a pass runs (a quick restart) is still handled as a failure, as
   * Kafka's controller does on a new broker epoch: its leaderships move and it leaves ISRs.
   */
  private departed = new Set<number>()
  private retryTimer: NodeJS.Timeout | undefined
  private readonly running: Promise<void>

  private constructor(private readonly metadata: ClusterMetadata, readonly brokerId: number, options: ControllerOptions) {
    super()
    this.election = new ControllerElection(metadata, brokerId, options.ttlSeconds ?? 10)
    this.retryDelayMs = options.retryDelayMs ?? 500
    this.election.on('lost', () => this.endLeadership?.())
    this.running = this.candidateLoop()
  }

  /** Starts a controller candidate for this broker; it leads whenever it wins the election. */
  static start(metadata: ClusterMetadata, options: ControllerOptions): Controller {
    return new Controller(metadata, options.brokerId, options)
  }

  /** True while this candidate is the elected controller. */
  get active(): boolean { return this.fence !== undefined }

  /** The controller epoch (the election key's create revision) while active. */
  get epoch(): string | undefined { return this.fence?.createRevision }

  private async candidateLoop(): Promise<void> {
    while (!this.closed) {
      try {
        const fence = await this.election.campaign()
        if (!fence || this.closed) return
        await this.lead(fence)
      } catch (error) {
        if (this.closed) return
        this.report(error)
        await new Promise((resolve) => setTimeout(resolve, CAMPAIGN_RETRY_MS))
      }
    }
  }

  private async lead(fence: WriteFence): Promise<void> {
    const ended = new Promise<void>((resolve) => { this.endLeadership = resolve })
    try {
      const schedule = (): void => this.schedulePass()
      const onError = (error: unknown): void => {
        this.report(error)
        // A broken watch would leave the controller blind: step down and lead again afresh.
        if (!(error instanceof MalformedMetadataError)) this.endLeadership?.()
      }
      this.brokers = await this.metadata.watchBrokers((_live, kind, id) => {
        if (kind === 'delete' && id !== undefined) this.departed.add(id)
        schedule()
      }, onError)
      this.shutdowns = await this.metadata.watchShutdownRequests(schedule, onError)
      this.preferred = await this.metadata.watchPreferredElection(schedule, onError)
      const topics = await this.metadata.watchTopics(schedule, onError)
      this.fence = fence
      this.emit('elected', fence.createRevision)
      this.schedulePass()
      await ended
      await topics.close().catch(() => undefined)
    } finally {
      this.fence = undefined
      this.endLeadership = undefined
      this.departed = new Set()
      clearTimeout(this.retryTimer)
      await this.brokers?.close().catch(() => undefined)
      await this.shutdowns?.close().catch(() => undefined)
      await this.preferred?.close().catch(() => undefined)
      this.brokers = undefined
      this.shutdowns = undefined
      this.preferred = undefined
      this.emit('deposed')
      // Also after a failure to start leading: never sit on the key without acting.
      if (!this.closed) await this.election.resign()
    }
  }

  /** Runs a reconcile pass now, or once more after the running one: passes never overlap. */
  private schedulePass(): void {
    if (!this.fence) return
    if (this.passRunning) {
      this.passWanted = true
      return
    }
    this.passRunning = true
    void this.runPasses()
  }

  private async runPasses(): Promise<void> {
    try {
      do {
        this.passWanted = false
        const fence = this.fence
        if (!fence) return
        try {
          const summary = await this.reconcile(fence)
          this.emit('reconciled', summary)
        } catch (error) {
          if (error instanceof FencedWriteError) {
            this.endLeadership?.()
            return
          }
          this.report(error)
          clearTimeout(this.retryTimer)
          this.retryTimer = setTimeout(() => this.schedulePass(), this.retryDelayMs)
        }
      } while (this.passWanted && this.fence)
    } finally {
      this.passRunning = false
    }
  }

  /** One pass over every partition, from the state in etcd. */
  private async reconcile(fence: WriteFence): Promise<ReconcileSummary> {
    const brokers = this.brokers
    const shutdowns = this.shutdowns
    if (!brokers || !shutdowns) return { live: [], changed: [], shutdownsDone: [] }
    const departed = this.departed
    this.departed = new Set()
    try {
      return await this.reconcileWith(fence, new Set([...brokers.current.keys()].filter((id) => !departed.has(id))), shutdowns)
    } catch (error) {
      for (const id of departed) this.departed.add(id) // the pass did not finish: its successor handles them
      throw error
    }
  }

  private async reconcileWith(fence: WriteFence, live: ReadonlySet<number>, shutdowns: PrefixWatch<number, ShutdownRequest>): Promise<ReconcileSummary> {
    const requests = new Map([...shutdowns.current].filter(([id]) => live.has(id)))
    const shuttingDown = new Set(requests.keys())
    const topics = await this.metadata.listTopics()
    const partitions = await this.metadata.listPartitions()
    const summary: ReconcileSummary = { live: [...live].sort((a, b) => a - b), changed: [], shutdownsDone: [] }
    const contextFor = (topic: TopicRecord): ElectionContext => ({
      live, shuttingDown, uncleanElection: topic.configs[UNCLEAN_LEADER_ELECTION_CONFIG] === 'true',
    })

    for (const current of partitions) {
      const topic = topics.get(current.topic)
      const replicas = topic?.replicas[current.partition]
      if (!topic || !replicas) continue
      const context = contextFor(topic)
      const written = await this.decideAndWrite(current, fence, (state) => electAfterBrokerChange(state, replicas, context))
      if (written) summary.changed.push(`${current.topic}-${current.partition}`)
    }

    for (const [brokerId, request] of requests) {
      if (request.value.state !== 'requested') continue
      const remaining: string[] = []
      for (const current of await this.metadata.listPartitions()) {
        const topic = topics.get(current.topic)
        const replicas = topic?.replicas[current.partition]
        if (!topic || !replicas) continue
        const context = contextFor(topic)
        let stuck = false
        const written = await this.decideAndWrite(current, fence, (state) => {
          const change = moveAwayForShutdown(state, replicas, brokerId, context)
          stuck = change === 'stuck'
          return change === 'stuck' ? undefined : change
        })
        if (stuck) remaining.push(`${current.topic}-${current.partition}`)
        if (written) summary.changed.push(`${current.topic}-${current.partition}`)
      }
      if (await this.metadata.completeShutdown(brokerId, request, remaining, fence)) summary.shutdownsDone.push(brokerId)
      else if (!(await this.metadata.holdsFence(fence))) throw new FencedWriteError(fence)
    }

    const preferred = this.preferred?.current.get(this.metadata.layout.preferredElection)
    if (preferred) {
      const wanted = preferred.value.partitions && new Set(preferred.value.partitions.map((tp) => `${tp.topic}/${tp.partition}`))
      for (const current of await this.metadata.listPartitions()) {
        if (wanted && !wanted.has(`${current.topic}/${current.partition}`)) continue
        const topic = topics.get(current.topic)
        const replicas = topic?.replicas[current.partition]
        if (!topic || !replicas) continue
        const context = contextFor(topic)
        if (await this.decideAndWrite(current, fence, (state) => electPreferred(state, replicas, context))) {
          summary.changed.push(`${current.topic}-${current.partition}`)
        }
      }
      if (!(await this.metadata.completePreferredElection(preferred, fence)) && !(await this.metadata.holdsFence(fence))) {
        throw new FencedWriteError(fence)
      }
    }
    return summary
  }

  /** Decides and CAS-writes one partition; on a conflict re-reads and decides again. */
  private async decideAndWrite(
    first: VersionedPartitionState,
    fence: WriteFence,
    decide: (state: VersionedPartitionState['state']) => PartitionChange | undefined,
  ): Promise<boolean> {
    let current: VersionedPartitionState | undefined = first
    for (let attempt = 0; attempt < MAX_DECISION_ATTEMPTS && current; attempt++) {
      const change = decide(current.state)
      if (!change) return false
      const result = await this.metadata.casPartition(current, change, fence)
      if (result.ok) return true
      if (result.reason === 'fenced') throw new FencedWriteError(fence)
      current = result.current
    }
    if (current) throw new Error(`${first.topic}-${first.partition}: lost ${MAX_DECISION_ATTEMPTS} CAS races in a row`)
    return false
  }

  /** Errors are reported, not thrown: the controller retries by itself. */
  private report(error: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', error)
  }

  /** Stops the candidate; if it leads, it resigns so another candidate takes over at once. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.retryTimer)
    await this.election.close()
    this.endLeadership?.()
    await this.running
  }

  /** Current broker registrations as this controller sees them (while active). */
  get liveBrokers(): ReadonlyMap<number, Entry<LiveBroker>> | undefined { return this.brokers?.current }
}
