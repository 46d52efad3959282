/**
 * Runs a LoadgenSink on its own thread, so measuring the generator against it does not make
 * the two share one event loop (on 2 cores they still share the machine: say so with numbers).
 */
import { once } from 'node:events'
import type { Worker } from 'node:worker_threads'
import { spawnWorker } from '../../engine/channel/spawn-worker.js'
import type { LoadgenSinkOptions, LoadgenSinkStats } from './sink.js'

export interface SinkThread {
  readonly host: string
  readonly port: number
  readonly address: string
  /** The worker's thread id, for CPU accounting by thread if ever needed. */
  readonly worker: Worker
  stats(): Promise<LoadgenSinkStats>
  close(): Promise<void>
}

export async function startSinkThread(options: LoadgenSinkOptions = {}): Promise<SinkThread> {
  const host = options.host ?? '127.0.0.1'
  const worker = spawnWorker(import.meta.url, 'sink-worker', { workerData: { ...options, host } })
  const [first] = (await Promise.race([once(worker, 'message'), once(worker, 'error').then(([error]) => { throw error })])) as [{ type: string; port: number }]
  const port = first.port
  const request = <T>(type: string, replyType: string): Promise<T> =>
    new Promise((resolve) => {
      const onMessage = (message: { type: string } & Record<string, unknown>): void => {
        if (message.type !== replyType) return
        worker.off('message', onMessage)
        resolve(message as T)
      }
      worker.on('message', onMessage)
      worker.postMessage({ type })
    })
  return {
    host,
    port,
    address: `${host}:${port}`,
    worker,
    stats: async () => (await request<{ stats: LoadgenSinkStats }>('stats', 'stats')).stats,
    close: async () => {
      await request<unknown>('close', 'closed')
      await worker.terminate()
    },
  }
}
