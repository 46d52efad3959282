/**
 * Turns pino's JSON lines into lines a person reads on a terminal:
 * `18:20:01.123 INFO  message key=value ...` (no pino-pretty dependency; only used on a TTY).
 */
import type { Writable } from 'node:stream'
import type { DestinationStream } from 'pino'

const OMITTED = new Set(['level', 'time', 'pid', 'hostname', 'msg'])

export function formatLogLine(json: string): string {
  let entry: Record<string, unknown>
  try {
    entry = JSON.parse(json) as Record<string, unknown>
  } catch {
    return json.endsWith('\n') ? json : json + '\n'
  }
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : new Date().toISOString().slice(11, 23)
  const level = String(entry.level).toUpperCase().padEnd(5)
  let line = `${time} ${level} ${String(entry.msg ?? '')}`
  for (const [key, value] of Object.entries(entry)) {
    if (OMITTED.has(key) || value === undefined) continue
    const text = typeof value === 'string' ? value : JSON.stringify(value)
    line += ` ${key}=${/\s/.test(text) ? JSON.stringify(text) : text}`
  }
  return line + '\n'
}

export function readableLogLines(out: Writable | DestinationStream): DestinationStream {
  return { write: (json: string) => { out.write(formatLogLine(json)) } }
}
