/**
 * Broker-wide limits on client connections (issue 17 "Limits", issue 18 item 7):
 * - admission: max.connections in all and max.connections.per.ip, checked at accept; a refused
 *   socket is destroyed at once and the refusal logged at most once per LOG_INTERVAL_MS;
 * - the partial-frame budget (queued.max.request.bytes): the bytes of incomplete request frames
 *   across every connection. A connection that would take the sum past the cap while others
 *   hold partial frames stops reading until the sum drops (a frame completes or its connection
 *   closes); a lone connection may always finish its frame, so a single maximal frame never
 *   deadlocks. Connections that all wait on each other are closed by the idle rule;
 * - the open-files limit: libuv handles EMFILE at accept by accepting and closing the pending
 *   connections itself (Node hears nothing), and then storage, not clients, would be first to
 *   fail. So connections are capped below the process's soft RLIMIT_NOFILE, keeping a reserve
 *   of descriptors for segments, indexes, checkpoints and workers (fdReserve below);
 * - one sweep timer that lets every connection apply its idle and stall rules.
 */
import { readFileSync } from 'node:fs'
import type { RinglogConfig } from '../config.js'
import type { BrokerLogger } from './logger.js'

/** Refusals and accept errors are logged at most this often (a flood must not flood the log). */
const LOG_INTERVAL_MS = 10_000

/** What the sweep asks of each connection. */
export interface LimitedConnection {
  /** Applies the idle and stall rules at `nowMs` (may close the connection). */
  sweep(nowMs: number): void
}

/** The soft open-files limit of this process (Linux /proc), or undefined where it cannot be read. */
export function openFilesLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    return m && m[1] !== 'unlimited' ? Number(m[1]) : undefined
  } catch {
    return undefined
  }
}

/** Descriptors kept for storage and the rest of the broker: a quarter of the limit, 64 to 4096. */
export function fdReserve(limit: number): number {
  return Math.min(4096, Math.max(64, Math.floor(limit / 4)))
}

export type LimitSettings = Pick<RinglogConfig,
  'maxConnections' | 'maxConnectionsPerIp' | 'connectionsMaxIdleMs' | 'connectionMaxInflightBytes' | 'connectionMaxStalledMs' | 'queuedMaxRequestBytes'>

/** Logs one kind of event at most once per interval, with how many were suppressed. */
class IntervalLog {
  private lastMs = -Infinity
  private suppressed = 0

  constructor(private readonly log: BrokerLogger) {}

  warn(message: string): void {
    const now = Date.now()
    if (now - this.lastMs < LOG_INTERVAL_MS) {
      this.suppressed++
      return
    }
    const more = this.suppressed > 0 ? ` (${this.suppressed} more since the last report)` : ''
    this.lastMs = now
    this.suppressed = 0
    this.log.warn(message + more)
  }
}

export class ConnectionLimits {
  private open = 0
  private readonly perIp = new Map<string, number>()
  private partialBytes = 0
  private readonly partialByConnection = new Map<LimitedConnection, number>()
  private readonly waiting = new Map<LimitedConnection, () => void>()
  private readonly members = new Set<LimitedConnection>()
  private readonly refusals: IntervalLog
  private readonly acceptErrors: IntervalLog
  private timer: NodeJS.Timeout | undefined
  /** Connections the open-files limit leaves room for (Infinity when the limit is unknown). */
  readonly fdConnectionCap: number
  private readonly fdLimit: number | undefined

  constructor(readonly settings: LimitSettings, log: BrokerLogger, fdLimit = openFilesLimit()) {
    this.refusals = new IntervalLog(log)
    this.acceptErrors = new IntervalLog(log)
    this.fdLimit = fdLimit
    this.fdConnectionCap = fdLimit === undefined ? Infinity : Math.max(1, fdLimit - fdReserve(fdLimit))
    if (this.fdConnectionCap < settings.maxConnections) {
      log.warn(`the open-files limit (${fdLimit}) leaves room for ${this.fdConnectionCap} client connections, fewer than max.connections (${settings.maxConnections}): raise it (ulimit -n) to accept more`)
    }
  }

