/**
 * Where the broker reports lifecycle events, connections, requests and rejected input: pino
 * behind a small interface, so call sites pass a message and, where useful, a few fields.
 * Lines go to stderr (stdout carries the "listening on" line scripts parse): one JSON object a
 * line when stderr is not a terminal, a readable line when it is (readable-log-lines.ts).
 */
import { pino, type DestinationStream } from 'pino'
import { readableLogLines } from './readable-log-lines.js'

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug', 'trace'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export type LogFields = Record<string, string | number | boolean | null | undefined>

export interface BrokerLogger {
  error(message: string, fields?: LogFields): void
  warn(message: string, fields?: LogFields): void
  info(message: string, fields?: LogFields): void
  /** Optional, so a hand-made logger (tests) needs only the three levels it always had. */
  debug?(message: string, fields?: LogFields): void
  /** Whether debug lines are written: per-request callers check it before building a line. */
  readonly debugEnabled?: boolean
}

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value)
}

export interface LoggerOptions {
  level?: LogLevel | 'silent'
  /** Readable lines instead of JSON. Default: whether the destination (stderr) is a terminal. */
  readable?: boolean
  /** Default: stderr. */
  destination?: DestinationStream
}

export function createLogger(options: LoggerOptions = {}): BrokerLogger {
  const readable = options.readable ?? process.stderr.isTTY === true
  const target: DestinationStream = options.destination ?? (readable ? process.stderr : pino.destination({ fd: 2, sync: true }))
  const stream = readable ? readableLogLines(target) : target
  const logger = pino({
    level: options.level ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // "level":"warn" rather than pino's number: what log shippers and people grep for.
    formatters: { level: (label) => ({ level: label }) },
  }, stream)
  const at = (level: LogLevel) => (message: string, fields?: LogFields): void => {
    if (fields) logger[level](fields, message)
    else logger[level](message)
  }
  return {
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    get debugEnabled() { return logger.isLevelEnabled('debug') },
  }
}

/** Info and above, to stderr (what `ringlog serve` used before --log-level). */
export const stderrLogger: BrokerLogger = createLogger({ level: 'info' })

/** Drops everything (tests that provoke errors on purpose). */
export const silentLogger: BrokerLogger = {
  error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined, debugEnabled: false,
}
