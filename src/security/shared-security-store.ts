/**
 * The users and ACLs that every broker of a cluster shares (cluster mode keeps them in etcd:
 * cluster/security-metadata.ts). The broker authenticates and authorizes from the watched
 * copies, which keep working while etcd is unreachable; the handlers of
 * AlterUserScramCredentials, CreateAcls and DeleteAcls write through this interface instead of
 * the local stores. Only the shape lives here, so broker/ does not load cluster/.
 */
import type { AclBinding } from './acl.js'
import type { AclStore } from './acl-store.js'
import type { CredentialStore } from './credential-store.js'
import type { ScramCredential, ScramMechanism } from './scram-keys.js'

/** One user's part of an AlterUserScramCredentials request, already validated. */
export interface CredentialChange {
  user: string
  deletions: ScramMechanism[]
  upsertions: { mechanism: ScramMechanism; credential: ScramCredential }[]
}

/** Per user: null when applied, else why not (a deletion of a credential the user does not have). */
export type CredentialChangeResults = Map<string, string | null>

export interface SharedSecurityStore {
  /** The watched copy SASL logins and DescribeUserScramCredentials read. */
  readonly credentials: CredentialStore
  /** The watched copy the authorizer and DescribeAcls read. */
  readonly acls: AclStore
  /**
   * Applies every user's changes in one atomic write (a user whose deletion names a missing
   * credential is left out and reported); resolves once this broker's copy shows the write.
   */
  alterCredentials(changes: readonly CredentialChange[]): Promise<CredentialChangeResults>
  /**
   * Replaces the cluster's bindings with `change(current)` by compare-and-swap (re-run on the
   * newer list when another broker wrote first); `next` undefined writes nothing. Resolves with
   * `result` once this broker's copy shows the write.
   */
  updateAcls<R>(change: (current: readonly AclBinding[]) => { next: AclBinding[] | undefined; result: R }): Promise<R>
  close(): Promise<void>
}
