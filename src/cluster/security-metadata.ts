/**
 * The cluster's users and ACLs in etcd (keys in metadata-layout.ts): `security/acls` holds every
 * binding as one list, `security/scram/<user>` one user's salted SCRAM keys. Every write is a
 * transaction that compares the mod revision of each key it read (create revision 0 for a key
 * that did not exist), so two brokers (or a broker and `ringlog users --etcd`) changing the same
 * key at once never lose each other's change: the loser reads again and re-applies its request
 * to the newer value. Users live in separate keys, so changes to different users never conflict.
 * Used by the brokers (security-metadata-watch.ts) and by the offline CLI.
 */
import type { IOperation } from 'etcd3'
import { InvalidConfigError } from '../errors.js'
import type { AclBinding } from '../security/acl.js'
import { invalidBindingList } from '../security/acl-store.js'
import { decodeStoredEntry, encodeStoredEntry, type StoredEntry, type UserCredentials } from '../security/credential-store.js'
import { isScramMechanism, type ScramMechanism } from '../security/scram-keys.js'
import type { CredentialChange, CredentialChangeResults } from '../security/shared-security-store.js'
import { ClusterMetadata } from './cluster-metadata.js'
import { type AclsRecord, MalformedMetadataError, type ScramUserRecord } from './metadata-layout.js'

/** Attempts of one compare-and-swap before the request fails (each conflict means another writer made progress). */
const MAX_CAS_ATTEMPTS = 50

