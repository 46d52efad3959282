/** Worker-thread entry of a LoadgenSink (see sink-thread.ts): starts it, reports its port, closes on 'close'. */
import { parentPort, workerData } from 'node:worker_threads'
import { unwrapWorkerData } from '../../engine/channel/spawn-worker.js'
import { LoadgenSink, type LoadgenSinkOptions } from './sink.js'

const options = unwrapWorkerData<LoadgenSinkOptions>(workerData)
const sink = await LoadgenSink.start(options)
parentPort!.postMessage({ type: 'listening', port: sink.port })
parentPort!.on('message', (message: { type: string }) => {
  if (message.type === 'stats') parentPort!.postMessage({ type: 'stats', stats: sink.stats })
  if (message.type === 'close') void sink.close().then(() => parentPort!.postMessage({ type: 'closed' }))
})
