/**
 * `ringlog cluster up` and `ringlog cluster status` as a user runs them, and DescribeCluster in
 * cluster mode: one `cluster up --brokers 3` process on three consecutive loopback ports.
 * DescribeCluster from every broker lists the three brokers and the same elected controller;
 * `cluster status` shows them alive, then (after one broker's SIGTERM) that broker down, the RF 3
 * topic's partitions under-replicated and the RF 1 partition it held offline; SIGINT to
 * `cluster up` stops every broker and etcd (their PIDs are gone) and it exits 0.
 * Needs `npm run build` (the CLI runs bin/ringlog.js) and /usr/bin/etcd.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClusterStatus } from '../../src/cluster/cluster-status.js'
import { ApiKey } from '../../src/kafka-client/kafka-wire-client.js'
import { withWireClient } from '../../src/kafka-client/negotiated-client.js'
import { RawClient } from '../broker/raw-client.js'

const BIN = fileURLToPath(new URL('../../bin/ringlog.js', import.meta.url))
const built = existsSync(fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url)))
const hasEtcd = existsSync('/usr/bin/etcd')
const BROKERS = 3
const DESCRIBE_CLUSTER = 60

interface DescribeClusterAnswer { errorCode: number; controllerId: number; brokers: { brokerId: number; host: string; port: number }[] }

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** A first port with BROKERS free ports from it (bounded tries over a high range). */
async function consecutiveFreePorts(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = 20_000 + Math.floor(Math.random() * 30_000)
    let ok = true
    for (let i = 0; i < BROKERS && ok; i++) ok = await bindable(first + i)
    if (ok) return first
  }
  throw new Error('no run of free loopback ports found')
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function status(dataDir: string): ClusterStatus {
  const run = spawnSync(process.execPath, [BIN, 'cluster', 'status', '--data-dir', dataDir, '--json'], { encoding: 'utf8', timeout: 15_000 })
  if (run.status !== 0) throw new Error(`cluster status exited ${run.status}: ${run.stderr}`)
  return JSON.parse(run.stdout) as ClusterStatus
}

/** `cluster status` until `check` holds, at most `timeoutMs` (each try is a real etcd read). */
async function statusUntil(dataDir: string, check: (s: ClusterStatus) => boolean, what: string, timeoutMs = 10_000): Promise<ClusterStatus> {
  const deadline = Date.now() + timeoutMs
  let last = status(dataDir)
  while (!check(last)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last status ${JSON.stringify(last)}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
    last = status(dataDir)
  }
  return last
}

