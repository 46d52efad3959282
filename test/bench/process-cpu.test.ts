import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { describe, expect, it } from 'vitest'
import { processCpuSeconds } from '../../src/bench/process-cpu.js'

describe.runIf(process.platform === 'linux')('processCpuSeconds', () => {
  it('reads a child process\'s CPU and grows as it works', async () => {
    // The child burns CPU until it has used 300 ms of it, then waits to be killed.
    const child = spawn(process.execPath, ['-e', 'const s=process.cpuUsage();while(process.cpuUsage(s).user<300000){}setInterval(()=>{},1000)'], { stdio: 'ignore' })
    try {
      const first = processCpuSeconds(child.pid!)
      expect(first).not.toBeNull()
      let latest = first!
      for (let i = 0; i < 100 && latest < 0.3; i++) {
        await new Promise((r) => setTimeout(r, 50))
        latest = processCpuSeconds(child.pid!) ?? latest
      }
      expect(latest).toBeGreaterThanOrEqual(0.3)
    } finally {
      child.kill('SIGKILL')
      await once(child, 'exit')
    }
    expect(processCpuSeconds(child.pid!)).toBeNull()
  })

  it('null for a process that does not exist', () => {
    expect(processCpuSeconds(2 ** 30)).toBeNull()
  })
})
