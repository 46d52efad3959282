/**
 * Lets the page cache settle before a measured repetition: writes back every dirty page on the
 * machine (sync(1)), outside the timing. Without it a repetition pays for the kernel's
 * writeback of what earlier repetitions and scenarios wrote (hundreds of MB after a TCP or a
 * flush-never scenario), and that lands unevenly: measured in the full suite, embedded
 * produce with flush never ran at 0.58-0.68x the reference after the TCP scenarios of the
 * previous suite run, and at 0.79-0.93x in runs where nothing was being written back, with
 * twice the CPU per record, while the single-threaded reference barely moved. A repetition's
 * own writes are still its own cost.
 */
import { execFile } from 'node:child_process'

/** Runs `sync`; resolves when it returns (or at once where there is no such command). */
export function settlePageCache(): Promise<void> {
  if (process.platform === 'win32') return Promise.resolve()
  return new Promise((resolve) => {
    execFile('sync', () => resolve())
  })
}
