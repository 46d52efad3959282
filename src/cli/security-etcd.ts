/**
 * The offline form of `ringlog users` and `ringlog acls` for a cluster: `--etcd host:port
 * [--cluster-name N]` reads and changes the cluster's users and ACLs in etcd directly (with the
 * same compare-and-swap writes the brokers use), so they can be set up before any broker runs or
 * while none is reachable. Every running broker applies the change from its watch.
 */
import type { Command } from 'commander'
import type { SecurityMetadata } from '../cluster/security-metadata.js'

export interface EtcdSecurityOptions {
  etcd?: string
  clusterName: string
}

/** Adds --etcd and --cluster-name. */
export function withEtcdSecurity(command: Command): Command {
  return command
    .option('--etcd <endpoints>', 'change the cluster\'s users/ACLs in etcd directly (host:port[,host:port]), no broker needed')
    .option('--cluster-name <name>', 'with --etcd: the cluster (etcd prefix /ringlog/<name>/)', 'ringlog')
}

/**
 * Runs `use` with a connection to the cluster's security metadata, closed afterwards. The etcd
 * client (grpc, protobuf: about 0.35 s of CPU to load) is imported here, only when --etcd is given.
 */
export async function withSecurityMetadata<T>(options: EtcdSecurityOptions & { etcd: string }, use: (metadata: SecurityMetadata) => Promise<T>): Promise<T> {
  const { SecurityMetadata } = await import('../cluster/security-metadata.js')
  const metadata = SecurityMetadata.connect(options.etcd, options.clusterName)
  try {
    return await use(metadata)
  } finally {
    metadata.close()
  }
}
