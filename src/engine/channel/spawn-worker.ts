import { Worker, type WorkerOptions } from 'node:worker_threads'

/**
 * Starts a worker thread from a module that sits next to `callerUrl`.
 * Compiled builds (dist/*.js) load the module directly. From TypeScript sources
 * (vitest, tsx) Node 20 workers cannot load `.ts`, so a small `.mjs` shim registers
 * tsx in the worker first and then imports the real module.
 */
export function spawnWorker(callerUrl: string, moduleBaseName: string, options: WorkerOptions = {}): Worker {
  const fromSources = callerUrl.endsWith('.ts')
  const target = new URL(`./${moduleBaseName}${fromSources ? '.ts' : '.js'}`, callerUrl)
  if (!fromSources) return new Worker(target, options)
  const shim = new URL('./ts-worker-shim.mjs', import.meta.url)
  return new Worker(shim, { ...options, workerData: { __tsEntry: target.href, data: options.workerData } })
}

/** Inside a worker: the workerData the spawner passed, whether or not it went through the shim. */
export function unwrapWorkerData<T>(raw: unknown): T {
  if (raw !== null && typeof raw === 'object' && '__tsEntry' in raw) return (raw as unknown as { data: T }).data
  return raw as T
}
