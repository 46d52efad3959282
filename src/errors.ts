/**
 * Every error ringlog raises, in one table (as fastify's lib/errors.js and undici's
 * core/errors.js keep theirs): each RinglogError subclass with its Kafka error code, a default
 * message and whether retrying the same request can succeed. The same failure is a typed error
 * in the embedded API and its code on the wire. docs/errors.md lists the table; a test keeps the
 * two equal.
 *
 * Errors cross threads and the wire as codes only (`{ code, message }`: structured clone drops
 * Error subclasses). `errorFromCode` turns a code back into the one class the table gives it
 * (the row marked `fromCode`); a code with no such row becomes a plain RinglogError.
 */
import { ErrorCode, errorCodeName, isRetriableCode } from './protocol/error-codes.js'

export class RinglogError extends Error {
  readonly code: number
  constructor(code: number, message: string) {
    super(message)
    this.code = code
    this.name = new.target.name
  }

  /** Whether the same request may succeed later: the table row's flag, else Kafka's for the code. */
  get retriable(): boolean {
    return rowOf(this.constructor)?.retriable ?? isRetriableCode(this.code)
  }
}

/** A subclass whose code and default message come from its row in ERROR_TABLE. */
class TableError extends RinglogError {
  constructor(message?: string) {
    const row = rowOf(new.target)
    if (!row) throw new TypeError(`${new.target.name} has no row in ERROR_TABLE`)
    super(row.code, message ?? row.message)
  }
}

/** A record batch failed its CRC, length or count checks. */
export class CorruptRecordError extends TableError {}
/** The offset asked for is outside the log (before its start or past its end). */
export class OffsetOutOfRangeError extends TableError {}
/** A record or batch is larger than max.message.bytes. */
export class RecordTooLargeError extends TableError {}
export class UnknownTopicOrPartitionError extends TableError {}
export class TopicAlreadyExistsError extends TableError {}
export class InvalidRequestError extends TableError {}
/** A record the broker refuses to store (as Kafka's INVALID_RECORD). */
export class InvalidRecordError extends TableError {}
export class UnsupportedCompressionError extends TableError {}
/** An I/O error (fsync, write) took the partition offline instead of pretending it is durable. */
export class StorageOfflineError extends TableError {}
/** The disk is full: the append was refused and the log stays consistent and readable. */
export class DiskFullError extends TableError {}
/** The log (or a producer/consumer of it) was closed; nothing was written. */
export class LogClosedError extends TableError {}
/** A thread ring was closed by its peer or by whoever supervises a worker that died. */
export class RingClosedError extends TableError {}
export class OutOfOrderSequenceError extends TableError {}
export class DuplicateSequenceError extends TableError {}
export class InvalidProducerEpochError extends TableError {}
/** A topic name Kafka's rules refuse. */
export class InvalidTopicError extends TableError {}
/** A partition count out of range. */
export class InvalidPartitionsError extends TableError {}
/** A topic config or setting with a value out of range or of the wrong kind. */
export class InvalidConfigError extends TableError {}
/** A replication factor larger than the live brokers, or below 1. */
export class InvalidReplicationFactorError extends TableError {}
/** A bounded wait on the cluster (controlled shutdown, registration in etcd) ran out. */
export class ClusterTimeoutError extends TableError {}
/** A malformed request or response: truncated, a bad length, an out-of-range version. */
export class ProtocolDecodeError extends TableError {}
/** A size prefix that is negative or above the limit: the connection cannot be resynced. */
export class InvalidFrameSizeError extends ProtocolDecodeError {
  constructor(readonly size: number, readonly maxFrameSize: number) {
    super(size < 0 ? `negative frame size ${size}` : `frame of ${size} bytes exceeds the ${maxFrameSize}-byte limit`)
  }
}
/** A message that cannot be written in the asked version: a bug on the writing side. */
export class ProtocolEncodeError extends TableError {}

/** A newer producer with the same transactional id (or the transaction's timeout) fenced this one. */
export class ProducerFencedError extends TableError {}
/** A transactional call in the wrong state: EndTxn with nothing open, offsets for a group not added. */
export class InvalidTxnStateError extends TableError {}

/** Any RinglogError subclass the table can name. */
export type RinglogErrorClass = abstract new (...args: never[]) => RinglogError

export interface ErrorRow {
  /** The class; its name is the row's name. */
  readonly kind: RinglogErrorClass
  readonly name: string
  /** Kafka error code carried in `.code` and on the wire. */
  readonly code: number
  /** Whether retrying the same request may succeed. */
  readonly retriable: boolean
  /** The class a bare code (from the wire or another thread) becomes; one row per code at most. */
  readonly fromCode: boolean
  /** Default message, when the code alone is known. */
  readonly message: string
}

function row(kind: RinglogErrorClass, code: number, retriable: boolean, fromCode: boolean, message: string): ErrorRow {
  return { kind, name: kind.name, code, retriable, fromCode, message }
}

