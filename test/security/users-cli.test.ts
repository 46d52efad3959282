/**
 * `ringlog users` against a data dir, then `ringlog serve` with a SASL listener from
 * RINGLOG_LISTENERS: the stored file holds salted keys only, failures are one `ringlog:` line
 * with exit 1, and a user added while the broker runs can log in after SIGHUP.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { CredentialStore } from '../../src/security/credential-store.js'
import { assertBuilt, runRinglog, startRinglogBroker, type RinglogBroker } from '../cli/ringlog-process.js'
import { SaslWire, ScramClient } from './sasl-wire.js'

let dir: string
let dataDir: string
let broker: RinglogBroker | undefined

beforeAll(() => {
  assertBuilt()
  dir = mkdtempSync(join(tmpdir(), 'ringlog-users-'))
  dataDir = join(dir, 'data')
})

afterAll(async () => {
  await broker?.stop()
  rmSync(dir, { recursive: true, force: true })
})

async function scramLogin(port: number, user: string, password: string): Promise<number | undefined> {
  const wire = await SaslWire.connect(port)
  await wire.handshake('SCRAM-SHA-256')
  const client = new ScramClient('SCRAM-SHA-256', user, password)
  const first = await wire.authenticate(client.first())
  const final = await wire.authenticate(client.final(first!.authBytes))
  wire.close()
  return final?.errorCode
}

describe('ringlog users', () => {
  it('adds, lists and deletes users; stores salted keys, never the password', async () => {
    expect((await runRinglog(['users', 'add', 'alice', '--mechanism', 'SCRAM-SHA-512', '--password', 'pw-alice-123', '--data-dir', dataDir])).code).toBe(0)
    expect((await runRinglog(['users', 'add', 'alice', '--mechanism', 'SCRAM-SHA-256', '--password', 'pw-alice-123', '--iterations', '8192', '--data-dir', dataDir])).code).toBe(0)
    expect((await runRinglog(['users', 'add', 'bob', '--password', 'pw-bob-456', '--data-dir', dataDir])).code).toBe(0)
    const listed = await runRinglog(['users', 'list', '--data-dir', dataDir])
    expect(listed.stdout).toBe('alice\tSCRAM-SHA-512(iterations=4096),SCRAM-SHA-256(iterations=8192)\nbob\tSCRAM-SHA-512(iterations=4096)\n')
    const file = readFileSync(CredentialStore.pathIn(dataDir), 'utf8')
    expect(file).not.toContain('pw-alice-123')
    expect(file).not.toContain('pw-bob-456')
    expect(file).toContain('storedKey')
    expect((await runRinglog(['users', 'delete', 'bob', '--data-dir', dataDir])).code).toBe(0)
    expect((await runRinglog(['users', 'list', '--data-dir', dataDir])).stdout).not.toContain('bob')
  })

  it('fails with one ringlog: line and exit 1', async () => {
    for (const args of [
      ['users', 'add', 'x', '--mechanism', 'SCRAM-SHA-1', '--password', 'p', '--data-dir', dataDir],
      ['users', 'add', 'x', '--iterations', '10', '--password', 'p', '--data-dir', dataDir],
      ['users', 'delete', 'nobody', '--data-dir', dataDir],
    ]) {
      const result = await runRinglog(args)
      expect(result.code).toBe(1)
      expect(result.stderr).toMatch(/^ringlog: .+\n$/)
    }
  })

  it('ringlog serve with RINGLOG_LISTENERS authenticates stored users; SIGHUP picks up a user added meanwhile', async () => {
    broker = await startRinglogBroker(['--data-dir', dataDir, '--flush', 'never', '--max-workers', '1'], { RINGLOG_LISTENERS: 'SASL_PLAINTEXT://127.0.0.1:0' })
    expect(await scramLogin(broker.port, 'alice', 'pw-alice-123')).toBe(ErrorCode.NONE)
    expect(await scramLogin(broker.port, 'carol', 'pw-carol')).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED)
    expect((await runRinglog(['users', 'add', 'carol', '--mechanism', 'SCRAM-SHA-256', '--password', 'pw-carol', '--data-dir', dataDir])).code).toBe(0)
    process.kill(broker.pid, 'SIGHUP')
    // The reload is logged once done; bounded wait for that line.
    for (let i = 0; i < 200 && !broker.stderr().includes('SIGHUP: reloaded'); i++) await new Promise((r) => setTimeout(r, 25))
    expect(broker.stderr()).toContain('SIGHUP: reloaded')
    expect(await scramLogin(broker.port, 'carol', 'pw-carol')).toBe(ErrorCode.NONE)
    expect(await broker.stop()).toBe(0)
    broker = undefined
  }, 120_000)
})

describe('the credentials file', () => {
  it('is checksummed: a damaged one stops `ringlog serve` with one ringlog: line naming it (never started without its users); a bare JSON file of an earlier release still loads', async () => {
    const own = join(dir, 'damaged')
    expect((await runRinglog(['users', 'add', 'dave', '--password', 'pw-dave-789', '--data-dir', own])).code).toBe(0)
    const path = CredentialStore.pathIn(own)
    const sealed = readFileSync(path)
    expect(CredentialStore.open(own).list().map((u) => u.user)).toEqual(['dave'])
    // An earlier release wrote the JSON bare: it loads, and the next change seals it.
    writeFileSync(path, sealed.subarray(sealed.indexOf('{')))
    expect(CredentialStore.open(own).list().map((u) => u.user)).toEqual(['dave'])
    const damaged = Buffer.from(sealed)
    damaged[damaged.length - 10] ^= 0x04
    writeFileSync(path, damaged)
    expect(() => CredentialStore.open(own)).toThrow(/credentials file .*scram-credentials\.json/)
    const serve = await runRinglog(['serve', '--data-dir', own, '--flush', 'never', '--max-workers', '1'], { env: { ...process.env, RINGLOG_LISTENERS: 'SASL_PLAINTEXT://127.0.0.1:0' }, timeoutMs: 30_000 })
    expect(serve.code).toBe(1)
    expect(serve.stderr).toMatch(/^ringlog: credentials file .*scram-credentials\.json.*\n$/)
  })
})

