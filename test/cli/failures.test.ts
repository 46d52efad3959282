/**
 * Every ringlog command, made to fail through the real compiled binary: each failure is one
 * `ringlog: <message>` line on stderr (no stack trace), nothing on stdout, and exit code 1.
 * One broker (`ringlog serve` on 127.0.0.1:0) serves the cases that need one; the cases run
 * concurrently, each a separate process.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { failureMessage } from '../../src/cli/produce.js'
import { assertBuilt, closedPort, REPO, runRinglog, startRinglogBroker, type RinglogBroker, type RunResult } from './ringlog-process.js'

let dir: string
let broker: RinglogBroker

beforeAll(async () => {
  assertBuilt()
  dir = mkdtempSync(join(tmpdir(), 'ringlog-cli-failures-'))
  broker = await startRinglogBroker(['--data-dir', join(dir, 'broker'), '--flush', 'never', '--max-message-bytes', '1024'])
})

afterAll(async () => {
  await broker?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** The shape of every failure: exit 1, stdout empty, stderr exactly one `ringlog: ` line matching `message`. */
function expectOneLineFailure(result: RunResult, message: RegExp): void {
  expect(result.stderr).toMatch(/^ringlog: [^\n]+\n$/)
  expect(result.stderr).toMatch(message)
  expect(result.stderr).not.toMatch(/\n\s+at /)
  expect(result.stdout).toBe('')
  expect(result.code).toBe(1)
}

describe.concurrent('a failing command prints one ringlog: line and exits 1', () => {
  it('serve: the port is in use', async () => {
    const occupied: Server = createServer()
    await new Promise<void>((resolve) => occupied.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = occupied.address() as { port: number }
      const result = await runRinglog(['serve', '--host', '127.0.0.1', '--port', String(port), '--data-dir', join(dir, 'port-in-use')])
      expectOneLineFailure(result, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: .*address already in use`))
    } finally {
      await new Promise((resolve) => occupied.close(resolve))
    }
  })

  it('serve: the data dir cannot be created (a file is in the way)', async () => {
    const file = join(dir, 'not-a-dir')
    writeFileSync(file, 'x')
    const result = await runRinglog(['serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', join(file, 'data')])
    expectOneLineFailure(result, /cannot use data dir .*not-a-dir\/data: ENOTDIR/)
  })

  it('serve: a bad --flush', async () => {
    const result = await runRinglog(['serve', '--port', '0', '--flush', 'sometimes', '--data-dir', join(dir, 'bad-flush')])
    expectOneLineFailure(result, /flush.*"sometimes"/)
  })

  it('serve: a bad environment value', async () => {
    const result = await runRinglog(['serve', '--port', '0', '--data-dir', join(dir, 'bad-env')], { env: { RINGLOG_MAX_MESSAGE_BYTES: 'lots' } })
    expectOneLineFailure(result, /maxMessageBytes.*"lots"|RINGLOG_MAX_MESSAGE_BYTES/)
  })

  it('serve: a config file that is not JSON names the file and the parse error', async () => {
    const config = join(dir, 'broken.json')
    writeFileSync(config, '{"dataDir": "x",,}')
    const result = await runRinglog(['serve', '--config', config])
    expectOneLineFailure(result, new RegExp(`${config.replace(/[.]/g, '\\.')}.*JSON`))
  })

  it('topics: a topic that already exists', async () => {
    const first = await runRinglog(['topics', 'create', 'twice', '-b', broker.bootstrap])
    expect(first).toMatchObject({ code: 0, stderr: '' })
    expectOneLineFailure(await runRinglog(['topics', 'create', 'twice', '-b', broker.bootstrap]), /cannot create topic "twice": TOPIC_ALREADY_EXISTS/)
  })

  it('topics: describe an unknown topic', async () => {
    expectOneLineFailure(await runRinglog(['topics', 'describe', 'missing', '-b', broker.bootstrap]), /topic "missing" does not exist/)
  })

  it('produce: a bad --acks', async () => {
    expectOneLineFailure(await runRinglog(['produce', 'x', '--acks', '2', '-b', broker.bootstrap], { input: 'a\n' }), /--acks must be all, 1 or 0, got "2"/)
  })

  it('produce: the broker is down', async () => {
    const port = await closedPort()
    expectOneLineFailure(await runRinglog(['produce', 'x', '-b', `127.0.0.1:${port}`], { input: 'a\n' }), new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port}.*ECONNREFUSED`))
  })

  it('produce: a record the broker refuses ends with one line naming the partition error', async () => {
    const result = await runRinglog(['produce', 'large', '-b', broker.bootstrap, '--partition', '0'], { input: `small\n${'x'.repeat(4000)}\n` })
    expect(result.stdout).toMatch(/^produced [01] records? to large\n$/)
    expect(result.stderr).toMatch(/^ringlog: [12] records? not produced: partition 0: MESSAGE_TOO_LARGE[^\n]*\n$/)
    expect(result.code).toBe(1)
  })

  it('consume: an unknown topic', async () => {
    expectOneLineFailure(await runRinglog(['consume', 'nowhere', '-b', broker.bootstrap, '-e']), /topic "nowhere" does not exist/)
  })

  it('groups: the broker is down', async () => {
    const port = await closedPort()
    expectOneLineFailure(await runRinglog(['groups', 'list', '-b', `127.0.0.1:${port}`]), /cannot connect to .*ECONNREFUSED/)
  })

  it('dump-log: a path that does not exist', async () => {
    expectOneLineFailure(await runRinglog(['dump-log', join(dir, 'no-such.log')]), /cannot read .*no-such\.log: no such file or directory/)
  })

  it('bench: a bad --flush', async () => {
    expectOneLineFailure(await runRinglog(['bench', 'produce', '--flush', 'sometimes', '--records', '10']), /flush.*"sometimes"/)
  })

  it('a usage error from the option parser (unknown option) is one line too', async () => {
    expectOneLineFailure(await runRinglog(['consume', 'x', '--no-such-option']), /unknown option '--no-such-option'/)
  })
})

describe('the failure line of produce', () => {
  it('names each distinct failed batch, at most three, and counts the rest', () => {
    const errors = ['partition 0: A', 'partition 1: A', 'partition 0: A', 'partition 2: B', 'partition 3: C', 'partition 4: D']
    expect(failureMessage({ produced: 0, failed: 9, errors })).toBe('9 records not produced: partition 0: A; partition 1: A; partition 2: B; and 2 more')
    expect(failureMessage({ produced: 5, failed: 1, errors: ['Produce failed: closed'] })).toBe('1 record not produced: Produce failed: closed')
  })
})

describe('ringlog --version', () => {
  it('prints the package version and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }
    for (const flag of ['--version', '-V']) {
      const result = await runRinglog([flag])
      expect(result).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' })
    }
  })
})
