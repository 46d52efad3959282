/**
 * Simulated power loss on the StorageFs seam (after LazyFS): a kill -9 keeps the page cache,
 * so only this shows what an fsync really protected.
 *
 * Model (ext4-like, pessimistic where POSIX allows it):
 * - Every file and directory under `root` is an inode. A directory has live entries (what the
 *   running process sees) and durable entries (what a power loss leaves): creating, renaming or
 *   unlinking a name changes only the live entries; fsync/fdatasync of the directory makes its
 *   durable entries equal to its live ones. A directory itself survives only through the
 *   durable entry in its parent; `root` and what exists under it at construction are durable.
 * - A file's durable contents are its bytes at the moment an fsyncSync ran, or at the moment an
 *   fdatasync was called once that call completes (a crash in between keeps the older
 *   contents). Writes and truncations after that are lost; a file never synced is empty.
 * - Optionally (`tearLastWrite`) the last write before the crash, if no sync covered it and its
 *   file survives, lands partly: a prefix ending at a 512-byte sector boundary of the file
 *   (possibly none, possibly all of it), past a hole of zeros if it started beyond the durable end.
 * - Every mutating call counts as one op: open that creates or truncates, write, ftruncate,
 *   rename, unlink, mkdir, fsync, fdatasync call, fdatasync completion. When op number
 *   `crashAtOp` is about to run, the power fails: the durable state is written into
 *   `imageDir` (with node:fs) and every later call throws EIO (close still closes), every
 *   fdatasync still in flight completes with EIO, so nothing is acknowledged after the crash.
 * - No real fsync is issued (the model decides what survives): an fdatasync completes 0-3
 *   event-loop turns after its call, chosen by `randomInt`, so concurrent syncs complete in any
 *   order, and a run is the same for the same seed.
 */
import * as fs from 'node:fs'
import { join, relative, sep } from 'node:path'
import { nodeStorageFs, type StorageFs } from '../../src/storage/storage-fs.js'

export const SECTOR_BYTES = 512

interface FileInode { kind: 'file'; live: Buffer; durable: Buffer; syncedAtOp: number }
interface DirInode { kind: 'dir'; live: Map<string, Inode>; durable: Map<string, Inode> }
type Inode = FileInode | DirInode

interface LastWrite { inode: FileInode; position: number; bytes: Buffer; atOp: number }

export interface PowerLossOptions {
  /** The op at which power fails (1-based); Infinity never (count the ops of a run). */
  crashAtOp: number
  /** Where the durable state is written at the crash (must not exist yet). */
  imageDir: string
  /** Land a sector-aligned prefix of the last unsynced write. */
  tearLastWrite?: boolean
  /** Uniform integer in [0, bound): chooses the torn prefix. */
  randomInt?: (bound: number) => number
}

function crashError(): NodeJS.ErrnoException {
  return Object.assign(new Error('EIO: simulated power loss'), { code: 'EIO' })
}

export class PowerLossFs {
  readonly fs: StorageFs
  /** Ops run so far (the next op is number ops + 1). */
  ops = 0
  crashed = false
  private readonly rootInode: DirInode
  private readonly fds = new Map<number, Inode>()
  private lastWrite: LastWrite | undefined
  private crashAtOp: number

