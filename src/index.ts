/**
 * ringlog's public entry: `import { open } from 'ringlog'` gives the embedded log (kafkajs-shaped
 * admin, producer and consumer, in-process). Typed errors carry Kafka error codes in `.code`.
 */
export { open, Ringlog, type OpenOptions } from './client/ringlog.js'
export type { Admin } from './client/admin.js'
export type { Producer } from './client/producer.js'
export type { Consumer } from './client/consumer.js'
export type { Transaction, SendOffsetsRequest } from './client/transaction.js'
export type {
  Acks, Batch, CompressionOption, ConsumerCrashEvent, ConsumerEvents, ConsumerOptions, CreateTopicsOptions, EachBatchPayload,
  EachMessagePayload, GroupDescription, GroupJoinEvent, GroupMemberDescription, GroupOffsets, HeaderValue, ITopicConfig,
  KafkaMessage, Message, PartitionAssignerName, PartitionOffsetsInfo, ProducerBatch, ProducerOptions, ProducerRecord,
  RecordMetadata, RunOptions, SubscribeOptions, TopicMessages, TopicMetadata, TopicPartitionOffset, TopicPartitions,
} from './client/types.js'
export type { FlushPolicy, RinglogConfig } from './config.js'
export { Compression, type CompressionName } from './protocol/compression.js'
export { ErrorCode } from './protocol/error-codes.js'
export { partitionForKey, murmur2 } from './client/partitioner.js'
export {
  CorruptRecordError, DiskFullError, DuplicateSequenceError, InvalidProducerEpochError, InvalidRecordError, InvalidRequestError,
  LogClosedError, OffsetOutOfRangeError, OutOfOrderSequenceError, RecordTooLargeError, RinglogError, StorageOfflineError,
  TopicAlreadyExistsError, UnknownTopicOrPartitionError, UnsupportedCompressionError,
  InvalidConfigError, InvalidPartitionsError, InvalidTopicError, InvalidReplicationFactorError, ClusterTimeoutError, ERROR_TABLE, type ErrorRow,
  ProducerFencedError, InvalidTxnStateError,
} from './errors.js'
export { startBroker, type StartBrokerOptions, type StartedBroker, type StartedCluster, type ClusterBroker } from './start-broker.js'
export { RinglogMetrics } from './metrics/ringlog-metrics.js'
export type { LogLevel } from './broker/logger.js'
