/**
 * First start after the move to `__consumer_offsets`: the committed offsets of the older
 * msgpackr store (`meta/group-offsets`) are written to the offsets topic, then the old directory
 * is renamed aside (`group-offsets.migrated`) so it is not migrated again. A crash midway leaves
 * the old directory in place and the next start writes everything again (last value per key
 * wins, so the repeat is harmless).
 */
import { existsSync } from 'node:fs'
import { open, rename } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { OffsetsBackend } from './offsets-backend.js'
import { OffsetsStore } from './offsets-store.js'

export const MIGRATED_SUFFIX = '.migrated'

export interface MigrationResult { groups: number; offsets: number }

/** Moves every committed offset in `oldDir` (if it exists) into `target`; returns what it moved. */
export async function migrateOffsetsStore(oldDir: string, target: OffsetsBackend): Promise<MigrationResult> {
  if (!existsSync(oldDir)) return { groups: 0, offsets: 0 }
  const store = await OffsetsStore.open({ dir: oldDir })
  let groups = 0
  let offsets = 0
  try {
    for (const groupId of store.groupIds()) {
      const committed = store.list(groupId)
      if (committed.length === 0) continue
      // One commit per commit time, so each offset keeps its own retention clock.
      const byTimestamp = new Map<number, typeof committed>()
      for (const c of committed) {
        const list = byTimestamp.get(c.commitTimestamp) ?? []
        list.push(c)
        byTimestamp.set(c.commitTimestamp, list)
      }
      for (const [timestamp, list] of byTimestamp) {
        await target.commit(groupId, timestamp, list.map(({ topic, partition, offset, leaderEpoch, metadata }) => ({ topic, partition, offset, leaderEpoch, metadata })))
      }
      groups++
      offsets += committed.length
    }
  } finally {
    await store.close()
  }
  await rename(oldDir, oldDir + MIGRATED_SUFFIX)
  const parent = await open(dirname(oldDir), 'r')
  try { await parent.sync() } finally { await parent.close() }
  return { groups, offsets }
}
