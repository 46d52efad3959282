/**
 * `ringlog cluster up | status`: a development cluster on this machine and a look at any cluster.
 * - up: a private etcd and N brokers on consecutive ports under one data dir (cluster/dev-cluster.ts);
 *   prints the bootstrap list, relays the brokers' log lines to stderr prefixed with their id, and
 *   stops them all (controlled shutdown) then etcd on SIGINT or SIGTERM. Running it again on the
 *   same data dir brings the same cluster back.
 * - status: brokers (id, address, alive, listeners), the controller, under-replicated and offline partitions,
 *   read from etcd (--etcd and --cluster-name, or --data-dir of a `cluster up`).
 */
import type { Command } from 'commander'
import { InvalidConfigError } from '../errors.js'
import { ClusterMetadata } from '../cluster/cluster-metadata.js'
import { formatClusterStatus, readClusterStatus } from '../cluster/cluster-status.js'
import { DevCluster, readDevClusterState } from '../cluster/dev-cluster.js'

function positiveInteger(flag: string, value: string, max: number): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > max) throw new InvalidConfigError(`${flag} must be an integer from 0 to ${max}, got "${value}"`)
  return n
}

interface UpOptions { brokers: string; dataDir: string; port: string; host: string; clusterName: string; logLevel: string; flush?: string; etcdBinary?: string }
interface StatusOptions { etcd?: string; clusterName?: string; dataDir?: string; json?: boolean }

export function register(program: Command): void {
  const cluster = program.command('cluster').description('a development cluster (private etcd + N brokers) and the status of a cluster')
  cluster.command('up')
    .description('start a private etcd and N brokers on consecutive ports; Ctrl-C or SIGTERM stops them all')
    .option('--brokers <n>', 'number of brokers (ids 1..n)', '3')
    .option('--data-dir <dir>', 'directory for etcd and every broker (reused: the same cluster comes back)', './ringlog-cluster')
    .option('--port <port>', 'port of broker 1; broker i listens on port + i - 1 (0: any free ports)', '9092')
    .option('--host <host>', 'address the brokers listen on and advertise', '127.0.0.1')
    .option('--cluster-name <name>', 'etcd key prefix /ringlog/<name>/', 'dev')
    .option('--log-level <level>', 'brokers\' log level (their lines go to stderr, prefixed [broker N])', 'warn')
    .option('--flush <policy>', 'flush policy of every broker: always | never | <ms>')
    .option('--etcd-binary <path>', 'etcd executable', '/usr/bin/etcd')
    .action(async (options: UpOptions) => { await clusterUp(options) })
  cluster.command('status')
    .description('brokers (id, address, alive), the controller, under-replicated and offline partitions')
    .option('--etcd <endpoints>', 'etcd endpoints host:port[,host:port]')
    .option('--cluster-name <name>', 'cluster name (etcd key prefix /ringlog/<name>/)')
    .option('--data-dir <dir>', 'data dir of a `ringlog cluster up` (finds its etcd and name)')
    .option('--json', 'print the status as JSON')
    .action(async (options: StatusOptions) => { await clusterStatus(options) })
}

async function clusterUp(options: UpOptions): Promise<void> {
  const brokers = positiveInteger('--brokers', options.brokers, 64)
  if (brokers < 1) throw new InvalidConfigError('--brokers must be at least 1')
  const firstPort = positiveInteger('--port', options.port, 65535)
  if (firstPort > 0 && firstPort + brokers - 1 > 65535) throw new InvalidConfigError(`--port ${firstPort} leaves no room for ${brokers} brokers`)
  const dev = await DevCluster.start({
    brokers, dataDir: options.dataDir, firstPort, host: options.host, clusterName: options.clusterName, etcdBinary: options.etcdBinary,
    logLevel: options.logLevel, serveArgs: options.flush !== undefined ? ['--flush', options.flush] : [],
    onLog: (id, line) => { process.stderr.write(`[broker ${id}] ${line}\n`) },
  })
  // Handlers before the lines a parent waits for: a SIGTERM sent on reading them must not find the default action.
  let stopping = false
  const shutdown = (signal: string): void => {
    if (stopping) return
    stopping = true
    process.stderr.write(`ringlog cluster: ${signal}, stopping brokers and etcd\n`)
    dev.stop().then(
      () => {
        process.stdout.write('ringlog cluster stopped\n')
        process.exit(0)
      },
      (error: unknown) => {
        process.stderr.write(`ringlog: stopping the cluster failed: ${error instanceof Error ? error.message : String(error)}\n`)
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.stdout.write(`ringlog cluster up: ${brokers} broker(s), etcd ${dev.etcd.endpoint}, cluster name ${dev.clusterName}, data dir ${options.dataDir}\n`)
  for (const b of dev.brokers) process.stdout.write(`  broker ${b.id} on ${b.host}:${b.port} (pid ${b.pid}, data ${b.dataDir})\n`)
  process.stdout.write(`bootstrap: ${dev.bootstrap.join(',')}\n`)
}

async function clusterStatus(options: StatusOptions): Promise<void> {
  const saved = options.dataDir !== undefined ? readDevClusterState(options.dataDir) : undefined
  if (options.dataDir !== undefined && !saved) throw new InvalidConfigError(`${options.dataDir} is not the data dir of a \`ringlog cluster up\``)
  const etcd = options.etcd ?? saved?.etcd ?? process.env.RINGLOG_ETCD
  if (!etcd) throw new InvalidConfigError('say which cluster: --etcd host:port (and --cluster-name), or --data-dir of a `ringlog cluster up`')
  const clusterName = options.clusterName ?? saved?.clusterName ?? process.env.RINGLOG_CLUSTER_NAME ?? 'ringlog'
  const metadata = new ClusterMetadata({ endpoints: etcd.split(',').map((e) => e.trim()).filter((e) => e !== ''), cluster: clusterName })
  try {
    const status = await readClusterStatus(metadata)
    process.stdout.write(options.json ? `${JSON.stringify(status)}\n` : formatClusterStatus(status))
  } catch (error) {
    throw new Error(`cannot read cluster "${clusterName}" from etcd ${etcd}: ${error instanceof Error ? error.message : String(error)}`)
  } finally {
    metadata.close()
  }
}
