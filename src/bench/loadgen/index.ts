/** The load generator: a minimal, fast Kafka wire client for benchmarks, and a discarding sink to measure it alone. */
export * from './wire-connection.js'
export * from './cluster.js'
export * from './batch-templates.js'
export * from './pacer.js'
export * from './producer.js'
export * from './fetcher.js'
export * from './sink.js'
export * from './sink-thread.js'
