/**
 * The one list of implemented APIs: dispatch routes by it and ApiVersions advertises exactly
 * it. Adding an API: a handler file exporting { apiKey, minVersion, maxVersion, handle } (see
 * ../handler.ts) and one line below. The API's wire codec must exist in protocol/messages.
 */
import type { AnyApiHandler } from '../handler.js'

export const HANDLERS: readonly AnyApiHandler[] = [
  await import('./00-produce.js'),
  await import('./01-fetch.js'),
  await import('./02-list-offsets.js'),
  await import('./03-metadata.js'),
  await import('./08-offset-commit.js'),
  await import('./09-offset-fetch.js'),
  await import('./10-find-coordinator.js'),
  await import('./11-join-group.js'),
  await import('./12-heartbeat.js'),
  await import('./13-leave-group.js'),
  await import('./14-sync-group.js'),
  await import('./15-describe-groups.js'),
  await import('./16-list-groups.js'),
  await import('./17-sasl-handshake.js'),
  await import('./18-api-versions.js'),
  await import('./19-create-topics.js'),
  await import('./20-delete-topics.js'),
  await import('./21-delete-records.js'),
  await import('./22-init-producer-id.js'),
  await import('./23-offset-for-leader-epoch.js'),
  await import('./24-add-partitions-to-txn.js'),
  await import('./25-add-offsets-to-txn.js'),
  await import('./26-end-txn.js'),
  await import('./27-write-txn-markers.js'),
  await import('./28-txn-offset-commit.js'),
  await import('./29-describe-acls.js'),
  await import('./30-create-acls.js'),
  await import('./31-delete-acls.js'),
  await import('./32-describe-configs.js'),
  await import('./33-alter-configs.js'),
  await import('./36-sasl-authenticate.js'),
  await import('./37-create-partitions.js'),
  await import('./42-delete-groups.js'),
  await import('./44-incremental-alter-configs.js'),
  await import('./50-describe-user-scram-credentials.js'),
  await import('./51-alter-user-scram-credentials.js'),
  await import('./60-describe-cluster.js'),
  await import('./47-offset-delete.js'),
  await import('./61-describe-producers.js'),
]
