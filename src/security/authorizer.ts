/**
 * Kafka's ACL authorizer: may this principal, from this host, do this operation on this
 * resource? Super users may do anything. Otherwise the bindings that apply to the resource are
 * those naming it literally, the literal wildcard `*`, and every prefix pattern it starts
 * with. No binding at all on the resource: `allow.everyone.if.no.acl.found` decides. A
 * matching DENY wins over any ALLOW; an ALLOW of READ, WRITE, DELETE or ALTER implies
 * DESCRIBE, and ALTER_CONFIGS implies DESCRIBE_CONFIGS (Kafka's implied operations).
 *
 * The bindings are indexed by resource type and literal name; the bindings that apply to a
 * resource (literal, wildcard and prefixed together) are remembered per resource until the
 * ACLs change, so a repeated check (every Produce to the same topic) is two map lookups and a
 * scan of that resource's few bindings, whatever the number of ACLs.
 */
import { AclOperation, AclPermission, PatternType, WILDCARD, type AclBinding } from './acl.js'
import type { AclStore } from './acl-store.js'

export interface AuthorizerSettings {
  /** Principals (`User:admin`) that bypass every check (super.users). */
  superUsers: readonly string[]
  /** Allow a request on a resource that has no binding at all (allow.everyone.if.no.acl.found). */
  allowEveryoneIfNoAclFound: boolean
}

interface TypeIndex {
  literal: Map<string, AclBinding[]>
  prefixed: AclBinding[]
}

const NONE: readonly AclBinding[] = []
/** Resources whose applying bindings are remembered; past it the memo starts over (bounds memory). */
const MAX_MEMO_ENTRIES = 100_000

const IMPLIES_DESCRIBE: readonly number[] = [AclOperation.READ, AclOperation.WRITE, AclOperation.DELETE, AclOperation.ALTER]

function principalMatches(binding: AclBinding, principal: string): boolean {
  return binding.principal === principal || binding.principal === 'User:*'
}

function hostMatches(binding: AclBinding, host: string): boolean {
  return binding.host === WILDCARD || binding.host === host
}

function allows(bindingOperation: number, operation: number): boolean {
  if (bindingOperation === operation || bindingOperation === AclOperation.ALL) return true
  if (operation === AclOperation.DESCRIBE) return IMPLIES_DESCRIBE.includes(bindingOperation)
  return operation === AclOperation.DESCRIBE_CONFIGS && bindingOperation === AclOperation.ALTER_CONFIGS
}

export class Authorizer {
  private readonly superUsers: ReadonlySet<string>
  private index = new Map<number, TypeIndex>()
  private indexedGeneration = -1
  private readonly memo = new Map<string, readonly AclBinding[]>()

  constructor(readonly store: AclStore, private readonly settings: AuthorizerSettings) {
    this.superUsers = new Set(settings.superUsers)
  }

  isSuperUser(principal: string): boolean {
    return this.superUsers.has(principal)
  }

  authorize(principal: string, host: string, operation: number, resourceType: number, name: string): boolean {
    if (this.superUsers.has(principal)) return true
    const applying = this.applying(resourceType, name)
    if (applying.length === 0) return this.settings.allowEveryoneIfNoAclFound
    let allowed = false
    for (const b of applying) {
      if (!principalMatches(b, principal) || !hostMatches(b, host)) continue
      if (b.permission === AclPermission.DENY) {
        if (b.operation === operation || b.operation === AclOperation.ALL) return false
      } else if (allows(b.operation, operation)) {
        allowed = true
      }
    }
    return allowed
  }

  /**
   * True when some resource of this type may take the operation (Kafka's authorizeByResourceType,
   * which InitProducerId uses for "WRITE on any topic"): an ALLOW for this principal whose own
   * resource is not denied to it.
   */
  authorizeAny(principal: string, host: string, operation: number, resourceType: number): boolean {
    if (this.superUsers.has(principal)) return true
    const index = this.indexFor(resourceType)
    const candidates = [...index.prefixed, ...[...index.literal.values()].flat()]
    return candidates.some((b) => b.permission === AclPermission.ALLOW && principalMatches(b, principal) && hostMatches(b, host) &&
      allows(b.operation, operation) && this.authorize(principal, host, operation, resourceType, b.resourceName))
  }

  /** The bindings whose pattern covers this resource (any principal, host, operation). */
  private applying(resourceType: number, name: string): readonly AclBinding[] {
    const index = this.indexFor(resourceType)
    const key = `${resourceType}:${name}`
    const known = this.memo.get(key)
    if (known) return known
    if (this.memo.size >= MAX_MEMO_ENTRIES) this.memo.clear()
    const found = this.collect(index, name)
    this.memo.set(key, found)
    return found
  }

  private collect(index: TypeIndex, name: string): readonly AclBinding[] {
    const exact = index.literal.get(name) ?? NONE
    const wildcard = name === WILDCARD ? NONE : index.literal.get(WILDCARD) ?? NONE
    const prefixed = index.prefixed.length === 0 ? NONE : index.prefixed.filter((b) => name.startsWith(b.resourceName))
    // The common case (literal bindings only) allocates nothing.
    if (wildcard.length === 0 && prefixed.length === 0) return exact
    return [...exact, ...wildcard, ...prefixed]
  }

  private indexFor(resourceType: number): TypeIndex {
    if (this.indexedGeneration !== this.store.generation) this.rebuild()
    return this.index.get(resourceType) ?? { literal: new Map(), prefixed: [] }
  }

  private rebuild(): void {
    const index = new Map<number, TypeIndex>()
    for (const b of this.store.list()) {
      let byType = index.get(b.resourceType)
      if (!byType) index.set(b.resourceType, (byType = { literal: new Map(), prefixed: [] }))
      if (b.patternType === PatternType.PREFIXED) {
        byType.prefixed.push(b)
        continue
      }
      const list = byType.literal.get(b.resourceName)
      if (list) list.push(b)
      else byType.literal.set(b.resourceName, [b])
    }
    this.index = index
    this.memo.clear()
    this.indexedGeneration = this.store.generation
  }
}
