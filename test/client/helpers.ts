import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach } from 'vitest'
import { open, type OpenOptions, type Ringlog } from '../../src/index.js'

/** Group settings that make joins and session expiry quick enough for tests. */
export const FAST_GROUPS = { groupInitialRebalanceDelayMs: 50, groupMinSessionTimeoutMs: 200 } as const
export const FAST_CONSUMER = { sessionTimeout: 1500, heartbeatInterval: 50, maxWaitTimeInMs: 200 } as const

export function tempDataDir(prefix = 'ringlog-client-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
}

export async function openLog(dataDir: string, options: Partial<OpenOptions> = {}): Promise<Ringlog> {
  return open({ dataDir, flush: 'never', maxWorkers: 2, ...FAST_GROUPS, ...options })
}

export interface LogFixture {
  /** The log of the test that is running; a new one for every test. */
  readonly log: Ringlog
}

/**
 * Gives every test of the calling describe block its own log in a fresh temp dir, with `topic`
 * already created, and closes and removes it after the test (registers beforeEach/afterEach).
 */
export function logPerTest(topic: string, numPartitions: number): LogFixture {
  let dir: string | undefined
  let log: Ringlog | undefined
  beforeEach(async () => {
    dir = tempDataDir()
    log = await openLog(dir)
    await log.admin().createTopics({ topics: [{ topic, numPartitions }] })
  })
  afterEach(async () => {
    await log?.close()
    if (dir) removeDir(dir)
    log = undefined
    dir = undefined
  })
  return {
    get log(): Ringlog {
      if (!log) throw new Error('logPerTest: the log exists only while a test runs')
      return log
    },
  }
}

/** Polls `condition` every 10 ms until it holds; fails after `timeoutMs` with `what`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