describe.skipIf(!built || !hasEtcd)('ringlog cluster up / status', () => {
  let dir: string
  let up: ChildProcess
  let upExit: Promise<number | null>
  let stdout = ''
  let firstPort: number
  const pids = new Map<number, number>()

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ringlog-cluster-cli-'))
    firstPort = await consecutiveFreePorts()
    up = spawn(process.execPath, [BIN, 'cluster', 'up', '--brokers', String(BROKERS), '--data-dir', join(dir, 'cluster'), '--port', String(firstPort), '--flush', 'never'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    up.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    upExit = new Promise((resolve) => up.once('exit', (code) => resolve(code)))
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`cluster up printed no bootstrap line within 40 s:\n${stdout}\n${stderr}`)), 40_000)
      up.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString()
        if (/^bootstrap: .*$/m.test(stdout)) { clearTimeout(timer); resolve() }
      })
      void upExit.then((code) => { clearTimeout(timer); reject(new Error(`cluster up exited ${code}:\n${stdout}\n${stderr}`)) })
    })
    for (const m of stdout.matchAll(/broker (\d+) on [\d.]+:\d+ \(pid (\d+)/g)) pids.set(Number(m[1]), Number(m[2]))
  }, 60_000)

  afterAll(async () => {
    if (up && up.exitCode === null && up.signalCode === null) {
      up.kill('SIGKILL')
      await upExit
    }
    for (const pid of pids.values()) if (alive(pid)) process.kill(pid, 'SIGKILL')
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('prints the bootstrap list of consecutive ports; DescribeCluster on every broker lists all three and the controller', async () => {
    const bootstrap = /^bootstrap: (.*)$/m.exec(stdout)![1].split(',')
    expect(bootstrap).toEqual([0, 1, 2].map((i) => `127.0.0.1:${firstPort + i}`))
    expect([...pids.keys()]).toEqual([1, 2, 3])
    // The controller election can still be settling right after start: ask until all agree (bounded).
    const deadline = Date.now() + 10_000
    for (;;) {
      const answers = await Promise.all(bootstrap.map(async (address) => {
        const client = await RawClient.connect(Number(address.split(':')[1]))
        try {
          return await client.request<DescribeClusterAnswer>(DESCRIBE_CLUSTER, 1, { includeClusterAuthorizedOperations: false, endpointType: 1 })
        } finally {
          client.close()
        }
      }))
      const controllers = new Set(answers.map((a) => a.controllerId))
      const agreed = controllers.size === 1 && [1, 2, 3].includes(answers[0].controllerId)
      if (agreed || Date.now() > deadline) {
        expect(agreed).toBe(true)
        for (const a of answers) {
          expect(a.errorCode).toBe(0)
          expect(a.brokers.map((b) => [b.brokerId, b.host, b.port])).toEqual([1, 2, 3].map((id) => [id, '127.0.0.1', firstPort + id - 1]))
        }
        break
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }, 20_000)

  it('cluster status: all alive, then a stopped broker is down, its RF 3 partitions under-replicated and its RF 1 partition offline', async () => {
    const first = await statusUntil(join(dir, 'cluster'), (s) => s.controller > 0, 'a controller')
    expect(first.brokers).toEqual([1, 2, 3].map((id) => ({ id, address: `127.0.0.1:${firstPort + id - 1}`, alive: true, listeners: [`PLAINTEXT://127.0.0.1:${firstPort + id - 1}`] })))
    expect(first.underReplicated).toEqual([])
    expect(first.offline).toEqual([])

    const kafka = new Kafka({ clientId: 'cluster-cli-test', brokers: [`127.0.0.1:${firstPort}`], logLevel: logLevel.NOTHING })
    const admin = kafka.admin()
    await admin.connect()
    try {
      await admin.createTopics({ topics: [{ topic: 'rf3', numPartitions: 2, replicationFactor: 3 }], waitForLeaders: true })
      await admin.createTopics({ topics: [{ topic: 'rf1', numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true })
    } finally {
      await admin.disconnect()
    }
    const created = await statusUntil(join(dir, 'cluster'), (s) => s.partitions === 5 && s.underReplicated.length === 0 && s.offline.length === 0, 'the topics in sync')
    expect(created.topics).toBe(2)

    // RF 1 partitions are spread over the three brokers: broker 3 holds at least one.
    const heldBy3 = (await readPlacement(firstPort)).filter((p) => p.replicas.length === 1 && p.replicas[0] === 3).map((p) => `${p.topic}-${p.partition}`)
    expect(heldBy3.length).toBeGreaterThan(0)
    // topics describe through one broker shows every partition's offsets, asked of each partition's own leader.
    const described = spawnSync(process.execPath, [BIN, 'topics', 'describe', 'rf1', '--json', '-b', `127.0.0.1:${firstPort}`], { encoding: 'utf8', timeout: 15_000 })
    expect(described.stderr).toBe('')
    const rf1 = JSON.parse(described.stdout) as { partitions: { leader: number; logStartOffset: number | null; logEndOffset: number | null; error: string | null }[] }
    expect(new Set(rf1.partitions.map((p) => p.leader)).size).toBeGreaterThan(1)
    for (const p of rf1.partitions) expect(p).toMatchObject({ logStartOffset: 0, logEndOffset: 0, error: null })
    // produce through one broker sends each partition's batch to that partition's leader.
    for (const [partition] of rf1.partitions.entries()) {
      const produced = spawnSync(process.execPath, [BIN, 'produce', 'rf1', '--partition', String(partition), '-b', `127.0.0.1:${firstPort}`], { encoding: 'utf8', input: `p${partition}\n`, timeout: 15_000 })
      expect(produced.stderr).toBe('')
      expect(produced.stdout).toContain('produced 1 record')
    }
    const afterProduce = JSON.parse(spawnSync(process.execPath, [BIN, 'topics', 'describe', 'rf1', '--json', '-b', `127.0.0.1:${firstPort}`], { encoding: 'utf8', timeout: 15_000 }).stdout) as typeof rf1
    for (const p of afterProduce.partitions) expect(p).toMatchObject({ logEndOffset: 1, error: null })
    process.kill(pids.get(3)!, 'SIGTERM')
    const after = await statusUntil(join(dir, 'cluster'), (s) => !s.brokers.find((b) => b.id === 3)!.alive && s.underReplicated.length === 2 && s.offline.length === heldBy3.length, 'broker 3 down', 20_000)
    expect(after.brokers.find((b) => b.id === 3)).toEqual({ id: 3, address: null, alive: false, listeners: [] })
    expect(after.underReplicated.map((p) => p.topic)).toEqual(['rf3', 'rf3'])
    for (const p of after.underReplicated) expect([...p.isr].sort()).toEqual([1, 2])
    expect(after.offline.map((p) => `${p.topic}-${p.partition}`).sort()).toEqual(heldBy3.sort())

    const text = spawnSync(process.execPath, [BIN, 'cluster', 'status', '--data-dir', join(dir, 'cluster')], { encoding: 'utf8', timeout: 15_000 }).stdout
    expect(text).toMatch(/^3\s+-\s+no\s+-$/m)
    expect(text).toContain('under-replicated partitions: 2')
    expect(text).toContain(`offline partitions: ${heldBy3.length}`)
  }, 45_000)

  it('SIGINT stops every broker and etcd, and cluster up exits 0', async () => {
    up.kill('SIGINT')
    let timer: NodeJS.Timeout | undefined
    const code = await Promise.race([upExit, new Promise<string>((resolve) => { timer = setTimeout(() => resolve('timeout'), 30_000) })])
    clearTimeout(timer)
    expect(code).toBe(0)
    for (const pid of pids.values()) expect(alive(pid)).toBe(false)
    const failed = spawnSync(process.execPath, [BIN, 'cluster', 'status', '--data-dir', join(dir, 'cluster')], { encoding: 'utf8', timeout: 30_000 })
    expect(failed.status).toBe(1)
    expect(failed.stderr).toMatch(/^ringlog: cannot read cluster "dev" from etcd/)
  }, 60_000)
})

/** Replica lists of every partition, from Metadata on one broker. */
async function readPlacement(port: number): Promise<{ topic: string; partition: number; replicas: number[] }[]> {
  return withWireClient(`127.0.0.1:${port}`, async (client) => {
    const response = await client.request(ApiKey.Metadata, 9, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false })
    return response.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name ?? '', partition: p.partitionIndex, replicas: p.replicaNodes })))
  })
}
