/**
 * Engine and group results carry Kafka error codes; the embedded API throws typed errors.
 * Codes with a class of their own in errors.ts get it, everything else a RinglogError with the
 * code (its `code` property is always the Kafka error code).
 */
import {
  CorruptRecordError, InvalidRecordError, InvalidRequestError, OffsetOutOfRangeError, RecordTooLargeError, RinglogError,
  StorageOfflineError, TopicAlreadyExistsError, UnknownTopicOrPartitionError, UnsupportedCompressionError,
} from '../errors.js'
import { ErrorCode, errorCodeName } from '../protocol/error-codes.js'

const byCode = new Map<number, new (message: string) => RinglogError>([
  [ErrorCode.MESSAGE_TOO_LARGE, RecordTooLargeError],
  [ErrorCode.RECORD_LIST_TOO_LARGE, RecordTooLargeError],
  [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, UnknownTopicOrPartitionError],
  [ErrorCode.CORRUPT_MESSAGE, CorruptRecordError],
  [ErrorCode.INVALID_RECORD, InvalidRecordError],
  [ErrorCode.INVALID_REQUEST, InvalidRequestError],
  [ErrorCode.OFFSET_OUT_OF_RANGE, OffsetOutOfRangeError],
  [ErrorCode.TOPIC_ALREADY_EXISTS, TopicAlreadyExistsError],
  [ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, UnsupportedCompressionError],
  [ErrorCode.KAFKA_STORAGE_ERROR, StorageOfflineError],
])

export function errorForCode(code: number, message: string | null, context: string): RinglogError {
  const text = `${context}: ${message ?? errorCodeName(code)}`
  const Kind = byCode.get(code)
  return Kind ? new Kind(text) : new RinglogError(code, text)
}
