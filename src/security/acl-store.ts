/**
 * The ACL bindings of one broker, in `meta/acls.json` under the data dir: a JSON list inside
 * the checksummed metadata envelope (storage/checksummed-file.ts), replaced whole with the
 * atomic-write helper on every change. A damaged file is never read as "no ACLs" (that could
 * open every resource): opening fails with the file's path instead.
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

export class AclStore {
  private bindings: AclBinding[] = []
  /** Bumped on every change, so an authorizer rebuilds its index only when something changed. */
  generation = 0

  private constructor(private readonly path: string) {}

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
    if (!Array.isArray(parsed)) throw new InvalidConfigError(`ACL file ${this.path} does not hold a list of bindings`)
    for (const binding of parsed as AclBinding[]) {
      const problem = typeof binding === 'object' && binding !== null ? invalidBinding(binding) : 'not an object'
      if (problem) throw new InvalidConfigError(`ACL file ${this.path}: ${problem}`)
    }
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
    const next = [...this.bindings]
    for (const b of bindings) if (!next.some((existing) => sameBinding(existing, b))) next.push({ ...b })
    if (next.length > MAX_ACLS) throw new InvalidConfigError(`more than ${MAX_ACLS} ACL bindings`)
    this.save(next)
  }

  /** Removes every binding each filter matches; returns them per filter (a binding goes to the first filter that matches it). */
  remove(filters: readonly AclFilter[]): AclBinding[][] {
    const removed: AclBinding[][] = filters.map(() => [])
    const kept: AclBinding[] = []
    for (const b of this.bindings) {
      const index = filters.findIndex((f) => filterMatches(f, b))
      if (index < 0) kept.push(b)
      else removed[index].push(b)
    }
    if (kept.length !== this.bindings.length) this.save(kept)
    return removed
  }

  private save(next: AclBinding[]): void {
    mkdirSync(join(this.path, '..'), { recursive: true })
    writeChecksummedFileSync(this.path, ACLS_VERSION, Buffer.from(JSON.stringify(next, null, 1)))
    this.replace(next)
  }

  private replace(next: AclBinding[]): void {
    this.bindings = next
    this.generation++
  }
}
