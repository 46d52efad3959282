/**
 * The compiled CLI against `ringlog serve --authorizer on --super-users User:admin` on a
 * SASL_PLAINTEXT listener: `users add -b ... --sasl` creates a user online
 * (AlterUserScramCredentials) who can then log in; `acls add | list | remove` with the super
 * user's login change what that user may do (checked with kafkajs logged in as that user); failures (a non-super user, a wrong password, no match, a bad option) are one
 * `ringlog: ...` line and exit 1. `--etcd` with `--authorizer on` is refused at start.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import kafkajs from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, runRinglog, startRinglogBroker, type RinglogBroker, type RunResult } from '../cli/ringlog-process.js'

let dir: string
let dataDir: string
let broker: RinglogBroker | undefined
let login: (user: string, password: string) => string[]

beforeAll(async () => {
  assertBuilt()
  dir = mkdtempSync(join(tmpdir(), 'ringlog-acls-cli-'))
  dataDir = join(dir, 'data')
  const added = await runRinglog(['users', 'add', 'admin', '--password', 'admin-pw', '--data-dir', dataDir])
  expect(added.code, added.stderr).toBe(0)
  broker = await startRinglogBroker(
    ['--data-dir', dataDir, '--flush', 'never', '--max-workers', '1', '--authorizer', 'on', '--super-users', 'User:admin', '--sasl-mechanisms', 'SCRAM-SHA-512,SCRAM-SHA-256,PLAIN'],
    { RINGLOG_LISTENERS: 'SASL_PLAINTEXT://127.0.0.1:0' },
  )
  login = (user, password) => ['-b', broker!.bootstrap, '--sasl', `${user}:${password}`]
}, 60_000)

afterAll(async () => {
  await broker?.stop()
  rmSync(dir, { recursive: true, force: true })
})

/** Topic names kafkajs sees when logged in as `user` (SCRAM-SHA-256); `create` first as that user. */
async function topicsSeenBy(user: string, password: string, create?: string): Promise<string[]> {
  const admin = new kafkajs.Kafka({
    clientId: 'acls-cli', brokers: [broker!.bootstrap], logLevel: kafkajs.logLevel.NOTHING, retry: { retries: 0 },
    sasl: { mechanism: 'scram-sha-256', username: user, password },
  }).admin()
  await admin.connect()
  try {
    if (create) await admin.createTopics({ topics: [{ topic: create }] })
    return (await admin.listTopics()).sort()
  } finally {
    await admin.disconnect()
  }
}

function expectFailure(result: RunResult, pattern: RegExp): void {
  expect(result.code, result.stdout).toBe(1)
  expect(result.stderr).toMatch(/^ringlog: [^\n]+\n$/)
  expect(result.stderr).toMatch(pattern)
}

