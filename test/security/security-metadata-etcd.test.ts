/**
 * The cluster's users and ACLs in a real (private) etcd, without brokers: concurrent writers on
 * separate connections never lose each other's ACL or credential changes (compare-and-swap);
 * a watched copy follows every write; a damaged `security/acls` value keeps the previous
 * bindings; with etcd stopped the copy keeps serving and writes fail, and after etcd is back the
 * watch catches up. Random interleavings print their seed (RINGLOG_SEED replays it).
 */
import { existsSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type EtcdProcess, startEtcd } from '../../src/cluster/etcd-process.js'
import { SecurityMetadata } from '../../src/cluster/security-metadata.js'
import { WatchedSecurityMetadata } from '../../src/cluster/security-metadata-watch.js'
import { AclOperation, AclPermission, PatternType, ResourceType, type AclBinding } from '../../src/security/acl.js'
import { withBindings, withoutMatching } from '../../src/security/acl-store.js'
import { newCredential } from '../../src/security/scram-keys.js'

const hasEtcd = existsSync('/usr/bin/etcd')
const SEED = Number(process.env.RINGLOG_SEED ?? Date.now() % 1_000_000)

function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

const binding = (topic: string, principal: string): AclBinding => ({
  resourceType: ResourceType.TOPIC, resourceName: topic, patternType: PatternType.LITERAL,
  principal, host: '*', operation: AclOperation.WRITE, permission: AclPermission.ALLOW,
})

async function eventually(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what} (seed=${SEED})`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe.skipIf(!hasEtcd)('users and ACLs in etcd', () => {
  let etcd: EtcdProcess
  let watched: WatchedSecurityMetadata
  const logged: string[] = []

  beforeAll(async () => {
    etcd = await startEtcd()
    watched = await WatchedSecurityMetadata.open({ endpoints: etcd.endpoint, cluster: 'unit', log: (level, message) => logged.push(`${level} ${message}`) })
  }, 60_000)

  afterAll(async () => {
    await watched?.close()
    await etcd?.destroy()
  })

  it(`concurrent ACL and credential writers on separate connections all land (seed=${SEED})`, async () => {
    const next = random(SEED)
    const writers = [0, 1, 2].map(() => SecurityMetadata.connect(etcd.endpoint, 'unit'))
    try {
      // 3 writers x 15 changes, each writer a random pause before each change so the CAS windows overlap.
      await Promise.all(writers.map(async (writer, w) => {
        for (let i = 0; i < 15; i++) {
          await new Promise((resolve) => setTimeout(resolve, Math.floor(next() * 5)))
          await writer.updateAcls((current) => ({ next: withBindings(current, [binding(`t-${w}-${i}`, 'User:x')]), result: undefined }))
          const mechanism = w === 0 ? 'SCRAM-SHA-256' : 'SCRAM-SHA-512'
          // Writers 0 and 1 change the same user key in every round.
          await writer.alterCredentials([{ user: w < 2 ? `same-${i}` : `own-${i}`, deletions: [], upsertions: [{ mechanism, credential: newCredential(mechanism, 'pw', 4096) }] }])
        }
      }))
      const { bindings } = await writers[0].readAcls()
      expect(bindings.length, `seed=${SEED}`).toBe(45)
      const users = await writers[0].readUsers()
      for (let i = 0; i < 15; i++) {
        expect([...users.get(`same-${i}`)?.keys() ?? []].sort(), `seed=${SEED}`).toEqual(['SCRAM-SHA-256', 'SCRAM-SHA-512'])
        expect(users.has(`own-${i}`)).toBe(true)
      }
      await eventually(() => watched.acls.size === 45 && watched.credentials.list().length === 30, 'the watched copy shows every write')
      expect(watched.credentials.get('same-3', 'SCRAM-SHA-256')).toBeDefined()
    } finally {
      for (const writer of writers) writer.close()
    }
  })

  it('answers once its own copy shows the write; deleting a missing credential is reported and writes nothing', async () => {
    const removed = await watched.updateAcls((current) => {
      const { kept, removed } = withoutMatching(current, [{ resourceType: ResourceType.TOPIC, resourceName: 't-0-0', patternType: PatternType.LITERAL, principal: null, host: null, operation: AclOperation.ANY, permission: AclPermission.ANY }])
      return { next: kept, result: removed }
    })
    expect(removed[0]).toHaveLength(1)
    expect(watched.acls.list().some((b) => b.resourceName === 't-0-0')).toBe(false)
    const results = await watched.alterCredentials([
      { user: 'own-1', deletions: ['SCRAM-SHA-256'], upsertions: [] },
      { user: 'new-user', deletions: [], upsertions: [{ mechanism: 'SCRAM-SHA-512', credential: newCredential('SCRAM-SHA-512', 'pw', 4096) }] },
    ])
    expect(results.get('own-1')).toMatch(/does not exist: own-1 SCRAM-SHA-256/)
    expect(results.get('new-user')).toBeNull()
    expect(watched.credentials.get('new-user', 'SCRAM-SHA-512')).toBeDefined()
    expect(await watched.alterCredentials([{ user: 'new-user', deletions: ['SCRAM-SHA-512'], upsertions: [] }])).toEqual(new Map([['new-user', null]]))
    expect(watched.credentials.get('new-user', 'SCRAM-SHA-512')).toBeUndefined()
  })

  it('keeps the previous bindings when security/acls is damaged', async () => {
    const before = watched.acls.size
    const raw = SecurityMetadata.connect(etcd.endpoint, 'unit')
    try {
      await raw.metadata.etcd.put(raw.layout.acls).value('{"bindings": [{"resourceType": 99}]}').exec()
      await eventually(() => logged.some((l) => l.startsWith('error') && l.includes('security/acls')), 'the damaged value is logged')
      expect(watched.acls.size).toBe(before)
      await raw.metadata.etcd.put(raw.layout.acls).value(JSON.stringify({ bindings: [binding('fixed', 'User:y')] })).exec()
      await eventually(() => watched.acls.size === 1, 'a good value replaces the copy')
    } finally {
      raw.close()
    }
  })

  it('with etcd stopped the copy keeps serving and writes fail; after a restart the watch catches up', async () => {
    await etcd.stop()
    expect(watched.acls.list()[0]?.resourceName).toBe('fixed')
    expect(watched.credentials.get('own-2', 'SCRAM-SHA-512')).toBeDefined()
    await expect(watched.updateAcls((current) => ({ next: withBindings(current, [binding('while-down', 'User:z')]), result: undefined }))).rejects.toThrow()
    await etcd.start()
    const writer = SecurityMetadata.connect(etcd.endpoint, 'unit')
    try {
      await writer.updateAcls((current) => ({ next: withBindings(current, [binding('after-restart', 'User:z')]), result: undefined }))
    } finally {
      writer.close()
    }
    await eventually(() => watched.acls.list().some((b) => b.resourceName === 'after-restart'), 'the watch resumes after etcd restarts', 15_000)
  }, 60_000)
})
