/**
 * Damaged metadata files (issue 18 item 3): topic registry, producer ids, recovery-point and
 * log-start checkpoints, each damaged in every way, seeded (RINGLOG_SEED replays a run). The
 * node's readers open every time, lose nothing before the damage, and quarantine what changed.
 * RINGLOG_DAMAGE_CASES sets the count (default 240); test/soak/damaged-files.test.ts runs 1,200.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { DamageFixture, runDamageCases } from './damaged-files-cases.js'

const fixture = new DamageFixture()
afterAll(() => fixture.cleanup())

describe('damaged metadata files', () => {
  it('every damaged file is survived: the node opens, nothing before the damage is lost, a changed file is renamed aside and reported', async () => {
    const cases = Number(process.env.RINGLOG_DAMAGE_CASES ?? '240')
    const outcomes = await runDamageCases(fixture, cases)
    expect(outcomes).toHaveLength(cases)
    // Flips and garbage always change the file; each of those must have been caught.
    for (const o of outcomes) if (o.damage === 'flip' || o.damage === 'garbage') expect(o.quarantined, `${o.file} ${o.damage}`).toBe(true)
  })
})
