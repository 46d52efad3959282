/**
 * The offline cluster forms `ringlog users ... --etcd` and `ringlog acls ... --etcd` against a
 * private etcd, no broker running: what they write is what the brokers read (SecurityMetadata),
 * never a password, and failures are one `ringlog:` line with exit 1.
 * Needs `npm run build` (the CLI runs bin/ringlog.js) and /usr/bin/etcd.
 */
import { existsSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type EtcdProcess, startEtcd } from '../../src/cluster/etcd-process.js'
import { SecurityMetadata } from '../../src/cluster/security-metadata.js'
import { assertBuilt, runRinglog } from '../cli/ringlog-process.js'

const hasEtcd = existsSync('/usr/bin/etcd')

describe.skipIf(!hasEtcd)('ringlog users / acls --etcd', () => {
  let etcd: EtcdProcess
  const at = (): string[] => ['--etcd', etcd.endpoint, '--cluster-name', 'cli']

  beforeAll(async () => {
    assertBuilt()
    etcd = await startEtcd()
  }, 60_000)

  afterAll(async () => {
    await etcd?.destroy()
  })

  it('adds, lists and removes users and ACLs in etcd', async () => {
    expect((await runRinglog(['users', 'add', 'ops/team a', '--password', 'pw-secret-1', '--mechanism', 'SCRAM-SHA-256', ...at()])).code).toBe(0)
    const acl = await runRinglog(['acls', 'add', '--allow', 'User:bob', '--operation', 'Read', '--operation', 'Describe', '--topic', 'orders-', '--prefixed', ...at()])
    expect(acl.code, acl.stderr).toBe(0)

    const metadata = SecurityMetadata.connect(etcd.endpoint, 'cli')
    try {
      const users = await metadata.readUsers()
      expect([...users.keys()]).toEqual(['ops/team a'])
      expect(users.get('ops/team a')?.get('SCRAM-SHA-256')?.iterations).toBe(4096)
      const raw = await metadata.metadata.etcd.getAll().prefix(metadata.layout.securityPrefix).strings()
      expect(Object.keys(raw).sort()).toEqual(['/ringlog/cli/security/acls', '/ringlog/cli/security/scram/ops%2Fteam%20a'])
      expect(JSON.stringify(raw)).not.toContain('pw-secret-1')
      expect((await metadata.readAcls()).bindings).toHaveLength(2)
    } finally {
      metadata.close()
    }

    expect((await runRinglog(['acls', 'list', '--principal', 'User:bob', ...at()])).stdout)
      .toBe('Topic:Prefixed:orders-\tAllow\tUser:bob\tRead\thost=*\nTopic:Prefixed:orders-\tAllow\tUser:bob\tDescribe\thost=*\n')
    const removed = await runRinglog(['acls', 'remove', '--topic', 'orders-', '--prefixed', '--operation', 'Read', ...at()])
    expect(removed.stdout).toBe('removed\tTopic:Prefixed:orders-\tAllow\tUser:bob\tRead\thost=*\n')
    expect((await runRinglog(['users', 'delete', 'ops/team a', ...at()])).code).toBe(0)
    expect((await runRinglog(['users', 'list', ...at()])).stdout).toBe('')
  }, 120_000)

  it('fails with one ringlog: line and exit 1', async () => {
    for (const [args, pattern] of [
      [['acls', 'remove', '--topic', 'nothing-here', ...at()], /no ACL matches/],
      [['users', 'delete', 'nobody', ...at()], /no SCRAM credential for user nobody/],
      [['users', 'list', '-b', '127.0.0.1:1', ...at()], /-b .* or --etcd .*not both/],
    ] as const) {
      const result = await runRinglog(args)
      expect(result.code, result.stdout).toBe(1)
      expect(result.stderr).toMatch(/^ringlog: [^\n]+\n$/)
      expect(result.stderr).toMatch(pattern)
    }
  }, 120_000)
})
