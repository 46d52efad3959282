/**
 * Topic metadata: names, topic ids, partition counts and per-topic configs, persisted as a
 * msgpackr snapshot in `<data-dir>/meta/topics.msgpack` (replaced atomically on every change;
 * topic changes are rare, so a whole snapshot is simpler than a log). The snapshot sits in a
 * CRC-32C envelope (storage/checksummed-file.ts); a damaged one is renamed aside and the
 * registry rebuilt from the `<topic>-<p>` partition directories, which give every topic's
 * name and partition count (its configs and topic id are lost, and the warning says so).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import { dirname, join } from 'node:path'
import { pack, unpack } from '../msgpack.js'
import { InvalidPartitionsError, InvalidTopicError, TopicAlreadyExistsError, UnknownTopicOrPartitionError } from '../errors.js'
import { hasEnvelope, openPayload, writeChecksummedFileSync } from '../storage/checksummed-file.js'
import { DamagedFileError, quarantineFile } from '../storage/damaged-file.js'
import { mkdirDurable } from '../storage/durable-dirs.js'
import { META_DIR, TOPICS_FILE } from '../storage/file-names.js'
import { nodeStorageFs } from '../storage/storage-fs.js'
import { MAX_PARTITIONS } from '../config.js'

export interface TopicInfo {
  name: string
  /** UUID string (Kafka topic ids are UUIDs). */
  topicId: string
  partitions: number
  configs: Record<string, string>
  createdAtMs: number
}

const LEGAL_TOPIC = /^[a-zA-Z0-9._-]+$/
export const MAX_TOPIC_NAME_LENGTH = 249
export { MAX_PARTITIONS }

// Defined in the error table; re-exported for the importers of this module.
export { InvalidPartitionsError, InvalidTopicError }

/** Kafka's topic name rules: 1-249 chars of [a-zA-Z0-9._-], not "." or "..". */
export function validateTopicName(name: string): void {
  if (name.length === 0 || name.length > MAX_TOPIC_NAME_LENGTH) throw new InvalidTopicError(`topic name must be 1-${MAX_TOPIC_NAME_LENGTH} characters`)
  if (name === '.' || name === '..') throw new InvalidTopicError(`topic name cannot be "${name}"`)
  if (!LEGAL_TOPIC.test(name)) throw new InvalidTopicError(`topic name "${name}" has characters other than ASCII letters, digits, '.', '_' and '-'`)
}

/** Version 1: the CRC-32C envelope around the msgpack list (version 0 was the bare list). */
const REGISTRY_VERSION = 1

/** A partition directory's name: the topic (which may itself hold '-') and the partition number. */
const PARTITION_DIR = /^(.+)-(0|[1-9]\d{0,4})$/

/** The saved list, checked entry by entry; DamagedFileError if any entry is not a TopicInfo. */
function parseTopicList(path: string, payload: Buffer): TopicInfo[] {
  let saved: unknown
  try {
    saved = unpack(payload)
  } catch (error) {
    throw new DamagedFileError(path, `not msgpack (${error instanceof Error ? error.message : String(error)})`)
  }
  if (!Array.isArray(saved)) throw new DamagedFileError(path, 'not a list of topics')
  const names = new Set<string>()
  for (const t of saved as Partial<TopicInfo>[]) {
    const ok = typeof t === 'object' && t !== null && typeof t.name === 'string' && typeof t.topicId === 'string'
      && Number.isInteger(t.partitions) && (t.partitions as number) >= 1 && (t.partitions as number) <= MAX_PARTITIONS
      && typeof t.createdAtMs === 'number' && typeof t.configs === 'object' && t.configs !== null
      && Object.values(t.configs).every((v) => typeof v === 'string')
    if (!ok) throw new DamagedFileError(path, 'an entry is not a well-formed topic')
    try {
      validateTopicName(t.name as string)
    } catch {
      throw new DamagedFileError(path, `an entry names an illegal topic ${JSON.stringify(t.name)}`)
    }
    if (names.has(t.name as string)) throw new DamagedFileError(path, `topic ${JSON.stringify(t.name)} listed twice`)
    names.add(t.name as string)
  }
  return saved as TopicInfo[]
}

/**
 * Topics as the partition directories in `dataDir` show them: names and partition counts
 * (highest partition + 1); configs and topic ids are not on disk, so they start empty and new.
 */
