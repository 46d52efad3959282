/** The long run of test/crash/damaged-files.test.ts: 1,200 seeded cases (RINGLOG_SOAK_DAMAGE_CASES overrides; RINGLOG_SEED replays). */
import { afterAll, describe, expect, it } from 'vitest'
import { DamageFixture, QUARANTINED_KINDS, runDamageCases } from '../crash/damaged-files-cases.js'

const fixture = new DamageFixture()
afterAll(() => fixture.cleanup())

describe('damaged metadata files (soak)', () => {
  it('1,200 damaged files: every one survived, nothing before the damage lost', async () => {
    const cases = Number(process.env.RINGLOG_SOAK_DAMAGE_CASES ?? '1200')
    const outcomes = await runDamageCases(fixture, cases)
    expect(outcomes).toHaveLength(cases)
    for (const o of outcomes) if (QUARANTINED_KINDS.has(o.file) && (o.damage === 'flip' || o.damage === 'garbage')) expect(o.quarantined, `${o.file} ${o.damage}`).toBe(true)
  }, 600_000)
})
