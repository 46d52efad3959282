/**
 * Lets the page cache settle before a measured repetition: writes back every dirty page on the
 * machine (sync(1)), outside the timing. Without it a repetition can pay for the kernel's
 * writeback of what earlier repetitions and scenarios wrote (hundreds of MB after a TCP or a
 * flush-never scenario), depending on the suite's order rather than on the code measured. A
 * repetition's own writes are still its own cost. (It removes that one source of drift; on this
 * shared machine the host's load moved embedded flush-never runs between 0.58x and 0.93x of the
 * reference with and without it.)
 */
import { execFile } from 'node:child_process'

/** Runs `sync`; resolves when it returns (or at once where there is no such command). */
export function settlePageCache(): Promise<void> {
  if (process.platform === 'win32') return Promise.resolve()
  return new Promise((resolve) => {
    execFile('sync', () => resolve())
  })
}
