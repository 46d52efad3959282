/**
 * Settings are range-checked before anything acts on them, and the error names where the
 * bad value came from: the flag, the RINGLOG_* variable or the config file and key.
 * The process tests run `ringlog serve` (from sources via tsx) and check that an invalid
 * setting exits non-zero without creating the data dir.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { serveConfig } from '../src/cli/serve.js'
import { open } from '../src/client/ringlog.js'
import { DEFAULT_CONFIG, MAX_PARTITIONS, resolveConfig } from '../src/config.js'
import { InvalidConfigError, RinglogError } from '../src/errors.js'
import { runRinglog, type RunResult } from './cli/ringlog-process.js'
import { ErrorCode } from '../src/protocol/error-codes.js'

const scratch = mkdtempSync(join(tmpdir(), 'ringlog-config-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

function thrown(action: () => unknown): Error {
  try {
    action()
  } catch (error) {
    return error as Error
  }
  throw new Error('expected an error, none was thrown')
}

describe('config: range checks name the flag, variable or key', () => {
  it('flags: --partitions -3, --port 70000, --flush sometimes, --max-workers 0', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ partitions: '-3' }, /--partitions must be an integer from 1 to 10000, got -3/],
      [{ port: '70000' }, /--port must be an integer from 0 to 65535, got 70000/],
      [{ flush: 'sometimes' }, /--flush must be "always", "never" or a positive number of milliseconds, got "sometimes"/],
      [{ maxWorkers: '0' }, /--max-workers must be an integer from 1 to 1024, got 0/],
      [{ segmentBytes: '12.5' }, /--segment-bytes must be an integer/],
      [{ retentionMs: 'forever' }, /--retention-ms must be a number, got "forever"/],
      [{ autoCreateTopics: 'yes' }, /--auto-create-topics must be true or false, got "yes"/],
      [{ dataDir: '' }, /--data-dir must be a non-empty string/],
    ]
    for (const [flags, message] of cases) {
      const error = thrown(() => serveConfig(flags, {}))
      expect(error, JSON.stringify(flags)).toBeInstanceOf(InvalidConfigError)
      expect(error.message).toMatch(message)
    }
  })

  it('environment variables are named as RINGLOG_*', () => {
    expect(thrown(() => serveConfig({}, { RINGLOG_NUM_PARTITIONS: '0' })).message).toMatch(/^RINGLOG_NUM_PARTITIONS must be an integer from 1/)
    expect(thrown(() => serveConfig({}, { RINGLOG_PORT: '-1' })).message).toMatch(/^RINGLOG_PORT must be/)
  })

  it('config file keys are named with the file path; an unreadable or non-JSON file reports its path', () => {
    const good = join(scratch, 'good.json')
    writeFileSync(good, JSON.stringify({ port: 0, numPartitions: 3 }))
    expect(serveConfig({ config: good }, {})).toMatchObject({ port: 0, numPartitions: 3 })

    const range = join(scratch, 'range.json')
    writeFileSync(range, JSON.stringify({ segmentBytes: 10 }))
    expect(thrown(() => serveConfig({ config: range }, {})).message).toBe(`segmentBytes in config file ${range} must be an integer from 128 to 2147483647, got 10`)

    const unknown = join(scratch, 'unknown.json')
    writeFileSync(unknown, JSON.stringify({ partitions: 3 }))
    expect(thrown(() => serveConfig({ config: unknown }, {})).message).toBe(`unknown setting partitions in config file ${unknown}`)

    const broken = join(scratch, 'broken.json')
    writeFileSync(broken, '{ "port": 9092,')
    const parse = thrown(() => serveConfig({}, { RINGLOG_CONFIG: broken }))
    expect(parse).toBeInstanceOf(InvalidConfigError)
    expect(parse.message.startsWith(`config file ${broken}: `)).toBe(true)

    const array = join(scratch, 'array.json')
    writeFileSync(array, '[1, 2]')
    expect(thrown(() => serveConfig({ config: array }, {})).message).toBe(`config file ${array} must hold a JSON object`)

    const missing = join(scratch, 'missing.json')
    expect(thrown(() => serveConfig({ config: missing }, {})).message).toMatch(new RegExp(`^config file ${missing}: ENOENT`))
  })

  it('precedence still holds: flag over environment over file, each checked', () => {
    const file = join(scratch, 'layers.json')
    writeFileSync(file, JSON.stringify({ numPartitions: 2, port: 1000 }))
    const config = serveConfig({ config: file, partitions: '4' }, { RINGLOG_NUM_PARTITIONS: '3', RINGLOG_PORT: '2000' })
    expect(config).toMatchObject({ numPartitions: 4, port: 2000 })
    // A bad value in a lower layer is reported even when a higher one overrides it: it is still a mistake in that source.
    expect(thrown(() => serveConfig({ partitions: '4' }, { RINGLOG_NUM_PARTITIONS: '-1' })).message).toMatch(/^RINGLOG_NUM_PARTITIONS/)
  })

  it('group session timeouts: min must not exceed max', () => {
    expect(thrown(() => serveConfig({ groupMinSessionTimeoutMs: '9000', groupMaxSessionTimeoutMs: '8000' }, {})).message)
      .toBe('--group-min-session-timeout-ms (9000) must not exceed --group-max-session-timeout-ms (8000)')
  })

  it('the embedded API gets the same checks, named by option key, as a RinglogError with Kafka INVALID_CONFIG', async () => {
    const error = thrown(() => resolveConfig({ numPartitions: MAX_PARTITIONS + 1 }))
    expect(error).toBeInstanceOf(RinglogError)
    expect((error as RinglogError).code).toBe(ErrorCode.INVALID_CONFIG)
    expect(error.message).toBe('numPartitions must be an integer from 1 to 10000, got 10001')
    expect(thrown(() => resolveConfig({ flush: { intervalMs: 0 } })).message).toMatch(/^flush must be/)

    const dataDir = join(scratch, 'embedded-never-created')
    await expect(open({ dataDir, port: 70000 })).rejects.toThrow('port must be an integer from 0 to 65535, got 70000')
    expect(existsSync(dataDir)).toBe(false)
  })

  it('every default passes its own checks', () => {
    expect(resolveConfig(DEFAULT_CONFIG)).toEqual(resolveConfig())
  })
})


/** Runs `ringlog serve ...` from sources; killed by PID if it does not exit by itself. */
function serve(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return runRinglog(['serve', '--host', '127.0.0.1', ...args], { env })
}

