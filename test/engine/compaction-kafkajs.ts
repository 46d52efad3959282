/** kafkajs helpers for the compaction tests: a quiet client, and reading a partition whole from offset 0. */
import { Kafka, logLevel } from 'kafkajs'

export interface ReadRecord { offset: number; key: string; value: string | null }

export function quietKafka(bootstrap: string): Kafka {
  return new Kafka({ clientId: 'compaction-test', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 50, maxRetryTime: 500 } })
}

/** Every record of partition 0 of `topic`, from offset 0 to the high watermark, read by a kafkajs consumer (bounded by `timeoutMs`). */
export async function readFromStart(kafka: Kafka, topic: string, groupId: string, timeoutMs = 20_000): Promise<ReadRecord[]> {
  const admin = kafka.admin()
  await admin.connect()
  const offsets = await admin.fetchTopicOffsets(topic)
  await admin.disconnect()
  const high = Number(offsets.find((o) => o.partition === 0)?.high ?? 0)
  const records: ReadRecord[] = []
  if (high === 0) return records
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 })
  await consumer.connect()
  try {
    await consumer.subscribe({ topic, fromBeginning: true })
    let done: () => void = () => undefined
    const finished = new Promise<void>((resolve) => { done = resolve })
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ message }) => {
        const offset = Number(message.offset)
        records.push({ offset, key: message.key?.toString() ?? '<null>', value: message.value === null ? null : message.value.toString() })
        if (offset >= high - 1) done()
      },
    })
    let timer: NodeJS.Timeout | undefined
    await Promise.race([finished, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`read of ${topic} did not reach ${high}: ${records.length} records`)), timeoutMs) })])
    clearTimeout(timer)
  } finally {
    await consumer.disconnect()
  }
  return records
}