describe('ringlog users and acls against a running broker', () => {
  it('adds a user online; the user logs in but is refused until acls add, and again after acls remove', async () => {
    expect((await runRinglog(['users', 'add', 'admin', '--mechanism', 'SCRAM-SHA-256', '--password', 'admin-pw', ...login('admin', 'admin-pw')])).code).toBe(0)
    const add = await runRinglog(['users', 'add', 'bob', '--mechanism', 'SCRAM-SHA-256', '--password', 'bob-pw', ...login('admin', 'admin-pw')])
    expect(add.code, add.stderr).toBe(0)
    const listed = await runRinglog(['users', 'list', ...login('admin', 'admin-pw')])
    expect(listed.stdout).toBe('admin\tSCRAM-SHA-512(iterations=4096),SCRAM-SHA-256(iterations=4096)\nbob\tSCRAM-SHA-256(iterations=4096)\n')

    expect(await topicsSeenBy('admin', 'admin-pw', 'orders')).toEqual(['orders'])
    // bob logs in (the credential added online works) but may see no topic.
    expect(await topicsSeenBy('bob', 'bob-pw')).toEqual([])

    const granted = await runRinglog(['acls', 'add', '--allow', 'User:bob', '--operation', 'Describe', '--operation', 'Write', '--topic', 'ord', '--prefixed', ...login('admin', 'admin-pw')])
    expect(granted.code, granted.stderr).toBe(0)
    expect(granted.stdout).toBe('added\tTopic:Prefixed:ord\tAllow\tUser:bob\tDescribe\thost=*\nadded\tTopic:Prefixed:ord\tAllow\tUser:bob\tWrite\thost=*\n')
    expect(await topicsSeenBy('bob', 'bob-pw')).toEqual(['orders'])
    const list = await runRinglog(['acls', 'list', '--principal', 'User:bob', ...login('admin', 'admin-pw')])
    expect(list.stdout.trim().split('\n').sort()).toEqual(['Topic:Prefixed:ord\tAllow\tUser:bob\tDescribe\thost=*', 'Topic:Prefixed:ord\tAllow\tUser:bob\tWrite\thost=*'])

    const removed = await runRinglog(['acls', 'remove', '--topic', 'ord', '--prefixed', '--principal', 'User:bob', ...login('admin', 'admin-pw')])
    expect(removed.code, removed.stderr).toBe(0)
    expect(removed.stdout.split('\n').filter((l) => l.startsWith('removed\t'))).toHaveLength(2)
    expect(await topicsSeenBy('bob', 'bob-pw')).toEqual([])
    expect((await runRinglog(['acls', 'list', ...login('admin', 'admin-pw')])).stdout).toBe('')
  }, 120_000)

  it('fails with one ringlog: line and exit 1', async () => {
    const bob = [...login('bob', 'bob-pw'), '--sasl-mechanism', 'SCRAM-SHA-256']
    const admin = login('admin', 'admin-pw')
    // Independent cases, run side by side (each is a process start).
    const cases: [string[], RegExp][] = [
      // bob is not a super user: no ALTER on the cluster.
      [['acls', 'add', '--allow', 'User:bob', '--operation', 'All', '--cluster', ...bob], /CLUSTER_AUTHORIZATION_FAILED/],
      [['users', 'add', 'eve', '--password', 'x', ...bob], /CLUSTER_AUTHORIZATION_FAILED/],
      [['acls', 'list', ...login('admin', 'wrong')], /SASL_AUTHENTICATION_FAILED/],
      [['acls', 'remove', '--topic', 'nothing-here', ...admin], /no ACL matches/],
      [['acls', 'add', '--allow', 'bob', '--operation', 'Read', '--topic', 't', ...admin], /principal must look like User:alice/],
      [['acls', 'add', '--allow', 'User:bob', '--operation', 'Fly', '--topic', 't', ...admin], /unknown --operation "Fly"/],
      [['users', 'delete', 'nobody', ...admin], /no SCRAM credential for user nobody/],
    ]
    const results = await Promise.all(cases.map(([args]) => runRinglog(args)))
    results.forEach((result, i) => expectFailure(result, cases[i][1]))
    expect((await runRinglog(['users', 'delete', 'bob', ...login('admin', 'admin-pw')])).code).toBe(0)
    expectFailure(await runRinglog(['users', 'list', ...login('bob', 'bob-pw'), '--sasl-mechanism', 'SCRAM-SHA-256']), /SASL_AUTHENTICATION_FAILED/)
  }, 120_000)

  it('cluster mode refuses a SASL inter-broker listener without the broker\'s login, and --etcd with -b', async () => {
    const refused = await runRinglog(['serve', '--data-dir', join(dir, 'cluster'), '--etcd', 'http://127.0.0.1:1', '--authorizer', 'on',
      '--listener', 'SASL_PLAINTEXT://127.0.0.1:0'])
    expectFailure(refused, /inter-broker listener SASL_PLAINTEXT needs this broker's login: (--inter-broker-sasl|interBrokerSasl) user:password/)
    const unknown = await runRinglog(['serve', '--data-dir', join(dir, 'cluster'), '--etcd', 'http://127.0.0.1:1', '--inter-broker-listener', 'SSL'])
    expectFailure(unknown, /--inter-broker-listener: no SSL listener/)
    const both = await runRinglog(['acls', 'list', '--etcd', '127.0.0.1:1', '-b', '127.0.0.1:1'])
    expectFailure(both, /-b .* or --etcd .*not both/)
  }, 120_000)
})
