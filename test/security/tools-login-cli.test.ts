/**
 * `--sasl user:password`, `--sasl-mechanism` and `--tls` / `--tls-ca-file` on the tools that
 * talk to a running broker (topics, produce, consume, groups, records), through the compiled
 * CLI against `ringlog serve --authorizer on --super-users User:admin` with a SASL_PLAINTEXT and
 * a SASL_SSL listener. The super user may do everything; bob, with no ACL, is refused with one
 * `ringlog: ...` line and exit 1 until ACLs let him read; bad logins and TLS mistakes fail the
 * same way.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, runRinglog, startRinglogBroker, type RinglogBroker, type RunResult } from '../cli/ringlog-process.js'
import { makeCerts, type TestCerts } from './certs.js'

let dir: string
let certs: TestCerts
let broker: RinglogBroker | undefined
/** host:port of the SASL_PLAINTEXT and SASL_SSL listeners. */
let saslPlaintext: string
let saslSsl: string

const LISTENER_WAIT_MS = 10_000

/** The address `ringlog serve` printed for `protocol`'s listener (printed right after the listening line). */
async function listenerAddress(started: RinglogBroker, protocol: string): Promise<string> {
  const pattern = new RegExp(`ringlog ${protocol} listener on ([\\d.]+:\\d+)`)
  const deadline = Date.now() + LISTENER_WAIT_MS
  for (;;) {
    const match = pattern.exec(started.stdout())
    if (match) return match[1]
    if (Date.now() > deadline) throw new Error(`no ${protocol} listener line in: ${started.stdout()}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

beforeAll(async () => {
  assertBuilt()
  dir = mkdtempSync(join(tmpdir(), 'ringlog-tools-login-'))
  certs = makeCerts(dir)
  const dataDir = join(dir, 'data')
  for (const [user, password] of [['admin', 'admin-pw'], ['bob', 'bob-pw']]) {
    const added = await runRinglog(['users', 'add', user, '--password', password, '--data-dir', dataDir])
    expect(added.code, added.stderr).toBe(0)
  }
  broker = await startRinglogBroker(
    ['--data-dir', dataDir, '--flush', 'never', '--max-workers', '1', '--authorizer', 'on', '--super-users', 'User:admin',
      '--sasl-mechanisms', 'SCRAM-SHA-512,PLAIN', '--tls-cert-file', certs.brokerCert, '--tls-key-file', certs.brokerKey,
      '--group-initial-rebalance-delay-ms', '0'],
    { RINGLOG_LISTENERS: 'SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0' },
  )
  saslPlaintext = await listenerAddress(broker, 'SASL_PLAINTEXT')
  saslSsl = await listenerAddress(broker, 'SASL_SSL')
}, 60_000)

afterAll(async () => {
  await broker?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const admin = (): string[] => ['-b', saslPlaintext, '--sasl', 'admin:admin-pw']
const bob = (): string[] => ['-b', saslPlaintext, '--sasl', 'bob:bob-pw']
const adminTls = (): string[] => ['-b', saslSsl, '--sasl', 'admin:admin-pw', '--tls-ca-file', certs.caCert]

function expectOk(result: RunResult): void {
  expect(result.code, result.stderr).toBe(0)
}

function expectFailure(result: RunResult, pattern: RegExp): void {
  expect(result.code, `${result.stdout}${result.stderr}`).toBe(1)
  expect(result.stderr).toMatch(/^ringlog: [^\n]+\n$/)
  expect(result.stderr).toMatch(pattern)
}

describe('ringlog topics | produce | consume | groups | records with --sasl and --tls', () => {
  it('the super user does everything over SASL_PLAINTEXT and SASL_SSL', async () => {
    for (const created of await Promise.all([
      runRinglog(['topics', 'create', 'orders', '-p', '2', ...admin()]),
      runRinglog(['topics', 'create', 'audit', '-p', '1', ...adminTls()]),
    ])) expectOk(created)
    // Independent steps run side by side (each is a process start).
    const [list, describe, produced, producedTls] = await Promise.all([
      runRinglog(['topics', 'list', ...admin()]),
      runRinglog(['topics', 'describe', 'orders', '--json', ...adminTls()]),
      runRinglog(['produce', 'orders', '-K', ':', ...admin()], { input: 'a:1\nb:2\nc:3\n' }),
      runRinglog(['produce', 'orders', '-p', '0', ...adminTls(), '--sasl-mechanism', 'PLAIN'], { input: 'd\n' }),
    ])
    expect(list.stdout).toBe('audit\norders\n')
    expect(describe.stdout).toMatch(/"partitions"/)
    expectOk(produced)
    expect(produced.stdout).toBe('produced 3 records to orders\n')
    expectOk(producedTls)

    const [consumed, reset] = await Promise.all([
      runRinglog(['consume', 'orders', '--from-beginning', '-e', '-F', '%v', ...adminTls()]),
      runRinglog(['groups', 'reset-offsets', 'billing', '--topic', 'orders', '--to-earliest', '--execute', ...admin()]),
    ])
    expectOk(consumed)
    expect(consumed.stdout.split('\n').filter(Boolean).sort()).toEqual(['1', '2', '3', 'd'])
    expectOk(reset)

    const [listed, described, deleted] = await Promise.all([
      runRinglog(['groups', 'list', '--json', ...adminTls()]),
      runRinglog(['groups', 'describe', 'billing', '--json', ...admin()]),
      runRinglog(['records', 'delete', 'orders', '-p', '0', '--before', '1', ...adminTls()]),
    ])
    expectOk(listed)
    expect(JSON.parse(listed.stdout)).toEqual([{ groupId: 'billing', protocolType: '', state: 'Empty' }])
    expectOk(described)
    expect(JSON.parse(described.stdout).partitions).toHaveLength(2)
    expectOk(deleted)
    expect(deleted.stdout).toMatch(/log start offset 1\n$/)
  }, 120_000)

  it('bob without ACLs is refused with one ringlog: line and exit 1, and allowed once ACLs say so', async () => {
    // Allowed but filtered: bob sees no topic and no group.
    const [topics, groups] = await Promise.all([runRinglog(['topics', 'list', ...bob()]), runRinglog(['groups', 'list', '--json', ...bob()])])
    expectOk(topics)
    expect(topics.stdout).toBe('')
    expectOk(groups)
    expect(JSON.parse(groups.stdout)).toEqual([])

    const denied: [string[], RegExp, string?][] = [
      [['topics', 'create', 'bobs', ...bob()], /TOPIC_AUTHORIZATION_FAILED/],
      [['topics', 'describe', 'orders', ...bob()], /TOPIC_AUTHORIZATION_FAILED/],
      [['topics', 'delete', 'orders', ...bob()], /TOPIC_AUTHORIZATION_FAILED/],
      [['produce', 'orders', ...bob()], /TOPIC_AUTHORIZATION_FAILED/, 'x\n'],
      [['consume', 'orders', '--from-beginning', '-e', ...bob()], /TOPIC_AUTHORIZATION_FAILED/],
      [['groups', 'describe', 'billing', ...bob()], /GROUP_AUTHORIZATION_FAILED/],
      [['groups', 'delete', 'billing', ...bob()], /GROUP_AUTHORIZATION_FAILED/],
      [['groups', 'reset-offsets', 'billing', '--topic', 'orders', '--to-latest', '--execute', ...bob()], /GROUP_AUTHORIZATION_FAILED/],
      [['records', 'delete', 'orders', '-p', '0', '--before', '-1', ...bob()], /TOPIC_AUTHORIZATION_FAILED/],
    ]
    const results = await Promise.all(denied.map(([args, , input]) => runRinglog(args, { input })))
    results.forEach((result, i) => expectFailure(result, denied[i][1]))

    const granted = await Promise.all([
      ['--operation', 'Read', '--topic', 'orders'],
      ['--operation', 'Read', '--group', 'billing'],
    ].map((acl) => runRinglog(['acls', 'add', '--allow', 'User:bob', ...acl, ...admin()])))
    granted.forEach(expectOk)

    const [consumed, seenByAdmin, listed, described, produced, deleted] = await Promise.all([
      runRinglog(['consume', 'orders', '--from-beginning', '-e', ...bob()]),
      runRinglog(['consume', 'orders', '--from-beginning', '-e', ...admin()]),
      runRinglog(['topics', 'list', ...bob()]),
      runRinglog(['groups', 'describe', 'billing', '--json', ...bob()]),
      runRinglog(['produce', 'orders', ...bob()], { input: 'x\n' }),
      runRinglog(['records', 'delete', 'orders', '-p', '1', '--before', '-1', ...bob()]),
    ])
    expectOk(consumed)
    // Three of the four records are left after the first test's records delete.
    expect(consumed.stdout.split('\n').filter(Boolean)).toHaveLength(3)
    expect(consumed.stdout).toBe(seenByAdmin.stdout)
    expect(listed.stdout).toBe('orders\n')
    expectOk(described)
    expect(JSON.parse(described.stdout).groupId).toBe('billing')
    // Read does not include Write or Delete.
    expectFailure(produced, /TOPIC_AUTHORIZATION_FAILED/)
    expectFailure(deleted, /TOPIC_AUTHORIZATION_FAILED/)
  }, 120_000)

  it('bad logins and TLS mistakes are one ringlog: line and exit 1', async () => {
    const cases: [string[], RegExp][] = [
      [['topics', 'list', '-b', saslPlaintext, '--sasl', 'bob:wrong'], /SASL_AUTHENTICATION_FAILED/],
      [['produce', 'orders', '-b', saslPlaintext, '--sasl', 'nobody:x', '--sasl-mechanism', 'PLAIN'], /SASL_AUTHENTICATION_FAILED/],
      [['consume', 'orders', '-b', saslPlaintext, '--sasl', 'bob'], /--sasl must be user:password/],
      [['groups', 'list', '-b', saslPlaintext, '--sasl', 'bob:bob-pw', '--sasl-mechanism', 'GSSAPI'], /--sasl-mechanism must be one of/],
      [['records', 'delete', 'orders', '-p', '0', '--before', '1', '-b', saslPlaintext, '--sasl', 'bob:bob-pw', '--sasl-mechanism', 'SCRAM-SHA-256'], /UNSUPPORTED_SASL_MECHANISM|does not accept SASL SCRAM-SHA-256/],
      // The broker's certificate is signed by the test CA, which the system does not trust.
      [['topics', 'list', '-b', saslSsl, '--sasl', 'admin:admin-pw', '--tls'], /self.signed|unable to verify|certificate/i],
      [['topics', 'list', '-b', saslSsl, '--sasl', 'admin:admin-pw', '--tls-ca-file', join(dir, 'missing.pem')], /--tls-ca-file: cannot read .*ENOENT/],
      [['topics', 'list', '-b', saslSsl, '--tls-ca-file', certs.caCert, '--tls-cert-file', certs.clientCert], /--tls-cert-file and --tls-key-file go together/],
    ]
    const results = await Promise.all(cases.map(([args]) => runRinglog(args, { input: 'x\n' })))
    results.forEach((result, i) => expectFailure(result, cases[i][1]))
  }, 120_000)
})