/** Every RinglogError subclass. Retriable follows Kafka's flag for the code unless a note in docs/errors.md says why not. */
export const ERROR_TABLE: readonly ErrorRow[] = [
  row(OffsetOutOfRangeError, ErrorCode.OFFSET_OUT_OF_RANGE, false, true, 'the offset is outside the log'),
  row(CorruptRecordError, ErrorCode.CORRUPT_MESSAGE, true, true, 'a record batch failed its CRC, length or count checks'),
  row(UnknownTopicOrPartitionError, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, true, true, 'no such topic or partition'),
  row(RecordTooLargeError, ErrorCode.MESSAGE_TOO_LARGE, false, true, 'a record batch is larger than max.message.bytes'),
  row(InvalidTopicError, ErrorCode.INVALID_TOPIC_EXCEPTION, false, true, 'the topic name is not valid'),
  row(TopicAlreadyExistsError, ErrorCode.TOPIC_ALREADY_EXISTS, false, true, 'the topic already exists'),
  row(InvalidPartitionsError, ErrorCode.INVALID_PARTITIONS, false, true, 'the partition count is not valid'),
  row(InvalidReplicationFactorError, ErrorCode.INVALID_REPLICATION_FACTOR, false, true, 'the replication factor is not valid'),
  row(InvalidConfigError, ErrorCode.INVALID_CONFIG, false, true, 'a config value is not valid'),
  row(InvalidRequestError, ErrorCode.INVALID_REQUEST, false, true, 'the request is not valid'),
  row(ProtocolDecodeError, ErrorCode.INVALID_REQUEST, false, false, 'a message could not be decoded'),
  row(InvalidFrameSizeError, ErrorCode.INVALID_REQUEST, false, false, 'a frame size is negative or above the limit'),
  row(OutOfOrderSequenceError, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, false, true, 'a producer sequence number is out of order'),
  row(DuplicateSequenceError, ErrorCode.DUPLICATE_SEQUENCE_NUMBER, false, true, 'the batch was already appended'),
  row(InvalidProducerEpochError, ErrorCode.INVALID_PRODUCER_EPOCH, false, true, 'the producer epoch is stale'),
  row(StorageOfflineError, ErrorCode.KAFKA_STORAGE_ERROR, true, true, 'the partition is offline after a storage error'),
  row(DiskFullError, ErrorCode.KAFKA_STORAGE_ERROR, true, false, 'the disk is full; nothing was written'),
  row(LogClosedError, ErrorCode.KAFKA_STORAGE_ERROR, false, false, 'the log is closed'),
  row(RingClosedError, ErrorCode.KAFKA_STORAGE_ERROR, false, false, 'the ring is closed'),
  row(UnsupportedCompressionError, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, false, true, 'the compression codec is not supported'),
  row(InvalidRecordError, ErrorCode.INVALID_RECORD, false, true, 'the record is not valid'),
  row(ClusterTimeoutError, ErrorCode.REQUEST_TIMED_OUT, true, true, 'a bounded wait on the cluster ran out'),
  row(ProtocolEncodeError, ErrorCode.UNKNOWN_SERVER_ERROR, false, false, 'a message cannot be written in this version'),
  row(ProducerFencedError, ErrorCode.PRODUCER_FENCED, false, true, 'a newer producer with the same transactional id fenced this one'),
  row(InvalidTxnStateError, ErrorCode.INVALID_TXN_STATE, false, true, 'the transaction is not in a state that allows this'),
]

const rowsByClass = new Map<unknown, ErrorRow>(ERROR_TABLE.map((r) => [r.kind, r]))
const classByCode = new Map<number, new (message?: string) => RinglogError>(
  ERROR_TABLE.filter((r) => r.fromCode).map((r) => [r.code, r.kind as new (message?: string) => RinglogError]),
)

/** The row of a class, or of its nearest ancestor that has one (a test keeps every class in the table). */
function rowOf(kind: unknown): ErrorRow | undefined {
  for (let k = kind; k && k !== RinglogError; k = Object.getPrototypeOf(k)) {
    const found = rowsByClass.get(k)
    if (found) return found
  }
  return undefined
}

/** The typed error for a Kafka code: its class from the table, else a RinglogError carrying the code. */
export function errorFromCode(code: number, message?: string | null): RinglogError {
  const Kind = classByCode.get(code)
  if (Kind) return new Kind(message ?? undefined)
  return new RinglogError(code, message || errorCodeName(code))
}

/** As errorFromCode, with what was being done in front of the message ("send to t-0: ..."). */
export function errorForCode(code: number, message: string | null, context: string): RinglogError {
  return errorFromCode(code, `${context}: ${message ?? errorCodeName(code)}`)
}

/** Plain, cloneable form of an error for crossing a thread boundary: the code and the message. */
export interface ErrorPayload { code: number; message: string }

export function toErrorPayload(error: unknown): ErrorPayload {
  if (error instanceof RinglogError) return { code: error.code, message: error.message }
  const message = error instanceof Error ? error.message : String(error)
  return { code: ErrorCode.UNKNOWN_SERVER_ERROR, message }
}

/** Rebuilds the typed error from its payload (see errorFromCode). */
export function errorFromPayload(payload: ErrorPayload): RinglogError {
  return errorFromCode(payload.code, payload.message)
}