describe('config: ringlog serve refuses invalid settings before any side effect', () => {
  it('--port 70000 and --partitions -3 exit 1 naming the flag, and create no data dir', async () => {
    const portDir = join(scratch, 'port-data')
    const partitionsDir = join(scratch, 'partitions-data')
    const [port, partitions] = await Promise.all([
      serve(['--data-dir', portDir, '--port', '70000']),
      serve(['--data-dir', partitionsDir, '--port', '0', '--partitions', '-3']),
    ])
    expect(port.code).toBe(1)
    expect(port.stderr).toContain('--port must be an integer from 0 to 65535, got 70000')
    expect(existsSync(portDir)).toBe(false)
    expect(partitions.code).toBe(1)
    expect(partitions.stderr).toContain('--partitions must be an integer from 1 to 10000, got -3')
    expect(partitions.stdout).not.toContain('listening')
    expect(existsSync(partitionsDir)).toBe(false)
  })

  it('a bad JSON config file (RINGLOG_CONFIG) is reported with its path', async () => {
    const file = join(scratch, 'serve-broken.json')
    writeFileSync(file, '{"port": ')
    const dataDir = join(scratch, 'json-data')
    const result = await serve(['--data-dir', dataDir], { RINGLOG_CONFIG: file })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(`config file ${file}: `)
    expect(existsSync(dataDir)).toBe(false)
  })
})