function parseJsonObject(key: string, text: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new MalformedMetadataError(key, 'not JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new MalformedMetadataError(key, 'not an object')
  return value as Record<string, unknown>
}

/** The bindings of a `security/acls` value; MalformedMetadataError when any is not a valid binding. */
export function parseAclsRecord(key: string, text: string): AclBinding[] {
  const o = parseJsonObject(key, text) as Partial<AclsRecord>
  const problem = invalidBindingList(o.bindings)
  if (problem) throw new MalformedMetadataError(key, `bindings: ${problem}`)
  return o.bindings as AclBinding[]
}

/** The credentials of a `security/scram/<user>` value (entries of unknown mechanisms are skipped). */
export function parseScramUserRecord(key: string, text: string): UserCredentials {
  const o = parseJsonObject(key, text) as Partial<ScramUserRecord>
  if (typeof o.mechanisms !== 'object' || o.mechanisms === null) throw new MalformedMetadataError(key, 'needs mechanisms')
  const credentials: UserCredentials = new Map()
  for (const [mechanism, entry] of Object.entries(o.mechanisms)) {
    if (!isScramMechanism(mechanism)) continue
    const credential = decodeStoredEntry(entry)
    if (!credential) throw new MalformedMetadataError(key, `${mechanism} needs salt, iterations, storedKey, serverKey`)
    credentials.set(mechanism, credential)
  }
  return credentials
}

function scramUserValue(credentials: UserCredentials): string {
  const mechanisms: Partial<Record<ScramMechanism, StoredEntry>> = {}
  for (const [mechanism, c] of credentials) mechanisms[mechanism] = encodeStoredEntry(c)
  return JSON.stringify({ mechanisms } satisfies ScramUserRecord)
}

/** A key written by a successful transaction: the write is visible once a copy shows `revision` there. */
export interface WrittenKey {
  key: string
  deleted: boolean
}

export interface WriteOutcome<R> {
  result: R
  /** etcd revision of the transaction; undefined when nothing was written. */
  revision: string | undefined
  written: WrittenKey[]
}

export class SecurityMetadata {
  constructor(readonly metadata: ClusterMetadata, private readonly ownsMetadata = false) {}

  /** A connection of its own (the offline CLI): close() closes it. */
  static connect(endpoints: string, cluster: string): SecurityMetadata {
    return new SecurityMetadata(new ClusterMetadata({ endpoints: endpoints.split(',').map((e) => e.trim()).filter(Boolean), cluster }), true)
  }

  get layout(): ClusterMetadata['layout'] { return this.metadata.layout }

  close(): void {
    if (this.ownsMetadata) this.metadata.close()
  }

  async readAcls(): Promise<{ bindings: AclBinding[]; modRevision: string | undefined }> {
    const key = this.layout.acls
    const kv = (await this.metadata.etcd.get(key).exec()).kvs[0]
    return kv ? { bindings: parseAclsRecord(key, kv.value.toString('utf8')), modRevision: kv.mod_revision } : { bindings: [], modRevision: undefined }
  }

  async readUsers(): Promise<Map<string, UserCredentials>> {
    const response = await this.metadata.etcd.getAll().prefix(this.layout.scramPrefix).exec()
    const users = new Map<string, UserCredentials>()
    for (const kv of response.kvs) {
      const key = kv.key.toString('utf8')
      const user = this.layout.userFromScramKey(key)
      if (user !== undefined) users.set(user, parseScramUserRecord(key, kv.value.toString('utf8')))
    }
    return users
  }

  /** Compare-and-swap of `security/acls` with `change(current)`; `next` undefined writes nothing. */
  async updateAcls<R>(change: (current: readonly AclBinding[]) => { next: AclBinding[] | undefined; result: R }): Promise<WriteOutcome<R>> {
    const { etcd } = this.metadata
    const key = this.layout.acls
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const read = await this.readAcls()
      const { next, result } = change(read.bindings)
      if (next === undefined) return { result, revision: undefined, written: [] }
      const txn = read.modRevision === undefined ? etcd.if(key, 'Create', '==', 0) : etcd.if(key, 'Mod', '==', read.modRevision)
      const response = await txn.then(etcd.put(key).value(JSON.stringify({ bindings: next } satisfies AclsRecord))).commit()
      if (response.succeeded) return { result, revision: response.header.revision, written: [{ key, deleted: false }] }
    }
    throw new InvalidConfigError(`ACLs: ${MAX_CAS_ATTEMPTS} conflicting writes in a row, giving up`)
  }

  /**
   * Every user's changes in one transaction that holds only if none of their keys changed since
   * it was read. A user whose deletion names a credential it does not have is reported and left
   * out; the others are written together.
   */
  async alterCredentials(changes: readonly CredentialChange[]): Promise<WriteOutcome<CredentialChangeResults>> {
    const { etcd } = this.metadata
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const reads = await Promise.all(changes.map(async (c) => {
        const key = this.layout.scramUser(c.user)
        const kv = (await etcd.get(key).exec()).kvs[0]
        return { change: c, key, kv, current: kv ? parseScramUserRecord(key, kv.value.toString('utf8')) : new Map() as UserCredentials }
      }))
      const results: CredentialChangeResults = new Map()
      const ops: IOperation[] = []
      const written: WrittenKey[] = []
      let txn: ReturnType<typeof etcd.if> | undefined
      for (const { change, key, kv, current } of reads) {
        const next: UserCredentials = new Map(current)
        const missing = change.deletions.find((m) => !next.has(m))
        if (missing) {
          results.set(change.user, `Attempt to delete a user credential that does not exist: ${change.user} ${missing}`)
          continue
        }
        for (const m of change.deletions) next.delete(m)
        for (const u of change.upsertions) next.set(u.mechanism, u.credential)
        results.set(change.user, null)
        const column = kv ? 'Mod' : 'Create'
        const value = kv ? kv.mod_revision : 0
        txn = txn ? txn.and(key, column, '==', value) : etcd.if(key, column, '==', value)
        if (next.size === 0) {
          if (kv) ops.push(etcd.delete().key(key))
          written.push({ key, deleted: true })
        } else {
          ops.push(etcd.put(key).value(scramUserValue(next)))
          written.push({ key, deleted: false })
        }
      }
      if (!txn || ops.length === 0) return { result: results, revision: undefined, written: [] }
      const response = await txn.then(...ops).commit()
      if (response.succeeded) return { result: results, revision: response.header.revision, written }
    }
    throw new InvalidConfigError(`SCRAM credentials: ${MAX_CAS_ATTEMPTS} conflicting writes in a row, giving up`)
  }
}
