/** Where the broker reports connection problems and lifecycle events. */
export interface BrokerLogger {
  info(message: string): void
  warn(message: string): void
  error(message: string): void
}

/** Lines on stderr with a level prefix (stdout is kept for the "listening on" line). */
export const stderrLogger: BrokerLogger = {
  info: (message) => process.stderr.write(`ringlog info: ${message}\n`),
  warn: (message) => process.stderr.write(`ringlog warn: ${message}\n`),
  error: (message) => process.stderr.write(`ringlog error: ${message}\n`),
}

/** Drops everything (tests that provoke errors on purpose). */
export const silentLogger: BrokerLogger = { info: () => undefined, warn: () => undefined, error: () => undefined }
