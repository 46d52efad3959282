import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Worker, type WorkerOptions } from 'node:worker_threads'

/**
 * Starts a worker thread from a module that sits next to `callerUrl`.
 * Compiled builds (dist/*.js) load the module directly. From TypeScript sources
 * (vitest, tsx) Node 20 workers cannot load `.ts`, so a small `.mjs` shim registers
 * tsx in the worker first and then imports the real module.
 * With RINGLOG_WORKERS_FROM_BUILD=1 (the test suite sets it once dist/ is current) a caller
 * loaded from src/ starts the compiled twin in dist/ instead: a worker boots in about 0.2 s
 * that way against about 1.8 s through the shim.
 */
export function spawnWorker(callerUrl: string, moduleBaseName: string, options: WorkerOptions = {}): Worker {
  const fromSources = callerUrl.endsWith('.ts')
  const target = new URL(`./${moduleBaseName}${fromSources ? '.ts' : '.js'}`, callerUrl)
  if (!fromSources) return new Worker(target, options)
  const compiled = workersFromBuild() ? compiledTwin(target) : undefined
  if (compiled) return new Worker(compiled, options)
  const shim = new URL('./ts-worker-shim.mjs', import.meta.url)
  return new Worker(shim, { ...options, workerData: { __tsEntry: target.href, data: options.workerData } })
}

/**
 * Starts a worker thread from an explicit module (the engine's `partitionWorkerModule` seam).
 * A caller running from sources without RINGLOG_WORKERS_FROM_BUILD starts it through the tsx
 * shim, so the module may import TypeScript sources.
 */
export function spawnWorkerModule(callerUrl: string, module: URL, options: WorkerOptions = {}): Worker {
  if (!callerUrl.endsWith('.ts') || workersFromBuild()) return new Worker(module, options)
  const shim = new URL('./ts-worker-shim.mjs', import.meta.url)
  return new Worker(shim, { ...options, workerData: { __tsEntry: module.href, data: options.workerData } })
}

/** True when modules loaded from src/ should start their worker threads from dist/. */
export function workersFromBuild(): boolean {
  return process.env.RINGLOG_WORKERS_FROM_BUILD === '1'
}

/**
 * src/<path>.ts -> dist/<path>.js (tsconfig.build.json: rootDir src, outDir dist); undefined for
 * a module outside src/ (a test fixture), which has no compiled twin.
 */
export function compiledTwin(source: URL): URL | undefined {
  const at = source.href.lastIndexOf('/src/')
  if (at < 0) return undefined
  const built = new URL(`${source.href.slice(0, at)}/dist/${source.href.slice(at + 5).replace(/\.ts$/, '.js')}`)
  if (!existsSync(built)) throw new Error(`RINGLOG_WORKERS_FROM_BUILD=1 but ${fileURLToPath(source)} has no compiled twin in dist/: run \`npm run build\``)
  return built
}

/** Inside a worker: the workerData the spawner passed, whether or not it went through the shim. */
export function unwrapWorkerData<T>(raw: unknown): T {
  if (raw !== null && typeof raw === 'object' && '__tsEntry' in raw) return (raw as unknown as { data: T }).data
  return raw as T
}
