import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { removeDir, tempDataDir } from './helpers.js'

const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
const built = existsSync(new URL('../../dist/index.js', import.meta.url))

const entryScript = fileURLToPath(new URL('./fixtures/import-entry.mjs', import.meta.url))

describe("import { open } from 'ringlog'", () => {
  let dir: string | undefined
  afterEach(() => { if (dir) removeDir(dir) })

  it.skipIf(!built)('works from the compiled package (run `npm run build` first; npm test does)', async () => {
    dir = tempDataDir('ringlog-entry-')
    const { stdout } = await promisify(execFile)(process.execPath, [entryScript, dir], { cwd: repoRoot, timeout: 60_000 })
    const result = JSON.parse(stdout.trim().split('\n').pop()!)
    expect(result).toMatchObject({ value: 'hello', header: 'v', offset: '0', lz4: 3, errors: true })
    expect(result.meta).toEqual([{ topicName: 'events', partition: expect.any(Number), errorCode: 0, baseOffset: '0', logAppendTime: '-1', logStartOffset: '0' }])
  })
})
