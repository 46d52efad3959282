/** The load generator: producers and fetchers over the shared wire client, and a discarding sink to measure them alone. */
export * from './cluster.js'
export * from './batch-templates.js'
export * from './pacer.js'
export * from './producer.js'
export * from './fetcher.js'
export * from './sink.js'
export * from './sink-thread.js'
