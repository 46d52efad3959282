/**
 * `ringlog records delete TOPIC --partition P --before OFFSET`: DeleteRecords over the wire, sent
 * to the partition's leader (Metadata), like kafka-delete-records.sh. The partition's log start offset moves up to OFFSET (-1: the
 * high watermark); records below it are no longer read, listed or counted, and closed segments
 * wholly below it are deleted by the broker.
 */
import type { Command } from 'commander'
import { errorFromCode } from '../errors.js'
import { ErrorCode, errorCodeName } from '../protocol/error-codes.js'
import { ApiKey, type KafkaWireClient } from '../kafka-client/kafka-wire-client.js'
import { withWireClient, type ToolConnectOptions } from '../kafka-client/negotiated-client.js'
import { connectOptions, withBrokerLogin, type BrokerLoginOptions } from './broker-login.js'
import { NodeConnections } from '../kafka-client/node-connections.js'
import { loadPartitionLayout, sendToLeaders } from '../kafka-client/partition-leaders.js'

/** DeleteRecords' offset meaning "up to the high watermark". */
export const TO_HIGH_WATERMARK = -1
const LATEST_TIMESTAMP = -1

export class RecordsCommandError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'RecordsCommandError'
  }
}

/** The partition's high watermark, for an error message; null when the broker does not say. */
async function highWatermark(client: KafkaWireClient, topic: string, partition: number): Promise<number | null> {
  const response = await client.request(ApiKey.ListOffsets, client.version(ApiKey.ListOffsets, { min: 1 }), {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp: LATEST_TIMESTAMP }] }],
  })
  const found = response.topics.find((t) => t.name === topic)?.partitions.find((p) => p.partitionIndex === partition)
  return found && found.errorCode === ErrorCode.NONE ? found.offset : null
}

/**
 * Deletes the records of `topic`-`partition` below `before` on the partition's leader (found
 * through `client`'s broker, others reached with `connect`: the same login); resolves with the new log start offset.
 */
export async function deleteRecords(client: KafkaWireClient, topic: string, partition: number, before: number, connect: ToolConnectOptions = {}): Promise<number> {
  const layout = await loadPartitionLayout(client, [topic])
  const count = layout.partitionCounts.get(topic) ?? 0
  if (partition >= count) throw errorFromCode(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `cannot delete records of ${topic}-${partition}: UNKNOWN_TOPIC_OR_PARTITION (topic "${topic}" has ${count} partitions)`)
  const nodes = new NodeConnections(client, connect)
  try {
    const [start] = await sendToLeaders(nodes, layout, [{ topic, partition }], (leader) => deleteOnLeader(leader, topic, partition, before))
    return start
  } finally {
    await nodes.close()
  }
}

async function deleteOnLeader(leader: KafkaWireClient, topic: string, partition: number, before: number): Promise<number> {
  const response = await leader.request(ApiKey.DeleteRecords, leader.version(ApiKey.DeleteRecords), {
    topics: [{ name: topic, partitions: [{ partitionIndex: partition, offset: before }] }],
    timeoutMs: 30_000,
  })
  const result = response.topics.find((t) => t.name === topic)?.partitions.find((p) => p.partitionIndex === partition)
  if (!result) throw new RecordsCommandError(`DeleteRecords returned no result for ${topic}-${partition}`)
  if (result.errorCode === ErrorCode.NONE) return result.lowWatermark
  const what = `cannot delete records of ${topic}-${partition}: ${errorCodeName(result.errorCode)}`
  if (result.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
    const end = await highWatermark(leader, topic, partition).catch(() => null)
    throw errorFromCode(result.errorCode, `${what} (offset ${before} is past the high watermark${end === null ? '' : ` ${end}`})`)
  }
  throw errorFromCode(result.errorCode, what)
}

function integer(what: string, min: number): (value: string) => number {
  return (value) => {
    const n = Number(value)
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) throw new RecordsCommandError(`${what} must be an integer >= ${min}, got "${value}"`)
    return n
  }
}

interface DeleteOptions extends BrokerLoginOptions { partition: number; before: number }

export function register(program: Command): void {
  const records = program.command('records').description('manage the records of a running broker\'s partitions')
  withBrokerLogin(records.command('delete <topic>'))
    .description('delete the records of a partition below an offset (moves its log start offset)')
    .requiredOption('-p, --partition <n>', 'the partition', integer('--partition', 0))
    .requiredOption('--before <offset>', 'the new log start offset; -1: the high watermark (delete everything)', integer('--before', TO_HIGH_WATERMARK))
    .action(async (topic: string, options: DeleteOptions) => {
      const start = await withWireClient(options.bootstrap, (client) => deleteRecords(client, topic, options.partition, options.before, connectOptions(options, 'ringlog-records')), connectOptions(options, 'ringlog-records'))
      const below = options.before === TO_HIGH_WATERMARK ? 'the high watermark' : `offset ${options.before}`
      process.stdout.write(`deleted records of ${topic}-${options.partition} below ${below}: log start offset ${start}\n`)
    })
}
