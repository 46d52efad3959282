/**
 * The SCRAM credentials of this broker's users, in `meta/scram-credentials.json` under the data
 * dir, written with the one atomic-write helper. Holds salt, iterations, StoredKey and ServerKey
 * per user and mechanism; never a password. PLAIN checks a password against the same entries.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { InvalidConfigError } from '../errors.js'
import { writeFileAtomicSync } from '../storage/atomic-file.js'
import { META_DIR, SCRAM_CREDENTIALS_FILE } from '../storage/file-names.js'
import { isScramMechanism, passwordMatches, SCRAM_MECHANISMS, type ScramCredential, type ScramMechanism } from './scram-keys.js'

interface StoredEntry {
  salt: string
  iterations: number
  storedKey: string
  serverKey: string
}

type StoredFile = { version: 1; users: Record<string, Partial<Record<ScramMechanism, StoredEntry>>> }

export interface UserCredentialInfo {
  user: string
  mechanisms: { mechanism: ScramMechanism; iterations: number }[]
}

export class CredentialStore {
  private readonly users = new Map<string, Map<ScramMechanism, ScramCredential>>()

  private constructor(private readonly path: string) {}

  static pathIn(dataDir: string): string {
    return join(dataDir, META_DIR, SCRAM_CREDENTIALS_FILE)
  }

  /** Reads the store of `dataDir` (empty when the file does not exist yet). */
  static open(dataDir: string): CredentialStore {
    const store = new CredentialStore(CredentialStore.pathIn(dataDir))
    store.reload()
    return store
  }

  /** Re-reads the file (SIGHUP: users added offline while the broker runs). */
  reload(): void {
    if (!existsSync(this.path)) {
      this.users.clear()
      return
    }
    let parsed: StoredFile
    try {
      parsed = JSON.parse(readFileSync(this.path, 'utf8')) as StoredFile
    } catch (error) {
      throw new InvalidConfigError(`credentials file ${this.path}: ${(error as Error).message}`)
    }
    if (parsed?.version !== 1 || typeof parsed.users !== 'object' || parsed.users === null) throw new InvalidConfigError(`credentials file ${this.path} is not a ringlog credentials file`)
    // Parsed in full before anything is replaced: a bad file leaves the previous users in place.
    const next = new Map<string, Map<ScramMechanism, ScramCredential>>()
    for (const [user, entries] of Object.entries(parsed.users)) {
      const byMechanism = new Map<ScramMechanism, ScramCredential>()
      for (const [mechanism, e] of Object.entries(entries)) {
        if (!isScramMechanism(mechanism) || !e) continue
        byMechanism.set(mechanism, {
          salt: Buffer.from(e.salt, 'base64'), iterations: e.iterations, storedKey: Buffer.from(e.storedKey, 'base64'), serverKey: Buffer.from(e.serverKey, 'base64'),
        })
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
    let entries = this.users.get(user)
    if (!entries) this.users.set(user, (entries = new Map()))
    entries.set(mechanism, credential)
    this.save()
  }

  /** Removes one mechanism (or all when omitted); false when there was nothing to remove. */
  delete(user: string, mechanism?: ScramMechanism): boolean {
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

  private save(): void {
    const file: StoredFile = { version: 1, users: {} }
    for (const [user, entries] of this.users) {
      const out: Partial<Record<ScramMechanism, StoredEntry>> = {}
      for (const [mechanism, c] of entries) {
        out[mechanism] = { salt: c.salt.toString('base64'), iterations: c.iterations, storedKey: c.storedKey.toString('base64'), serverKey: c.serverKey.toString('base64') }
      }
      file.users[user] = out
    }
    mkdirSync(join(this.path, '..'), { recursive: true })
    writeFileAtomicSync(this.path, Buffer.from(JSON.stringify(file, null, 2) + '\n'))
  }
}
