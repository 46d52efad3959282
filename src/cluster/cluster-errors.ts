/** Typed errors of the cluster metadata layer, each with the Kafka code a broker answers with. */
import { RinglogError } from '../errors.js'
import { ErrorCode } from '../protocol/error-codes.js'

export class InvalidReplicationFactorError extends RinglogError {
  constructor(message: string) { super(ErrorCode.INVALID_REPLICATION_FACTOR, message) }
}
export class InvalidPartitionsError extends RinglogError {
  constructor(message: string) { super(ErrorCode.INVALID_PARTITIONS, message) }
}
export class InvalidTopicError extends RinglogError {
  constructor(message: string) { super(ErrorCode.INVALID_TOPIC_EXCEPTION, message) }
}
/** A bounded wait on the cluster (controlled shutdown, registration) ran out. */
export class ClusterTimeoutError extends RinglogError {
  constructor(message: string) { super(ErrorCode.REQUEST_TIMED_OUT, message) }
}
