// Loads a TypeScript worker module from sources (tests and tsx runs only; compiled builds never use this).
import { register } from 'tsx/esm/api'
import { workerData } from 'node:worker_threads'

register()
await import(workerData.__tsEntry)