  /** Takes a connection slot for `ip`, or refuses (false) when a limit is reached. */
  admit(ip: string): boolean {
    const fromIp = this.perIp.get(ip) ?? 0
    if (this.open >= this.settings.maxConnections) {
      this.refusals.warn(`refusing a connection from ${ip}: max.connections (${this.settings.maxConnections}) reached`)
      return false
    }
    if (fromIp >= this.settings.maxConnectionsPerIp) {
      this.refusals.warn(`refusing a connection from ${ip}: max.connections.per.ip (${this.settings.maxConnectionsPerIp}) reached for it`)
      return false
    }
    if (this.open >= this.fdConnectionCap) {
      this.refusals.warn(`refusing a connection from ${ip}: the open-files limit (${this.fdLimit}) leaves room for ${this.fdConnectionCap} connections`)
      return false
    }
    this.open++
    this.perIp.set(ip, fromIp + 1)
    return true
  }

  /** Registers an admitted connection for the sweep. */
  track(connection: LimitedConnection): void {
    this.members.add(connection)
    this.timer ??= setInterval(() => this.sweepAll(), this.sweepIntervalMs()).unref()
  }

  /** Gives back the slot and partial-frame bytes of a closed connection. */
  release(ip: string, connection: LimitedConnection): void {
    this.members.delete(connection)
    this.waiting.delete(connection)
    this.setPartialBytes(connection, 0)
    this.open--
    const fromIp = (this.perIp.get(ip) ?? 1) - 1
    if (fromIp <= 0) this.perIp.delete(ip)
    else this.perIp.set(ip, fromIp)
  }

  /** An accept() failure (EMFILE, ENFILE, ...): logged once per interval; the server keeps serving. */
  acceptFailed(error: NodeJS.ErrnoException): void {
    this.acceptErrors.warn(`accepting a connection failed (${error.code ?? error.message}): new connections are refused until descriptors free up`)
  }

  get connectionCount(): number {
    return this.open
  }

  /** Bytes of incomplete frames held across every connection now. */
  get partialFrameBytes(): number {
    return this.partialBytes
  }

  /**
   * Records that `connection` now holds `bytes` of an incomplete frame. Returns false when the
   * connection must stop reading until `resume` is called (the budget is spent by others).
   */
  updatePartial(connection: LimitedConnection, bytes: number, resume: () => void): boolean {
    this.setPartialBytes(connection, bytes)
    const others = this.partialBytes - bytes
    if (bytes === 0 || others === 0 || this.partialBytes <= this.settings.queuedMaxRequestBytes) return true
    this.waiting.set(connection, resume)
    return false
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  private setPartialBytes(connection: LimitedConnection, bytes: number): void {
    const before = this.partialByConnection.get(connection) ?? 0
    if (bytes === 0) this.partialByConnection.delete(connection)
    else this.partialByConnection.set(connection, bytes)
    this.partialBytes += bytes - before
    if (bytes < before) this.wakeWaiters()
  }

  private wakeWaiters(): void {
    for (const [connection, resume] of this.waiting) {
      const own = this.partialByConnection.get(connection) ?? 0
      if (this.partialBytes > this.settings.queuedMaxRequestBytes && this.partialBytes - own > 0) return
      this.waiting.delete(connection)
      resume()
    }
  }

  private sweepIntervalMs(): number {
    const shortest = Math.min(this.settings.connectionsMaxIdleMs, this.settings.connectionMaxStalledMs)
    return Math.max(20, Math.min(1000, Math.floor(shortest / 4)))
  }

  private sweepAll(): void {
    const now = Date.now()
    for (const connection of [...this.members]) connection.sweep(now)
  }
}