export function topicsFromPartitionDirs(dataDir: string): TopicInfo[] {
  const counts = new Map<string, number>()
  for (const entry of readdirSync(dataDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === META_DIR) continue
    const match = PARTITION_DIR.exec(entry.name)
    if (!match) continue
    const [, name, partition] = match
    try {
      validateTopicName(name)
    } catch {
      continue
    }
    const p = Number(partition)
    if (p >= MAX_PARTITIONS) continue
    counts.set(name, Math.max(counts.get(name) ?? 0, p + 1))
  }
  const now = Date.now()
  return [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, partitions]) => ({ name, topicId: randomUUID(), partitions, configs: {}, createdAtMs: now }))
}

export class TopicRegistry {
  private readonly topics = new Map<string, TopicInfo>()
  private readonly file: string

  private constructor(metaDir: string) {
    this.file = join(metaDir, TOPICS_FILE)
  }

  /**
   * Opens the registry in `metaDir`; a damaged file is quarantined and the registry rebuilt
   * from the partition directories in `dataDir` (by default the directory holding `metaDir`).
   */
  static open(metaDir: string, dataDir: string = dirname(metaDir)): TopicRegistry {
    mkdirDurable(nodeStorageFs, metaDir)
    const registry = new TopicRegistry(metaDir)
    if (!existsSync(registry.file)) return registry
    const data = readFileSync(registry.file)
    let saved: TopicInfo[]
    try {
      saved = registry.parse(data)
    } catch (error) {
      if (!(error instanceof DamagedFileError)) throw error
      saved = topicsFromPartitionDirs(dataDir)
      const names = saved.map((t) => `${t.name} (${t.partitions})`).join(', ') || 'none'
      quarantineFile(registry.file, error.reason, `registry rebuilt from the partition directories: ${names}; their config overrides and topic ids are lost (set configs again with AlterConfigs)`)
      for (const t of saved) registry.topics.set(t.name, t)
      registry.save()
      return registry
    }
    for (const t of saved) registry.topics.set(t.name, t)
    return registry
  }

  /** A sealed file, or a version-0 bare msgpack list from before the envelope (rewritten sealed on the next change). */
  private parse(data: Buffer): TopicInfo[] {
    if (hasEnvelope(data)) return parseTopicList(this.file, openPayload(this.file, data, [REGISTRY_VERSION]).payload)
    return parseTopicList(this.file, data)
  }

  list(): TopicInfo[] {
    return [...this.topics.values()]
  }

  get(name: string): TopicInfo | undefined {
    return this.topics.get(name)
  }

  require(name: string): TopicInfo {
    const topic = this.topics.get(name)
    if (!topic) throw new UnknownTopicOrPartitionError(`unknown topic "${name}"`)
    return topic
  }

  byId(topicId: string): TopicInfo | undefined {
    for (const t of this.topics.values()) if (t.topicId === topicId) return t
    return undefined
  }

  /** Records a new topic (the caller creates its partitions). */
  create(name: string, partitions: number, configs: Record<string, string> = {}): TopicInfo {
    validateTopicName(name)
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
      throw new InvalidPartitionsError(`partition count must be 1-${MAX_PARTITIONS}, got ${partitions}`)
    }
    if (this.topics.has(name)) throw new TopicAlreadyExistsError(`topic "${name}" already exists`)
    const topic: TopicInfo = { name, topicId: randomUUID(), partitions, configs: { ...configs }, createdAtMs: Date.now() }
    this.topics.set(name, topic)
    this.save()
    return topic
  }

  /** Replaces a topic's config overrides (AlterConfigs); the caller validated them. */
  setConfigs(name: string, configs: Record<string, string>): TopicInfo {
    const topic = { ...this.require(name), configs: { ...configs } }
    this.topics.set(name, topic)
    this.save()
    return topic
  }

  /** Raises a topic's partition count (CreatePartitions); the caller opened the new partitions. */
  setPartitions(name: string, partitions: number): TopicInfo {
    const current = this.require(name)
    if (!Number.isInteger(partitions) || partitions <= current.partitions || partitions > MAX_PARTITIONS) {
      throw new InvalidPartitionsError(`partition count must grow from ${current.partitions} and stay within ${MAX_PARTITIONS}, got ${partitions}`)
    }
    const topic = { ...current, partitions }
    this.topics.set(name, topic)
    this.save()
    return topic
  }

  delete(name: string): TopicInfo {
    const topic = this.require(name)
    this.topics.delete(name)
    this.save()
    return topic
  }

  private save(): void {
    if (this.topics.size > 0 || existsSync(this.file)) writeChecksummedFileSync(this.file, REGISTRY_VERSION, pack(this.list()))
  }
}