  constructor(private readonly root: string, private readonly options: PowerLossOptions) {
    this.crashAtOp = options.crashAtOp
    this.rootInode = this.adopt(root) as DirInode
    const real = nodeStorageFs
    this.fs = {
      openSync: (path, flags) => {
        this.alive()
        const existing = this.lookup(path)
        const creates = existing === undefined && /[wa]/.test(flags)
        const truncates = existing?.kind === 'file' && flags.startsWith('w')
        if (creates || truncates) this.op()
        const fd = real.openSync(path, flags)
        let inode = existing
        if (inode?.kind === 'file' && truncates) inode.live = Buffer.alloc(0)
        if (!inode && creates) {
          inode = { kind: 'file', live: Buffer.alloc(0), durable: Buffer.alloc(0), syncedAtOp: 0 }
          this.parentOf(path).live.set(baseName(path), inode)
        }
        if (inode) this.fds.set(fd, inode)
        return fd
      },
      closeSync: (fd) => {
        this.fds.delete(fd)
        real.closeSync(fd)
      },
      writeSync: (fd, buffer, offset, length, position) => {
        this.alive()
        this.op()
        const n = real.writeSync(fd, buffer, offset, length, position)
        const inode = this.fds.get(fd)
        if (inode?.kind === 'file') {
          const bytes = buffer.subarray(offset, offset + n)
          if (position + n > inode.live.length) inode.live = resized(inode.live, position + n)
          inode.live.set(bytes, position)
          this.lastWrite = { inode, position, bytes: Buffer.from(buffer.subarray(offset, offset + n)), atOp: this.ops }
        }
        return n
      },
      readSync: (fd, buffer, offset, length, position) => { this.alive(); return real.readSync(fd, buffer, offset, length, position) },
      ftruncateSync: (fd, length) => {
        this.alive()
        this.op()
        real.ftruncateSync(fd, length)
        const inode = this.fds.get(fd)
        if (inode?.kind === 'file') inode.live = resized(inode.live, length)
      },
      fstatSync: (fd) => { this.alive(); return real.fstatSync(fd) },
      statSync: (path) => { this.alive(); return real.statSync(path) },
      fdatasync: (fd, callback) => this.syncLater(fd, callback),
      // The async fsync (file or directory) follows the same rules as fdatasync here.
      fsync: (fd, callback) => this.syncLater(fd, callback),
      fsyncSync: (fd) => {
        this.alive()
        this.op()
        this.snapshot(fd)()
      },
      renameSync: (from, to) => {
        this.alive()
        this.op()
        real.renameSync(from, to)
        const inode = this.lookup(from)
        this.parentOf(from).live.delete(baseName(from))
        if (inode) this.parentOf(to).live.set(baseName(to), inode)
      },
      unlinkSync: (path) => {
        this.alive()
        this.op()
        real.unlinkSync(path)
        this.parentOf(path).live.delete(baseName(path))
      },
      readdirSync: (path) => { this.alive(); return real.readdirSync(path) },
      mkdirSync: (path) => {
        this.alive()
        const missing: string[] = []
        for (let p = path; this.lookup(p) === undefined && p !== this.root; p = parentPath(p)) missing.unshift(p)
        if (missing.length > 0) this.op()
        real.mkdirSync(path)
        for (const p of missing) this.parentOf(p).live.set(baseName(p), { kind: 'dir', live: new Map(), durable: new Map() })
      },
      existsSync: (path) => { this.alive(); return real.existsSync(path) },
      readFileSync: (path) => { this.alive(); return real.readFileSync(path) },
    }
  }

  private randomInt(bound: number): number {
    return this.options.randomInt ? this.options.randomInt(bound) : Math.floor(Math.random() * bound)
  }

  /** Moves the crash point (a test that crashes at a chosen step: ops + 1 is the next op). */
  crashAt(op: number): void { this.crashAtOp = op }

  /** Counts an op; at `crashAtOp` the power fails before it runs. */
  private op(): void {
    if (this.ops + 1 >= this.crashAtOp) this.crash()
    this.ops++
  }

  private alive(): void {
    if (this.crashed) throw crashError()
  }

  private crash(): never {
    this.crashed = true
    this.materialize()
    throw crashError()
  }

  /** Takes what a sync of `fd` would cover now; the returned function makes it durable. */
  /**
   * An asynchronous sync: the model, not the disk, decides what survives, so no real sync is
   * issued; its completion comes 0-3 event-loop turns later, so concurrent syncs finish in any
   * order, and it covers the bytes as they were when it was called.
   */
  private syncLater(fd: number, callback: (error: NodeJS.ErrnoException | null) => void): void {
    if (this.crashed) { queueMicrotask(() => callback(crashError())); return }
    try { this.op() } catch (error) { queueMicrotask(() => callback(error as NodeJS.ErrnoException)); return }
    const commit = this.snapshot(fd)
    afterTurns(this.randomInt(4), () => {
      if (this.crashed) { callback(crashError()); return }
      try { this.op() } catch (crash) { callback(crash as NodeJS.ErrnoException); return }
      commit()
      callback(null)
    })
  }

