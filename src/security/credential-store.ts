/**
 * The SCRAM credentials of this broker's users, in `meta/scram-credentials.json` under the data
 * dir, checksummed (storage/checksummed-file.ts) and replaced atomically. Holds salt, iterations, StoredKey and ServerKey
 * per user and mechanism; never a password. PLAIN checks a password against the same entries.
 *
 * In cluster mode the store is a watched copy instead (`CredentialStore.watched()`): etcd holds
 * the credentials, a watch replaces the copy whole on every change, and writes go to etcd
 * (cluster/security-metadata.ts), never through set/delete.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { InvalidConfigError } from '../errors.js'
import { hasEnvelope, openPayload, writeChecksummedFileSync } from '../storage/checksummed-file.js'
import { META_DIR, SCRAM_CREDENTIALS_FILE } from '../storage/file-names.js'
import { isScramMechanism, passwordMatches, SCRAM_MECHANISMS, type ScramCredential, type ScramMechanism } from './scram-keys.js'

/** Format version of the checksummed envelope around the credentials JSON. */
const CREDENTIALS_VERSION = 1

/** One mechanism's credential as JSON: base64 salt and keys (the file's and etcd's shape). */
export interface StoredEntry {
  salt: string
  iterations: number
  storedKey: string
  serverKey: string
}

type StoredFile = { version: 1; users: Record<string, Partial<Record<ScramMechanism, StoredEntry>>> }

/** A user's credentials by mechanism. */
export type UserCredentials = Map<ScramMechanism, ScramCredential>

export function encodeStoredEntry(c: ScramCredential): StoredEntry {
  return { salt: c.salt.toString('base64'), iterations: c.iterations, storedKey: c.storedKey.toString('base64'), serverKey: c.serverKey.toString('base64') }
}

/** Undefined when the entry does not have the shape (anything may have written it). */
export function decodeStoredEntry(e: unknown): ScramCredential | undefined {
  const o = e as Partial<StoredEntry> | null
  if (typeof o !== 'object' || o === null || typeof o.salt !== 'string' || typeof o.storedKey !== 'string' || typeof o.serverKey !== 'string') return undefined
  if (!Number.isInteger(o.iterations) || (o.iterations as number) <= 0) return undefined
  return { salt: Buffer.from(o.salt, 'base64'), iterations: o.iterations as number, storedKey: Buffer.from(o.storedKey, 'base64'), serverKey: Buffer.from(o.serverKey, 'base64') }
}

export interface UserCredentialInfo {
  user: string
  mechanisms: { mechanism: ScramMechanism; iterations: number }[]
}

export class CredentialStore {
  private readonly users = new Map<string, Map<ScramMechanism, ScramCredential>>()

  /** Undefined for a watched copy (cluster mode): nothing is read from or written to a file. */
  private constructor(private readonly path: string | undefined) {}

  static pathIn(dataDir: string): string {
    return join(dataDir, META_DIR, SCRAM_CREDENTIALS_FILE)
  }

  /** Reads the store of `dataDir` (empty when the file does not exist yet). */
  static open(dataDir: string): CredentialStore {
    const store = new CredentialStore(CredentialStore.pathIn(dataDir))
    store.reload()
    return store
  }

  /** An empty copy that `replaceAll` fills (cluster mode: from the etcd watch). */
  static watched(): CredentialStore {
    return new CredentialStore(undefined)
  }

  /** True for a watched copy: changes go to etcd, not to set/delete. */
  get isWatched(): boolean {
    return this.path === undefined
  }

  /** Replaces every user at once (a watched copy after an etcd change). */
  replaceAll(users: ReadonlyMap<string, UserCredentials>): void {
    this.users.clear()
    for (const [user, entries] of users) if (entries.size > 0) this.users.set(user, new Map(entries))
  }

