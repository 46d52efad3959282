// Issue 18, H1 over the read-stream fallback: the addon is switched off before anything loads it.
import { vi } from 'vitest'
import { describeDeleteDuringFetch } from './delete-during-fetch.js'

vi.hoisted(() => {
  process.env.RINGLOG_NO_NATIVE = '1'
})

describeDeleteDuringFetch()
