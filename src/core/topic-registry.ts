/**
 * Topic metadata: names, topic ids, partition counts and per-topic configs, persisted as a
 * msgpackr snapshot in `<data-dir>/meta/topics.msgpack` (replaced atomically on every change;
 * topic changes are rare, so a whole snapshot is simpler than a log).
 */
import { existsSync, readFileSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { pack, unpack } from '../msgpack.js'
import { InvalidPartitionsError, InvalidTopicError, TopicAlreadyExistsError, UnknownTopicOrPartitionError } from '../errors.js'
import { writeFileAtomicSync } from '../storage/atomic-file.js'
import { mkdirDurable } from '../storage/durable-dirs.js'
import { TOPICS_FILE } from '../storage/file-names.js'
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

export class TopicRegistry {
  private readonly topics = new Map<string, TopicInfo>()
  private readonly file: string

  private constructor(metaDir: string) {
    this.file = join(metaDir, TOPICS_FILE)
  }

  static open(metaDir: string): TopicRegistry {
    mkdirDurable(nodeStorageFs, metaDir)
    const registry = new TopicRegistry(metaDir)
    if (existsSync(registry.file)) {
      const saved = unpack(readFileSync(registry.file)) as TopicInfo[]
      for (const t of saved) registry.topics.set(t.name, t)
    }
    return registry
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
    if (this.topics.size > 0 || existsSync(this.file)) writeFileAtomicSync(this.file, pack(this.list()))
  }
}

