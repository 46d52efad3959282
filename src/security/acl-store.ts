/**
 * The ACL bindings of one broker, in `meta/acls.json` under the data dir: a JSON list inside
 * the checksummed metadata envelope (storage/checksummed-file.ts), replaced whole with the
 * atomic-write helper on every change. A damaged file is never read as "no ACLs" (that could
 * open every resource): opening fails with the file's path instead.
 *
 * In cluster mode the store is a watched copy (`AclStore.watched()`): etcd holds the bindings,
 * the watch replaces them whole, and CreateAcls / DeleteAcls compute the next list with
 * `withBindings` / `withoutMatching` and write it to etcd (cluster/security-metadata.ts).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { InvalidConfigError } from '../errors.js'
import { openPayload, writeChecksummedFileSync } from '../storage/checksummed-file.js'
import { ACLS_FILE, META_DIR } from '../storage/file-names.js'
import { filterMatches, invalidBinding, sameBinding, type AclBinding, type AclFilter } from './acl.js'

const ACLS_VERSION = 1

/** Most bindings one broker keeps: far past any real deployment, and bounds the file and each check. */
export const MAX_ACLS = 100_000

/** `current` plus the bindings not already in it (Kafka: creating an existing ACL succeeds); InvalidConfigError past MAX_ACLS. */
export function withBindings(current: readonly AclBinding[], added: readonly AclBinding[]): AclBinding[] {
  const next = [...current]
  for (const b of added) if (!next.some((existing) => sameBinding(existing, b))) next.push({ ...b })
  if (next.length > MAX_ACLS) throw new InvalidConfigError(`more than ${MAX_ACLS} ACL bindings`)
  return next
}

/** What is left of `current` after every filter, and what each filter removed (a binding goes to the first filter that matches it). */
export function withoutMatching(current: readonly AclBinding[], filters: readonly AclFilter[]): { kept: AclBinding[]; removed: AclBinding[][] } {
  const removed: AclBinding[][] = filters.map(() => [])
  const kept: AclBinding[] = []
  for (const b of current) {
    const index = filters.findIndex((f) => filterMatches(f, b))
    if (index < 0) kept.push(b)
    else removed[index].push(b)
  }
  return { kept, removed }
}

/** The problem with a list of bindings read from a file or etcd, null when every one is valid. */
export function invalidBindingList(parsed: unknown): string | null {
  if (!Array.isArray(parsed)) return 'not a list of bindings'
  for (const binding of parsed as AclBinding[]) {
    const problem = typeof binding === 'object' && binding !== null ? invalidBinding(binding) : 'not an object'
    if (problem) return problem
  }
  return null
}

export class AclStore {
  private bindings: AclBinding[] = []
  /** Bumped on every change, so an authorizer rebuilds its index only when something changed. */
  generation = 0

  /** Undefined for a watched copy (cluster mode). */
  private constructor(private readonly path: string | undefined) {}

  /** An empty copy that `replaceAll` fills (cluster mode: from the etcd watch). */
  static watched(): AclStore {
    return new AclStore(undefined)
  }

  get isWatched(): boolean {
    return this.path === undefined
  }

  /** Replaces every binding at once (a watched copy after an etcd change). */
  replaceAll(bindings: readonly AclBinding[]): void {
    this.replace([...bindings])
  }

  static pathIn(dataDir: string): string {
    return join(dataDir, META_DIR, ACLS_FILE)
  }

  /** Reads the store of `dataDir` (empty when the file does not exist yet); InvalidConfigError when it is damaged. */
  static open(dataDir: string): AclStore {
    const store = new AclStore(AclStore.pathIn(dataDir))
    store.reload()
    return store
  }

  /** Re-reads the file; a bad file throws and leaves the bindings held so far in place. */
  reload(): void {
    if (this.path === undefined) return
    if (!existsSync(this.path)) {
      this.replace([])
      return
    }
    let parsed: unknown
    try {
      const { payload } = openPayload(this.path, readFileSync(this.path), [ACLS_VERSION])
      parsed = JSON.parse(payload.toString('utf8'))
    } catch (error) {
      throw new InvalidConfigError(`ACL file ${this.path}: ${(error as Error).message}`)
    }
    const problem = invalidBindingList(parsed)
    if (problem) throw new InvalidConfigError(`ACL file ${this.path}: ${problem}`)
    this.replace(parsed as AclBinding[])
  }

  list(filter?: AclFilter): AclBinding[] {
    return filter ? this.bindings.filter((b) => filterMatches(filter, b)) : [...this.bindings]
  }

  get size(): number {
    return this.bindings.length
  }

  /** Adds the bindings not already present (Kafka: creating an existing ACL succeeds), then saves once. */
  add(bindings: readonly AclBinding[]): void {
    this.save(withBindings(this.bindings, bindings))
  }

  /** Removes every binding each filter matches; returns them per filter (a binding goes to the first filter that matches it). */
  remove(filters: readonly AclFilter[]): AclBinding[][] {
    const { kept, removed } = withoutMatching(this.bindings, filters)
    if (kept.length !== this.bindings.length) this.save(kept)
    return removed
  }

  private save(next: AclBinding[]): void {
    // A watched copy is replaced only by the watch: a write here would be lost at the next change.
    if (this.path === undefined) throw new InvalidConfigError('ACLs are kept in etcd in cluster mode: change them through a broker or `ringlog acls --etcd`')
    mkdirSync(join(this.path, '..'), { recursive: true })
    writeChecksummedFileSync(this.path, ACLS_VERSION, Buffer.from(JSON.stringify(next, null, 1)))
    this.replace(next)
  }

  private replace(next: AclBinding[]): void {
    this.bindings = next
    this.generation++
  }
}
