import { ErrorCode, errorCodeName } from './protocol/error-codes.js'

/**
 * Every error ringlog raises carries the Kafka error code that describes it, so the
 * same failure becomes a typed error in the embedded API and the right code on the wire.
 * Errors cross threads as `{ code, message }` (structured clone drops subclasses):
 * `errorFromCode` rebuilds the typed error on the other side.
 */
export class RinglogError extends Error {
  readonly code: number
  constructor(code: number, message: string) {
    super(message)
    this.code = code
    this.name = new.target.name
  }
}

export class CorruptRecordError extends RinglogError {
  constructor(message: string) { super(ErrorCode.CORRUPT_MESSAGE, message) }
}
export class OffsetOutOfRangeError extends RinglogError {
  constructor(message: string) { super(ErrorCode.OFFSET_OUT_OF_RANGE, message) }
}
export class RecordTooLargeError extends RinglogError {
  constructor(message: string) { super(ErrorCode.MESSAGE_TOO_LARGE, message) }
}
export class UnknownTopicOrPartitionError extends RinglogError {
  constructor(message: string) { super(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message) }
}
export class TopicAlreadyExistsError extends RinglogError {
  constructor(message: string) { super(ErrorCode.TOPIC_ALREADY_EXISTS, message) }
}
export class InvalidRequestError extends RinglogError {
  constructor(message: string) { super(ErrorCode.INVALID_REQUEST, message) }
}
/** A setting (broker config, topic config) out of range or of the wrong kind. */
export class InvalidConfigError extends RinglogError {
  constructor(message: string) { super(ErrorCode.INVALID_CONFIG, message) }
}
export class InvalidRecordError extends RinglogError {
  constructor(message: string) { super(ErrorCode.INVALID_RECORD, message) }
}
export class UnsupportedCompressionError extends RinglogError {
  constructor(message: string) { super(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, message) }
}
/** The disk is full: the append was refused and the log stays consistent and readable. */
export class DiskFullError extends RinglogError {
  constructor(message: string) { super(ErrorCode.KAFKA_STORAGE_ERROR, message) }
}
/** An I/O error (fsync, write) took the partition offline instead of pretending it is durable. */
export class StorageOfflineError extends RinglogError {
  constructor(message: string) { super(ErrorCode.KAFKA_STORAGE_ERROR, message) }
}
export class OutOfOrderSequenceError extends RinglogError {
  constructor(message: string) { super(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, message) }
}
export class DuplicateSequenceError extends RinglogError {
  constructor(message: string) { super(ErrorCode.DUPLICATE_SEQUENCE_NUMBER, message) }
}
export class InvalidProducerEpochError extends RinglogError {
  constructor(message: string) { super(ErrorCode.INVALID_PRODUCER_EPOCH, message) }
}
/** The log (or a producer/consumer of it) was closed; nothing was written. */
export class LogClosedError extends RinglogError {
  constructor(message = 'the log is closed') { super(ErrorCode.KAFKA_STORAGE_ERROR, message) }
}

/** Plain, cloneable form of an error for crossing a thread boundary. */
export interface ErrorPayload { code: number; message: string; kind: string }

export function toErrorPayload(error: unknown): ErrorPayload {
  if (error instanceof RinglogError) return { code: error.code, message: error.message, kind: error.name }
  const message = error instanceof Error ? error.message : String(error)
  return { code: ErrorCode.UNKNOWN_SERVER_ERROR, message, kind: 'Error' }
}

const kinds: Record<string, new (message: string) => RinglogError> = {
  CorruptRecordError, OffsetOutOfRangeError, RecordTooLargeError, UnknownTopicOrPartitionError,
  TopicAlreadyExistsError, InvalidRequestError, InvalidRecordError, UnsupportedCompressionError,
  DiskFullError, StorageOfflineError, OutOfOrderSequenceError, DuplicateSequenceError,
  InvalidProducerEpochError, LogClosedError,
}

/** Rebuilds the typed error from its payload (falls back to a RinglogError with the code). */
export function errorFromPayload(payload: ErrorPayload): RinglogError {
  const Kind = kinds[payload.kind]
  if (Kind) return new Kind(payload.message)
  return new RinglogError(payload.code, payload.message || errorCodeName(payload.code))
}
