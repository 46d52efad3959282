/**
 * The power-loss model itself (power-loss-fs.ts): what survives a crash point, one rule at a time,
 * and mkdirDurable, which the log uses for its partition directory.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { mkdirDurable } from '../../src/storage/durable-dirs.js'
import { PowerLossFs, SECTOR_BYTES } from './power-loss-fs.js'

const roots: string[] = []
afterEach(() => { for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true }) })

function disk(tear = false, pick = 0): { root: string; image: string; sim: PowerLossFs } {
  const base = mkdtempSync(join(tmpdir(), 'ringlog-plfs-'))
  roots.push(base)
  const root = join(base, 'disk')
  mkdirDurable(new PowerLossFs(base, { crashAtOp: Number.POSITIVE_INFINITY, imageDir: join(base, 'unused') }).fs, root)
  const image = join(base, 'image')
  return { root, image, sim: new PowerLossFs(root, { crashAtOp: Number.POSITIVE_INFINITY, imageDir: image, tearLastWrite: tear, randomInt: () => pick }) }
}

/** Crashes `sim` at its next op (a directory fsync of root is the op used). */
function crashNow(sim: PowerLossFs, root: string): void {
  sim.crashAt(sim.ops + 1)
  const fd = sim.fs.openSync(root, 'r')
  expect(() => sim.fs.fsyncSync(fd)).toThrow(/power loss/)
  expect(sim.crashed).toBe(true)
}

function write(sim: PowerLossFs, fd: number, text: string, position: number): void {
  const bytes = Buffer.from(text)
  sim.fs.writeSync(fd, bytes, 0, bytes.length, position)
}

describe('power-loss fs model', () => {
  it('keeps a file only once its directory is fsynced, and only the contents an fsync covered', () => {
    const { root, image, sim } = disk()
    const fd = sim.fs.openSync(join(root, 'a'), 'w+')
    write(sim, fd, 'synced', 0)
    sim.fs.fsyncSync(fd)
    write(sim, fd, '-lost', 6)
    const other = sim.fs.openSync(join(root, 'b'), 'w+')
    write(sim, other, 'no dir fsync', 0)
    sim.fs.fsyncSync(other)
    crashNow(sim, root)
    // Neither name was made durable: the directory was never fsynced after they were created.
    expect(existsSync(join(image, 'a'))).toBe(false)
    expect(existsSync(join(image, 'b'))).toBe(false)
  })

  it('after a directory fsync keeps the name, with the synced contents only', () => {
    const { root, image, sim } = disk()
    const fd = sim.fs.openSync(join(root, 'a'), 'w+')
    write(sim, fd, 'synced', 0)
    sim.fs.fsyncSync(fd)
    const dirFd = sim.fs.openSync(root, 'r')
    sim.fs.fsyncSync(dirFd)
    write(sim, fd, '-lost', 6)
    crashNow(sim, root)
    expect(readFileSync(join(image, 'a'), 'utf8')).toBe('synced')
  })

  it('undoes a rename or an unlink the directory fsync did not cover', () => {
    const { root, image, sim } = disk()
    const fd = sim.fs.openSync(join(root, 'old'), 'w+')
    write(sim, fd, 'x', 0)
    sim.fs.fsyncSync(fd)
    const gone = sim.fs.openSync(join(root, 'gone'), 'w+')
    sim.fs.fsyncSync(gone)
    sim.fs.fsyncSync(sim.fs.openSync(root, 'r'))
    sim.fs.renameSync(join(root, 'old'), join(root, 'new'))
    sim.fs.unlinkSync(join(root, 'gone'))
    crashNow(sim, root)
    expect(readFileSync(join(image, 'old'), 'utf8')).toBe('x')
    expect(existsSync(join(image, 'new'))).toBe(false)
    expect(existsSync(join(image, 'gone'))).toBe(true)
  })

  it('counts an fdatasync only once it completes', async () => {
    const { root, image, sim } = disk()
    const fd = sim.fs.openSync(join(root, 'a'), 'w+')
    sim.fs.fsyncSync(sim.fs.openSync(root, 'r'))
    write(sim, fd, 'first', 0)
    await new Promise<void>((resolve, reject) => sim.fs.fdatasync(fd, (e) => (e ? reject(e) : resolve())))
    write(sim, fd, 'second', 0)
    const inFlight = new Promise<NodeJS.ErrnoException | null>((resolve) => sim.fs.fdatasync(fd, resolve))
    crashNow(sim, root)
    expect((await inFlight)?.code).toBe('EIO')
    expect(readFileSync(join(image, 'a'), 'utf8')).toBe('first')
  })

  it('tears the last unsynced write at a sector boundary', () => {
    const { root, image, sim } = disk(true, 1)
    const fd = sim.fs.openSync(join(root, 'a'), 'w+')
    sim.fs.fsyncSync(fd)
    sim.fs.fsyncSync(sim.fs.openSync(root, 'r'))
    const bytes = Buffer.alloc(3 * SECTOR_BYTES, 7)
    sim.fs.writeSync(fd, bytes, 0, bytes.length, 100)
    crashNow(sim, root)
    // Cut 1 of [100, 512, 1024, 1536, 1636]: a hole of zeros, then the write up to the first sector end.
    const torn = readFileSync(join(image, 'a'))
    expect(torn.length).toBe(SECTOR_BYTES)
    expect(torn.subarray(0, 100).every((b) => b === 0)).toBe(true)
    expect(torn.subarray(100).every((b) => b === 7)).toBe(true)
  })

  it('mkdirDurable fsyncs the parent of every directory it creates; a plain mkdir is lost', () => {
    const { root, image, sim } = disk()
    mkdirDurable(sim.fs, join(root, 'x', 'y'))
    sim.fs.mkdirSync(join(root, 'plain'))
    crashNow(sim, root)
    expect(existsSync(join(image, 'x', 'y'))).toBe(true)
    expect(existsSync(join(image, 'plain'))).toBe(false)
  })
})
