/**
 * CPU time of another process (a broker started by a tcp-mode scenario), so runs can report
 * broker and client CPU separately. Linux only: reads utime + stime from /proc/<pid>/stat,
 * which the kernel reports in USER_HZ ticks (100 per second on every Linux ABI).
 */
import { readFileSync } from 'node:fs'

const USER_HZ = 100

/** User + system CPU seconds used so far by `pid` (threads included); null if unavailable. */
export function processCpuSeconds(pid: number): number | null {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return null
  }
  // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // After the name, fields start at 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(fields[14 - 3])
  const stime = Number(fields[15 - 3])
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null
  return (utime + stime) / USER_HZ
}
