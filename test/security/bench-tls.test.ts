/**
 * `ringlog bench produce|consume --tls`: the bench's own broker gets an SSL listener (a
 * throwaway openssl certificate) and the load generator talks TLS to it; `--brokers` with
 * `--tls --tls-ca-file` reaches an SSL listener of a running `ringlog serve` (the broker's
 * certificate is signed by the test CA), while the PLAINTEXT listener of the same broker refuses
 * a TLS handshake. Options that cannot carry TLS are one `ringlog: ...` line and exit 1.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, runRinglog, startRinglogBroker, type RinglogBroker } from '../cli/ringlog-process.js'
import { makeCerts, type TestCerts } from './certs.js'

let dir: string
let certs: TestCerts
let broker: RinglogBroker | undefined
let ssl: string
let plaintext: string

const LISTENER_WAIT_MS = 10_000

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

interface Report { scenarios: { name: string; repetitions: { records: number }[] }[] }

beforeAll(async () => {
  assertBuilt()
  dir = mkdtempSync(join(tmpdir(), 'ringlog-bench-tls-'))
  certs = makeCerts(dir)
  broker = await startRinglogBroker(
    ['--data-dir', join(dir, 'data'), '--flush', 'never', '--max-workers', '1', '--tls-cert-file', certs.brokerCert, '--tls-key-file', certs.brokerKey],
    { RINGLOG_LISTENERS: 'PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0' },
  )
  ssl = await listenerAddress(broker, 'SSL')
  plaintext = await listenerAddress(broker, 'PLAINTEXT')
}, 60_000)

afterAll(async () => {
  await broker?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const SMALL = ['--records', '3000', '--reps', '1', '--warmups', '0']

describe('ringlog bench --tls', () => {
  it('starts its own broker on an SSL listener and produces and consumes over TLS', async () => {
    const json = join(dir, 'own.json')
    const result = await runRinglog(['bench', 'produce', 'consume', '--tls', ...SMALL, '--json', json])
    expect(result.code, result.stderr).toBe(0)
    const report = JSON.parse(readFileSync(json, 'utf8')) as Report
    expect(report.scenarios.map((s) => s.name)).toEqual(['produce tcp acks=all flush=never tls', 'consume tcp flush=never tls'])
    for (const s of report.scenarios) expect(s.repetitions[0].records).toBeGreaterThanOrEqual(3000)
  }, 120_000)

  it('reaches a running broker\'s SSL listener with --tls-ca-file', async () => {
    const json = join(dir, 'external.json')
    const result = await runRinglog(['bench', 'produce', '--brokers', ssl, '--tls', '--tls-ca-file', certs.caCert, ...SMALL, '--json', json])
    expect(result.code, result.stderr).toBe(0)
    const report = JSON.parse(readFileSync(json, 'utf8')) as Report
    expect(report.scenarios[0].name).toBe('produce tcp acks=all flush=never tls')
    expect(report.scenarios[0].repetitions[0].records).toBeGreaterThanOrEqual(3000)
  }, 120_000)

  it('fails with one ringlog: line when TLS cannot apply or cannot connect', async () => {
    const cases: [string[], RegExp][] = [
      [['bench', 'produce', '--tls', '--client', 'kcat', ...SMALL], /--tls is not wired to --client kcat/],
      [['bench', 'file-append', '--tls', ...SMALL], /--tls does not apply to file-append/],
      [['bench', 'produce', '--tls', '--mode', 'embedded', ...SMALL], /--tls needs --mode tcp/],
      [['bench', 'produce', '--brokers', ssl, '--tls-ca-file', join(dir, 'missing.pem'), ...SMALL], /--tls-ca-file: cannot read .*ENOENT/],
    ]
    const results = await Promise.all(cases.map(([args]) => runRinglog(args)))
    results.forEach((result, i) => {
      expect(result.code, result.stderr).toBe(1)
      expect(result.stderr).toMatch(/^ringlog: [^\n]+\n$/)
      expect(result.stderr).toMatch(cases[i][1])
    })
    // A TLS client against the PLAINTEXT listener: the handshake fails and the bench exits non-zero.
    const wrong = await runRinglog(['bench', 'produce', '--brokers', plaintext, '--tls', '--tls-ca-file', certs.caCert, ...SMALL])
    expect(wrong.code).not.toBe(0)
  }, 120_000)
})
