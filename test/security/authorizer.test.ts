/**
 * The authorizer's rules on an ACL store in a temp dir: literal, wildcard and prefixed
 * patterns, principal and host matching, DENY over ALLOW, implied DESCRIBE, super users,
 * allow.everyone.if.no.acl.found; the store's file is checksummed and a damaged one is
 * refused (never read as "no ACLs").
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { AclOperation, AclPermission, PatternType, ResourceType, invalidBinding, type AclBinding } from '../../src/security/acl.js'
import { AclStore } from '../../src/security/acl-store.js'
import { Authorizer } from '../../src/security/authorizer.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function freshStore(): { store: AclStore; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ringlog-authorizer-'))
  dirs.push(dir)
  return { store: AclStore.open(dir), dir }
}

const { TOPIC, GROUP } = ResourceType
const { READ, WRITE, DESCRIBE, ALL, ALTER_CONFIGS, DESCRIBE_CONFIGS, CREATE } = AclOperation

function binding(partial: Partial<AclBinding>): AclBinding {
  return { resourceType: TOPIC, resourceName: 'orders', patternType: PatternType.LITERAL, principal: 'User:alice', host: '*', operation: READ, permission: AclPermission.ALLOW, ...partial }
}

describe('Authorizer', () => {
  it('matches literal, wildcard and prefixed patterns, principals and hosts', () => {
    const { store } = freshStore()
    store.add([
      binding({}),
      binding({ resourceName: '*', principal: 'User:carol', operation: WRITE }),
      binding({ resourceName: 'logs-', patternType: PatternType.PREFIXED, principal: 'User:*', operation: READ }),
      binding({ resourceType: GROUP, resourceName: 'g1', host: '10.0.0.1' }),
    ])
    const a = new Authorizer(store, { superUsers: [], allowEveryoneIfNoAclFound: false })
    expect(a.authorize('User:alice', '127.0.0.1', READ, TOPIC, 'orders')).toBe(true)
    expect(a.authorize('User:alice', '127.0.0.1', WRITE, TOPIC, 'orders')).toBe(false)
    expect(a.authorize('User:bob', '127.0.0.1', READ, TOPIC, 'orders')).toBe(false)
    expect(a.authorize('User:carol', '127.0.0.1', WRITE, TOPIC, 'anything')).toBe(true)
    expect(a.authorize('User:bob', '127.0.0.1', READ, TOPIC, 'logs-app')).toBe(true)
    expect(a.authorize('User:bob', '127.0.0.1', READ, TOPIC, 'log')).toBe(false)
    expect(a.authorize('User:alice', '10.0.0.1', READ, GROUP, 'g1')).toBe(true)
    expect(a.authorize('User:alice', '10.0.0.2', READ, GROUP, 'g1')).toBe(false)
  })

  it('DENY wins; READ/WRITE imply DESCRIBE and ALTER_CONFIGS implies DESCRIBE_CONFIGS, but a DENY of DESCRIBE is not implied', () => {
    const { store } = freshStore()
    store.add([
      binding({ operation: ALL }),
      binding({ operation: WRITE, permission: AclPermission.DENY }),
      binding({ resourceName: 'x', operation: ALTER_CONFIGS }),
      binding({ resourceName: 'y', operation: WRITE }),
      binding({ resourceName: 'y', operation: READ, permission: AclPermission.DENY }),
    ])
    const a = new Authorizer(store, { superUsers: [], allowEveryoneIfNoAclFound: false })
    expect(a.authorize('User:alice', 'h', READ, TOPIC, 'orders')).toBe(true)
    expect(a.authorize('User:alice', 'h', WRITE, TOPIC, 'orders')).toBe(false)
    expect(a.authorize('User:alice', 'h', DESCRIBE_CONFIGS, TOPIC, 'x')).toBe(true)
    expect(a.authorize('User:alice', 'h', DESCRIBE, TOPIC, 'y')).toBe(true)
    expect(a.authorize('User:alice', 'h', READ, TOPIC, 'y')).toBe(false)
    // A prefixed DENY covers the names under it even with a literal ALLOW.
    store.add([binding({ resourceName: 'ord', patternType: PatternType.PREFIXED, operation: READ, permission: AclPermission.DENY })])
    expect(a.authorize('User:alice', 'h', READ, TOPIC, 'orders')).toBe(false)
  })

  it('super users bypass everything; allow.everyone.if.no.acl.found only opens resources with no ACL at all', () => {
    const { store } = freshStore()
    store.add([binding({ principal: 'User:bob' })])
    const strict = new Authorizer(store, { superUsers: ['User:admin'], allowEveryoneIfNoAclFound: false })
    const open = new Authorizer(store, { superUsers: [], allowEveryoneIfNoAclFound: true })
    expect(strict.authorize('User:admin', 'h', CREATE, TOPIC, 'orders')).toBe(true)
    expect(strict.authorize('User:alice', 'h', READ, TOPIC, 'free')).toBe(false)
    expect(open.authorize('User:alice', 'h', READ, TOPIC, 'free')).toBe(true)
    expect(open.authorize('User:alice', 'h', READ, TOPIC, 'orders')).toBe(false)
  })

  it('authorizeAny: some topic allows the operation and is not denied', () => {
    const { store } = freshStore()
    store.add([binding({ operation: WRITE }), binding({ operation: WRITE, permission: AclPermission.DENY, principal: 'User:bob' }), binding({ operation: WRITE, principal: 'User:bob' })])
    const a = new Authorizer(store, { superUsers: [], allowEveryoneIfNoAclFound: false })
    expect(a.authorizeAny('User:alice', 'h', WRITE, TOPIC)).toBe(true)
    expect(a.authorizeAny('User:bob', 'h', WRITE, TOPIC)).toBe(false)
    expect(a.authorizeAny('User:carol', 'h', WRITE, TOPIC)).toBe(false)
  })

  it('refuses bindings Kafka refuses', () => {
    expect(invalidBinding(binding({ patternType: PatternType.MATCH }))).toMatch(/LITERAL or PREFIXED/)
    expect(invalidBinding(binding({ principal: 'alice' }))).toMatch(/principal/)
    expect(invalidBinding(binding({ resourceType: ResourceType.CLUSTER, resourceName: 'c' }))).toMatch(/kafka-cluster/)
    expect(invalidBinding(binding({ operation: AclOperation.ANY }))).toMatch(/concrete/)
    expect(invalidBinding(binding({}))).toBeNull()
  })
})

describe('AclStore', () => {
  it('persists in meta/acls.json, removes by filter, and refuses a damaged file', () => {
    const { store, dir } = freshStore()
    store.add([binding({}), binding({ operation: WRITE }), binding({})])
    expect(store.size).toBe(2)
    const reopened = AclStore.open(dir)
    expect(reopened.list()).toEqual(store.list())
    const removed = reopened.remove([{ resourceType: ResourceType.ANY, resourceName: null, patternType: PatternType.ANY, principal: 'User:alice', host: null, operation: WRITE, permission: AclPermission.ANY }])
    expect(removed[0]).toHaveLength(1)
    expect(AclStore.open(dir).size).toBe(1)
    const path = AclStore.pathIn(dir)
    const bytes = readFileSync(path)
    bytes[bytes.length - 3] ^= 0xff
    writeFileSync(path, bytes)
    expect(() => AclStore.open(dir)).toThrow(/ACL file .*acls\.json/)
  })
})
