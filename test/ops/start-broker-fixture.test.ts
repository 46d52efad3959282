/**
 * A user's project (test/fixtures/start-broker-project) that depends on ringlog by path and
 * starts it with startBroker() in vitest's globalSetup (ESM; also a 3-broker cluster) and in jest's
 * globalSetup/globalTeardown (CommonJS: require('ringlog')), each suite producing and
 * consuming with kafkajs. Both run here as child processes with the repo's own vitest and
 * jest, in a copy of the fixture outside the repo whose node_modules gets the links
 * `npm install` would make for its "file:" dependency and its dev dependencies (nothing is
 * downloaded; a link back into the repo inside the repo would make vitest find every test twice).
 */
import { execFile } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
const fixture = join(repoRoot, 'test/fixtures/start-broker-project')
let project = ''
const built = existsSync(join(repoRoot, 'dist/index.js'))
const run = promisify(execFile)

/** The fixture as a user's checkout: its files, "ringlog": "file:<this repo>", linked node_modules. */
function installFixture(): void {
  project = join(mkdtempSync(join(tmpdir(), 'ringlog-fixture-')), 'start-broker-project')
  cpSync(fixture, project, { recursive: true })
  const manifestPath = join(project, 'package.json')
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { dependencies: Record<string, string> }
  manifest.dependencies.ringlog = `file:${repoRoot}`
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2))
  const modules = join(project, 'node_modules')
  mkdirSync(modules)
  symlinkSync(repoRoot, join(modules, 'ringlog'), 'dir')
  for (const name of ['kafkajs', 'vitest', 'jest']) symlinkSync(realpathSync(join(repoRoot, 'node_modules', name)), join(modules, name), 'dir')
}

async function runSuite(args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, args, { cwd: project, timeout: 120_000, env: { ...process.env, CI: '1', NO_COLOR: '1', FORCE_COLOR: '0' } })
    return { code: 0, output: stdout + stderr }
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string }
    return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` }
  }
}

const hasEtcd = existsSync('/usr/bin/etcd')

describe.skipIf(!built)('startBroker() in a project depending on ringlog (run `npm run build` first; npm test does)', () => {
  // One vitest run for the fixture's two projects (a vitest start costs seconds of CPU): each
  // project's globalSetup starts its own broker(s), and each project's test must pass.
  let vitestRun: Promise<{ code: number; output: string }> | undefined
  const vitestProjects = (): Promise<{ code: number; output: string }> => {
    vitestRun ??= runSuite([join(repoRoot, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'vitest.config.mjs', '--reporter', 'verbose',
      ...(hasEtcd ? [] : ['--project', 'single'])])
    return vitestRun
  }
  beforeAll(installFixture)
  afterAll(() => { if (project) rmSync(join(project, '..'), { recursive: true, force: true }) })

  it('vitest globalSetup (ESM): kafkajs produce/consume passes', async () => {
    const { code, output } = await vitestProjects()
    expect(output).toMatch(/✓ \|single\| vitest\/produce-consume\.spec\.mjs/)
    expect(output).toMatch(hasEtcd ? /Tests\s+2 passed/ : /Tests\s+1 passed/)
    expect(code, output).toBe(0)
  }, 120_000)

  it('jest globalSetup/globalTeardown (CommonJS require): kafkajs produce/consume passes', async () => {
    const { code, output } = await runSuite([join(repoRoot, 'node_modules/jest/bin/jest.js'), '--config', 'jest.config.cjs', '--rootDir', '.', '--ci'])
    expect(output).toMatch(/Tests:\s+1 passed, 1 total/)
    expect(code, output).toBe(0)
  })

  it.skipIf(!hasEtcd)('vitest globalSetup with startBroker({ cluster: 3 }): kafkajs acks=all to an RF 3 topic passes', async () => {
    const { code, output } = await vitestProjects()
    expect(output).toMatch(/✓ \|cluster\| vitest-cluster\/replicated\.spec\.mjs/)
    expect(code, output).toBe(0)
  }, 120_000)
})
