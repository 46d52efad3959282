/**
 * A broker's copy of the cluster's users and ACLs (the SharedSecurityStore of cluster mode):
 * a PrefixWatch on `security/` replaces the watched CredentialStore and AclStore on every change
 * (well within a second of the write), and writes go to etcd through SecurityMetadata. A write
 * resolves once this broker's own copy shows it, so a Describe sent right after to the same broker
 * sees it. While etcd is unreachable the copies stay as they were (logins and checks go on) and
 * writes fail with etcd's error.
 *
 * A value that cannot be parsed never empties a copy: a damaged `security/acls` keeps the
 * previous bindings (an empty list could open every resource with allow.everyone.if.no.acl.found),
 * a damaged user key drops only that user.
 */
import type { AclBinding } from '../security/acl.js'
import { AclStore } from '../security/acl-store.js'
import { CredentialStore, type UserCredentials } from '../security/credential-store.js'
import type { CredentialChange, CredentialChangeResults, SharedSecurityStore } from '../security/shared-security-store.js'
import { ClusterMetadata } from './cluster-metadata.js'
import { type Entry, PrefixWatch } from './prefix-watch.js'
import { parseAclsRecord, parseScramUserRecord, SecurityMetadata, type WriteOutcome } from './security-metadata.js'

/** How long a write waits for this broker's copy to show it before answering anyway (it is in etcd). */
const APPLY_WAIT_MS = 5_000

type SecurityValue =
  | { kind: 'acls'; bindings: AclBinding[] | undefined; problem?: string }
  | { kind: 'user'; user: string; credentials: UserCredentials }

export interface SecurityWatchOptions {
  endpoints: string
  cluster: string
  /** One line per event worth an operator's attention (a damaged key, a write not seen in time). */
  log(level: 'info' | 'warn' | 'error', message: string): void
}

interface Waiter {
  ready(entries: ReadonlyMap<string, Entry<SecurityValue>>): boolean
  resolve(): void
  timer: NodeJS.Timeout
}

function atLeast(modRevision: string, revision: string): boolean {
  return BigInt(modRevision) >= BigInt(revision)
}

export class WatchedSecurityMetadata implements SharedSecurityStore {
  readonly credentials = CredentialStore.watched()
  readonly acls = AclStore.watched()
  private watch: PrefixWatch<string, SecurityValue> | undefined
  private readonly waiters = new Set<Waiter>()

  private constructor(private readonly writer: SecurityMetadata, private readonly options: SecurityWatchOptions) {}

  /** Reads every user and binding, then follows changes; rejects when etcd cannot be read. */
  static async open(options: SecurityWatchOptions): Promise<WatchedSecurityMetadata> {
    const metadata = new ClusterMetadata({ endpoints: options.endpoints.split(',').map((e) => e.trim()).filter(Boolean), cluster: options.cluster })
    const store = new WatchedSecurityMetadata(new SecurityMetadata(metadata, true), options)
    const { layout } = metadata
    try {
      store.watch = await PrefixWatch.open<string, SecurityValue>(metadata.etcd, layout.securityPrefix, {
        keyOf: (key) => (key === layout.acls || layout.userFromScramKey(key) !== undefined ? key : undefined),
        parse: (key, text): SecurityValue => {
          if (key !== layout.acls) return { kind: 'user', user: layout.userFromScramKey(key)!, credentials: parseScramUserRecord(key, text) }
          try {
            return { kind: 'acls', bindings: parseAclsRecord(key, text) }
          } catch (error) {
            return { kind: 'acls', bindings: undefined, problem: (error as Error).message }
          }
        },
        onChange: (entries, kind, key) => store.apply(entries, kind === 'initial' || key === layout.acls, kind === 'initial' || key !== layout.acls),
        onMalformed: (error) => options.log('error', `cluster security metadata: ${(error as Error).message}; that user cannot log in until it is written again`),
        onError: (error) => options.log('warn', `cluster security metadata watch: ${(error as Error).message}; keeping the last users and ACLs`),
      })
    } catch (error) {
      store.writer.close()
      throw error
    }
    return store
  }

  private apply(entries: ReadonlyMap<string, Entry<SecurityValue>>, acls: boolean, users: boolean): void {
    if (acls) {
      const value = entries.get(this.writer.layout.acls)?.value
      if (value?.kind === 'acls' && value.bindings === undefined) {
        this.options.log('error', `cluster security metadata: ${value.problem ?? 'bad ACL list'}; keeping the previous ${this.acls.size} ACL binding(s)`)
      } else {
        this.acls.replaceAll(value?.kind === 'acls' ? value.bindings ?? [] : [])
      }
    }
    if (users) {
      const all = new Map<string, UserCredentials>()
      for (const { value } of entries.values()) if (value.kind === 'user') all.set(value.user, value.credentials)
      this.credentials.replaceAll(all)
    }
    for (const waiter of [...this.waiters]) {
      if (!waiter.ready(entries)) continue
      clearTimeout(waiter.timer)
      this.waiters.delete(waiter)
      waiter.resolve()
    }
  }

  /** Resolves once the watch shows every written key at the write's revision (or later), or after APPLY_WAIT_MS. */
  private seen<R>(outcome: WriteOutcome<R>): Promise<R> {
    const { revision, written } = outcome
    if (revision === undefined || written.length === 0 || !this.watch) return Promise.resolve(outcome.result)
    const ready = (entries: ReadonlyMap<string, Entry<SecurityValue>>): boolean => written.every(({ key, deleted }) => {
      const entry = entries.get(key)
      return deleted ? entry === undefined || BigInt(entry.modRevision) > BigInt(revision) : entry !== undefined && atLeast(entry.modRevision, revision)
    })
    if (ready(this.watch.current)) return Promise.resolve(outcome.result)
    return new Promise((resolve) => {
      const waiter: Waiter = {
        ready,
        resolve: () => resolve(outcome.result),
        timer: setTimeout(() => {
          this.waiters.delete(waiter)
          this.options.log('warn', `cluster security metadata: the write at etcd revision ${revision} was not seen by this broker's watch within ${APPLY_WAIT_MS} ms`)
          resolve(outcome.result)
        }, APPLY_WAIT_MS),
      }
      this.waiters.add(waiter)
    })
  }

  async alterCredentials(changes: readonly CredentialChange[]): Promise<CredentialChangeResults> {
    return this.seen(await this.writer.alterCredentials(changes))
  }

  async updateAcls<R>(change: (current: readonly AclBinding[]) => { next: AclBinding[] | undefined; result: R }): Promise<R> {
    return this.seen(await this.writer.updateAcls(change))
  }

  async close(): Promise<void> {
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer)
      waiter.resolve()
    }
    this.waiters.clear()
    await this.watch?.close().catch(() => undefined)
    this.writer.close()
  }
}
