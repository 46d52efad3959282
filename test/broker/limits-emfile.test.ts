/**
 * The open-files limit (issue 18 item 5): a real `ringlog serve` under `ulimit -n 256`, sent
 * 400 connections. Connections are capped below the limit (256 less a reserve of 64 for
 * storage): those past it are closed at accept, logged once per interval, while the broker
 * keeps serving the connections it has, still creates a topic (storage has descriptors left),
 * and accepts again once connections close.
 * The child is started through `sh -c 'ulimit -n ...; exec node ...'` and stopped by its PID.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { apiVersions, closed, createTopicOver, openSocket } from './limits-helpers.js'
import { eventually } from './test-broker.js'
import { assertBuilt, REPO } from '../cli/ringlog-process.js'

const OPEN_FILES = 256
const ATTEMPTS = 400

describe('accept at the open-files limit', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ringlog-emfile-'))
  const sockets: Socket[] = []
  let child: ChildProcess | undefined
  let stderr = ''

  afterAll(() => {
    for (const s of sockets) s.destroy()
    if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('caps connections below the limit, logs refusals once, keeps serving and creating topics, and recovers', async () => {
    assertBuilt()
    const script = `ulimit -n ${OPEN_FILES} && exec "$0" "$@"`
    child = spawn('/bin/sh', ['-c', script, process.execPath, join(REPO, 'bin', 'ringlog.js'), 'serve', '--host', '127.0.0.1', '--port', '0',
      '--data-dir', dataDir, '--max-workers', '1', '--flush', 'never'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    child.stdout!.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
    const port = await eventually(async () => {
      const m = /listening on [\d.]+:(\d+)/.exec(stdout)
      return m ? Number(m[1]) : undefined
    }, 600, 50)

    const first = await openSocket(port)
    first.on('error', () => {})
    sockets.push(first)
    expect((await apiVersions(first, 1)).readInt32BE(4)).toBe(1)

    let refused = 0
    const admitted: Socket[] = []
    for (let i = 0; i < ATTEMPTS; i++) {
      const s = await openSocket(port).catch(() => undefined)
      if (!s) { refused++; continue }
      s.on('error', () => {})
      sockets.push(s)
      admitted.push(s)
    }
    await eventually(async () => (/the open-files limit \(256\) leaves room for 192 connections/.test(stderr) ? true : undefined), 600, 50)
    // The broker closes what it cannot accept; count those closes (bounded wait for them to land).
    const alive = async (): Promise<number> => {
      const answers = await Promise.all(admitted.filter((s) => !s.destroyed).map((s, i) => apiVersions(s, 1000 + i).then(() => 1, () => 0)))
      return answers.reduce<number>((a, b) => a + b, 0)
    }
    const served = await alive()
    // 192 in all, the first connection included.
    expect(served).toBe(191)
    // Storage still has descriptors: a topic with 8 partitions is created while connections are full.
    const created = await createTopicOver(first, 'after-flood', 8)
    expect(created).toBe(0)
    // The connection from before the flood is still served.
    expect((await apiVersions(first, 2)).readInt32BE(4)).toBe(2)
    // Logged once per interval, not once per refused connection.
    expect(stderr.match(/refusing a connection/g)!.length).toBeLessThanOrEqual(3)
    expect(stderr).toMatch(/the open-files limit \(256\) leaves room for 192 client connections, fewer than max.connections/)

    // Descriptors freed: new connections are accepted again.
    for (const s of admitted) s.destroy()
    await Promise.all(admitted.map(closed))
    const again = await eventually(async () => {
      const s = await openSocket(port).catch(() => undefined)
      if (!s) return undefined
      s.on('error', () => {})
      sockets.push(s)
      return apiVersions(s, 7).then((frame) => frame, () => undefined)
    }, 200, 50)
    expect(again.readInt32BE(4)).toBe(7)
    console.log(`open-files limit: ${ATTEMPTS} attempts under ulimit -n ${OPEN_FILES}: ${served} served, ${refused} refused at connect, the rest closed by the broker`)

    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)))
    process.kill(child.pid!, 'SIGTERM')
    expect(await exited).toBe(0)
  })
})