  /** Re-reads the file (SIGHUP: users added offline while the broker runs); a watched copy has none. */
  reload(): void {
    if (this.path === undefined) return
    if (!existsSync(this.path)) {
      this.users.clear()
      return
    }
    let parsed: StoredFile
    try {
      // Checksummed like the ACL file; a bare JSON file is one written before the envelope (rewritten sealed at the next change).
      const bytes = readFileSync(this.path)
      const json = hasEnvelope(bytes) ? openPayload(this.path, bytes, [CREDENTIALS_VERSION]).payload : bytes
      parsed = JSON.parse(json.toString('utf8')) as StoredFile
    } catch (error) {
      throw new InvalidConfigError(`credentials file ${this.path}: ${(error as Error).message}`)
    }
    if (parsed?.version !== 1 || typeof parsed.users !== 'object' || parsed.users === null) throw new InvalidConfigError(`credentials file ${this.path} is not a ringlog credentials file`)
    // Parsed in full before anything is replaced: a bad file leaves the previous users in place.
    const next = new Map<string, Map<ScramMechanism, ScramCredential>>()
    for (const [user, entries] of Object.entries(parsed.users)) {
      const byMechanism = new Map<ScramMechanism, ScramCredential>()
      for (const [mechanism, e] of Object.entries(entries)) {
        const credential = decodeStoredEntry(e)
        if (!isScramMechanism(mechanism) || !credential) continue
        byMechanism.set(mechanism, credential)
      }
      if (byMechanism.size > 0) next.set(user, byMechanism)
    }
    this.users.clear()
    for (const [user, entries] of next) this.users.set(user, entries)
  }

  get(user: string, mechanism: ScramMechanism): ScramCredential | undefined {
    return this.users.get(user)?.get(mechanism)
  }

  /** PLAIN: true when the user exists and `password` derives one of its stored credentials. */
  checkPassword(user: string, password: string): boolean {
    const entries = this.users.get(user)
    if (!entries) return false
    // The strongest mechanism present; every entry was derived from the password its owner set.
    for (const mechanism of [...SCRAM_MECHANISMS].reverse()) {
      const credential = entries.get(mechanism)
      if (credential) return passwordMatches(mechanism, credential, password)
    }
    return false
  }

  set(user: string, mechanism: ScramMechanism, credential: ScramCredential): void {
    this.mustBeFile()
    let entries = this.users.get(user)
    if (!entries) this.users.set(user, (entries = new Map()))
    entries.set(mechanism, credential)
    this.save()
  }

  /** Removes one mechanism (or all when omitted); false when there was nothing to remove. */
  delete(user: string, mechanism?: ScramMechanism): boolean {
    this.mustBeFile()
    const entries = this.users.get(user)
    if (!entries) return false
    const removed = mechanism ? entries.delete(mechanism) : entries.size > 0
    if (!mechanism || entries.size === 0) this.users.delete(user)
    if (removed) this.save()
    return removed
  }

  list(): UserCredentialInfo[] {
    return [...this.users].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([user, entries]) => ({
      user, mechanisms: [...entries].map(([mechanism, c]) => ({ mechanism, iterations: c.iterations })),
    }))
  }

  /** The user's credentials by mechanism (a copy), undefined when it has none. */
  credentialsOf(user: string): UserCredentials | undefined {
    const entries = this.users.get(user)
    return entries ? new Map(entries) : undefined
  }

  /** A watched copy is replaced only by the watch: a write here would be lost at the next change. */
  private mustBeFile(): void {
    if (this.path === undefined) throw new InvalidConfigError('credentials are kept in etcd in cluster mode: change them through a broker or `ringlog users --etcd`')
  }

  private save(): void {
    if (this.path === undefined) return
    const file: StoredFile = { version: 1, users: {} }
    for (const [user, entries] of this.users) {
      const out: Partial<Record<ScramMechanism, StoredEntry>> = {}
      for (const [mechanism, c] of entries) out[mechanism] = encodeStoredEntry(c)
      file.users[user] = out
    }
    mkdirSync(join(this.path, '..'), { recursive: true })
    writeChecksummedFileSync(this.path, CREDENTIALS_VERSION, Buffer.from(JSON.stringify(file, null, 2) + '\n'))
  }
}