  private snapshot(fd: number): () => void {
    const inode = this.fds.get(fd)
    if (!inode) return () => undefined
    if (inode.kind === 'dir') {
      const entries = new Map(inode.live)
      return () => { inode.durable = entries }
    }
    const bytes = Buffer.from(inode.live)
    const atOp = this.ops
    return () => {
      if (atOp < inode.syncedAtOp) return
      inode.durable = bytes
      inode.syncedAtOp = atOp
    }
  }

  /** Writes the durable tree into imageDir. */
  private materialize(): void {
    const torn = this.tornWrite()
    const write = (dir: DirInode, path: string): void => {
      fs.mkdirSync(path)
      for (const [name, inode] of dir.durable) {
        const target = join(path, name)
        if (inode.kind === 'dir') write(inode, target)
        else fs.writeFileSync(target, inode === torn?.inode ? torn.contents : inode.durable)
      }
    }
    write(this.rootInode, this.options.imageDir)
  }

  /** The torn version of the last write, if it is unsynced and tearing is on. */
  private tornWrite(): { inode: FileInode; contents: Buffer } | undefined {
    const last = this.lastWrite
    if (!this.options.tearLastWrite || !last || last.inode.syncedAtOp >= last.atOp) return undefined
    const end = last.position + last.bytes.length
    const cuts = [last.position]
    for (let b = Math.ceil((last.position + 1) / SECTOR_BYTES) * SECTOR_BYTES; b < end; b += SECTOR_BYTES) cuts.push(b)
    cuts.push(end)
    const cut = cuts[this.randomInt(cuts.length)]
    const durable = last.inode.durable
    const contents = Buffer.alloc(Math.max(durable.length, cut))
    durable.copy(contents)
    last.bytes.copy(contents, last.position, 0, cut - last.position)
    return { inode: last.inode, contents }
  }

  /** Builds durable inodes for what already exists under `path`. */
  private adopt(path: string): Inode {
    if (!fs.statSync(path).isDirectory()) {
      const bytes = fs.readFileSync(path)
      return { kind: 'file', live: Buffer.from(bytes), durable: bytes, syncedAtOp: 0 }
    }
    const entries = new Map<string, Inode>()
    for (const name of fs.readdirSync(path)) entries.set(name, this.adopt(join(path, name)))
    return { kind: 'dir', live: entries, durable: new Map(entries) }
  }

  private lookup(path: string): Inode | undefined {
    const rel = relative(this.root, path)
    if (rel === '') return this.rootInode
    if (rel.startsWith('..')) throw new Error(`${path} is outside the simulated disk ${this.root}`)
    let inode: Inode | undefined = this.rootInode
    for (const part of rel.split(sep)) {
      if (inode?.kind !== 'dir') return undefined
      inode = inode.live.get(part)
    }
    return inode
  }

  private parentOf(path: string): DirInode {
    const parent = this.lookup(parentPath(path))
    if (parent?.kind !== 'dir') throw new Error(`no directory holds ${path}`)
    return parent
  }
}

function afterTurns(turns: number, run: () => void): void {
  if (turns === 0) setImmediate(run)
  else setImmediate(() => afterTurns(turns - 1, run))
}

/** `bytes` cut or zero-extended to `length`. */
function resized(bytes: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length)
  bytes.copy(out, 0, 0, Math.min(length, bytes.length))
  return out
}

function parentPath(path: string): string {
  const i = path.lastIndexOf(sep)
  return i <= 0 ? sep : path.slice(0, i)
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf(sep) + 1)
}
