/**
 * List-then-watch over one etcd key prefix: reads every key at revision R, then watches from
 * R + 1, so no change between the read and the watch is missed (etcd's watch replays history
 * from a revision). The current map is handed to `onChange` after the initial read and after
 * every change. etcd3's watcher reconnects by itself after etcd restarts, resuming from the
 * last revision it saw.
 */
import type { Etcd3, IKeyValue, Watcher } from 'etcd3'

export interface Entry<T> {
  value: T
  /** etcd create revision of the key: changes when the key is deleted and created again. */
  createRevision: string
  modRevision: string
  lease: string
}

export type ChangeKind = 'initial' | 'put' | 'delete'

export interface PrefixWatchHandlers<K, T> {
  /** Map key for an etcd key; undefined skips the key (not one of ours). */
  keyOf(etcdKey: string): K | undefined
  /** Parses a value; throwing skips it and reports it through `onMalformed`. */
  parse(etcdKey: string, text: string): T
  onChange(entries: ReadonlyMap<K, Entry<T>>, kind: ChangeKind, key: K | undefined): void
  onMalformed?(error: unknown): void
  onError?(error: unknown): void
}

export class PrefixWatch<K, T> {
  private readonly entries = new Map<K, Entry<T>>()

  private constructor(private readonly watcher: Watcher) {}

  static async open<K, T>(etcd: Etcd3, prefix: string, handlers: PrefixWatchHandlers<K, T>): Promise<PrefixWatch<K, T>> {
    const initial = await etcd.getAll().prefix(prefix).exec()
    const startRevision = (BigInt(initial.header.revision) + 1n).toString()
    const watcher = await etcd.watch().prefix(prefix).startRevision(startRevision).create()
    const watch = new PrefixWatch<K, T>(watcher)
    const apply = (kv: IKeyValue): K | undefined => {
      const etcdKey = kv.key.toString('utf8')
      const key = handlers.keyOf(etcdKey)
      if (key === undefined) return undefined
      try {
        const value = handlers.parse(etcdKey, kv.value.toString('utf8'))
        watch.entries.set(key, { value, createRevision: kv.create_revision, modRevision: kv.mod_revision, lease: kv.lease })
      } catch (error) {
        watch.entries.delete(key)
        handlers.onMalformed?.(error)
      }
      return key
    }
    for (const kv of initial.kvs) apply(kv)
    watcher.on('put', (kv) => {
      const key = apply(kv)
      if (key !== undefined) handlers.onChange(watch.entries, 'put', key)
    })
    watcher.on('delete', (kv) => {
      const key = handlers.keyOf(kv.key.toString('utf8'))
      if (key === undefined) return
      watch.entries.delete(key)
      handlers.onChange(watch.entries, 'delete', key)
    })
    watcher.on('error', (error) => handlers.onError?.(error))
    handlers.onChange(watch.entries, 'initial', undefined)
    return watch
  }

  get current(): ReadonlyMap<K, Entry<T>> { return this.entries }

  async close(): Promise<void> {
    await this.watcher.cancel()
  }
}
