/**
 * `ringlog acls add | list | remove`: the broker's ACLs over the wire (CreateAcls, DescribeAcls,
 * DeleteAcls), like kafka-acls.sh. The broker must run with `--authorizer on` (else
 * SECURITY_DISABLED) and the caller needs ALTER (add, remove) or DESCRIBE (list) on the cluster,
 * which a super user has. Any error in an answer is a failure: one `ringlog: ...` line, exit 1.
 * In cluster mode any broker takes them (the ACLs live in etcd); `--etcd host:port` changes the
 * cluster's ACLs in etcd directly, with no broker running.
 */
import type { Command } from 'commander'
import { InvalidConfigError } from '../errors.js'
import { ApiKey, type KafkaWireClient } from '../kafka-client/kafka-wire-client.js'
import { withWireClient } from '../kafka-client/negotiated-client.js'
import { ErrorCode, errorCodeName } from '../protocol/error-codes.js'
import {
  AclOperation, AclPermission, CLUSTER_RESOURCE_NAME, describeBinding, operationByName, PatternType, ResourceType, WILDCARD,
  type AclBinding, type AclFilter,
} from '../security/acl.js'
import { filterMatches, invalidBinding } from '../security/acl.js'
import { withBindings, withoutMatching } from '../security/acl-store.js'
import { connectOptions, withBrokerLogin, type BrokerLoginOptions } from './broker-login.js'
import { type EtcdSecurityOptions, withEtcdSecurity, withSecurityMetadata } from './security-etcd.js'

interface ResourceOptions {
  topic?: string
  group?: string
  cluster?: boolean
  transactionalId?: string
  prefixed?: boolean
}

interface AclOptions extends BrokerLoginOptions, ResourceOptions, EtcdSecurityOptions {
  allow?: string
  deny?: string
  operation?: string[]
  host?: string
  principal?: string
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

export class AclCommandError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'AclCommandError'
  }
}

function failIf(errorCode: number, message: string | null | undefined, what: string): void {
  if (errorCode !== ErrorCode.NONE) throw new AclCommandError(`${what}: ${errorCodeName(errorCode)}${message ? ` (${message})` : ''}`)
}

/** The one resource the options name, or undefined when none is named (list/remove: every resource). */
function resourceOf(o: ResourceOptions): { type: number; name: string; pattern: number } | undefined {
  const named = [o.topic !== undefined, o.group !== undefined, o.cluster === true, o.transactionalId !== undefined].filter(Boolean).length
  if (named > 1) throw new InvalidConfigError('name one resource: --topic, --group, --cluster or --transactional-id')
  if (named === 0) return undefined
  const pattern = o.prefixed ? PatternType.PREFIXED : PatternType.LITERAL
  if (o.cluster) {
    if (o.prefixed) throw new InvalidConfigError('--prefixed does not apply to --cluster')
    return { type: ResourceType.CLUSTER, name: CLUSTER_RESOURCE_NAME, pattern }
  }
  if (o.topic !== undefined) return { type: ResourceType.TOPIC, name: o.topic, pattern }
  if (o.group !== undefined) return { type: ResourceType.GROUP, name: o.group, pattern }
  return { type: ResourceType.TRANSACTIONAL_ID, name: o.transactionalId!, pattern }
}

function operationsOf(names: readonly string[] | undefined, required: boolean): number[] {
  if (!names || names.length === 0) {
    if (required) throw new InvalidConfigError('--operation is required (Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite, All)')
    return [AclOperation.ANY]
  }
  return names.map((name) => {
    const code = operationByName(name)
    if (code === undefined) throw new InvalidConfigError(`unknown --operation "${name}"`)
    return code
  })
}

function principalOf(text: string): string {
  if (!/^[^:]+:.+$/.test(text)) throw new InvalidConfigError(`principal must look like User:alice, got "${text}"`)
  return text
}

/** The permission and principal of --allow / --deny (exactly one when `required`). */
function grantOf(o: AclOptions, required: boolean): { permission: number; principal: string | null } {
  if (o.allow !== undefined && o.deny !== undefined) throw new InvalidConfigError('give --allow or --deny, not both')
  if (o.allow !== undefined) return { permission: AclPermission.ALLOW, principal: principalOf(o.allow) }
  if (o.deny !== undefined) return { permission: AclPermission.DENY, principal: principalOf(o.deny) }
  if (required) throw new InvalidConfigError('--allow <principal> or --deny <principal> is required')
  return { permission: AclPermission.ANY, principal: o.principal === undefined ? null : principalOf(o.principal) }
}

export async function createAcls(client: KafkaWireClient, bindings: readonly AclBinding[]): Promise<void> {
  const response = await client.request(ApiKey.CreateAcls, client.version(ApiKey.CreateAcls, { min: 1 }), {
    creations: bindings.map((b) => ({
      resourceType: b.resourceType, resourceName: b.resourceName, resourcePatternType: b.patternType,
      principal: b.principal, host: b.host, operation: b.operation, permissionType: b.permission,
    })),
  })
  response.results.forEach((r, i) => failIf(r.errorCode, r.errorMessage, `cannot add ${describeBinding(bindings[i])}`))
}

export async function describeAcls(client: KafkaWireClient, f: AclFilter): Promise<AclBinding[]> {
  const response = await client.request(ApiKey.DescribeAcls, client.version(ApiKey.DescribeAcls, { min: 1 }), {
    resourceTypeFilter: f.resourceType, resourceNameFilter: f.resourceName, patternTypeFilter: f.patternType,
    principalFilter: f.principal, hostFilter: f.host, operation: f.operation, permissionType: f.permission,
  })
  failIf(response.errorCode, response.errorMessage, 'cannot list ACLs')
  return response.resources.flatMap((r) => r.acls.map((a) => ({
    resourceType: r.resourceType, resourceName: r.resourceName, patternType: r.patternType,
    principal: a.principal, host: a.host, operation: a.operation, permission: a.permissionType,
  })))
}

export async function deleteAcls(client: KafkaWireClient, filters: readonly AclFilter[]): Promise<AclBinding[]> {
  const response = await client.request(ApiKey.DeleteAcls, client.version(ApiKey.DeleteAcls, { min: 1 }), {
    filters: filters.map((f) => ({
      resourceTypeFilter: f.resourceType, resourceNameFilter: f.resourceName, patternTypeFilter: f.patternType,
      principalFilter: f.principal, hostFilter: f.host, operation: f.operation, permissionType: f.permission,
    })),
  })
  const removed: AclBinding[] = []
  for (const r of response.filterResults) {
    failIf(r.errorCode, r.errorMessage, 'cannot remove ACLs')
    for (const m of r.matchingAcls) {
      removed.push({ resourceType: m.resourceType, resourceName: m.resourceName, patternType: m.patternType, principal: m.principal, host: m.host, operation: m.operation, permission: m.permissionType })
    }
  }
  return removed
}

/** The filters of list/remove: the named resource (or all), the principal and permission, each operation given (or any). */
function filtersOf(o: AclOptions): AclFilter[] {
  const resource = resourceOf(o)
  const { permission, principal } = grantOf(o, false)
  return operationsOf(o.operation, false).map((operation) => ({
    resourceType: resource?.type ?? ResourceType.ANY, resourceName: resource?.name ?? null,
    patternType: resource ? resource.pattern : PatternType.ANY, principal, host: o.host ?? null, operation, permission,
  }))
}

/** --etcd given: the cluster's ACLs in etcd instead of a broker (-b is then not allowed). */
function inEtcd(options: AclOptions, argv: readonly string[] = process.argv): options is AclOptions & { etcd: string } {
  if (options.etcd === undefined) return false
  if (argv.some((a) => a === '-b' || a === '--bootstrap' || a.startsWith('--bootstrap='))) throw new InvalidConfigError('give -b (a running broker) or --etcd (the cluster\'s etcd), not both')
  return true
}

function resourceOptions(command: Command): Command {
  return withEtcdSecurity(command)
    .option('--topic <name>', 'a topic (with --prefixed: every topic whose name starts with it)')
    .option('--group <name>', 'a consumer group')
    .option('--cluster', `the cluster (${CLUSTER_RESOURCE_NAME})`)
    .option('--transactional-id <id>', 'a transactional id')
    .option('--prefixed', 'the resource name is a prefix (pattern type PREFIXED)')
}

export function register(program: Command): void {
  const acls = program.command('acls').description('ACLs of a running broker started with --authorizer on (or of a cluster, in etcd with --etcd)')
  withBrokerLogin(resourceOptions(acls.command('add')))
    .description('allow or deny a principal operations on a resource')
    .option('--allow <principal>', 'allow this principal (User:bob, User:* for everyone)')
    .option('--deny <principal>', 'deny this principal (a DENY wins over any ALLOW)')
    .option('--operation <op>', 'Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite or All (repeatable)', collect)
    .option('--host <host>', 'only from this address', WILDCARD)
    .action(async (options: AclOptions) => {
      const resource = resourceOf(options)
      if (!resource) throw new InvalidConfigError('name a resource: --topic, --group, --cluster or --transactional-id')
      const { permission, principal } = grantOf(options, true)
      const bindings = operationsOf(options.operation, true).map((operation): AclBinding => ({
        resourceType: resource.type, resourceName: resource.name, patternType: resource.pattern, principal: principal!, host: options.host ?? WILDCARD, operation, permission,
      }))
      if (inEtcd(options)) {
        for (const b of bindings) {
          const problem = invalidBinding(b)
          if (problem) throw new AclCommandError(`cannot add ${describeBinding(b)}: ${problem}`)
        }
        await withSecurityMetadata(options, (metadata) => metadata.updateAcls((current) => ({ next: withBindings(current, bindings), result: undefined })))
      } else {
        await withWireClient(options.bootstrap, (client) => createAcls(client, bindings), connectOptions(options, 'ringlog-acls'))
      }
      for (const b of bindings) process.stdout.write(`added\t${describeBinding(b)}\n`)
    })
  withBrokerLogin(resourceOptions(acls.command('list')))
    .description('print the ACLs (all, or those of a resource / principal), one per line')
    .option('--principal <principal>', 'only this principal')
    .action(async (options: AclOptions) => {
      const [filter] = filtersOf({ ...options, operation: undefined })
      const bindings = inEtcd(options)
        ? await withSecurityMetadata(options, async (metadata) => (await metadata.readAcls()).bindings.filter((b) => filterMatches(filter, b)))
        : await withWireClient(options.bootstrap, (client) => describeAcls(client, filter), connectOptions(options, 'ringlog-acls'))
      for (const b of bindings) process.stdout.write(`${describeBinding(b)}\n`)
    })
  withBrokerLogin(resourceOptions(acls.command('remove')))
    .description('remove the ACLs that match (a resource, --allow/--deny principal, --operation; omitted: any)')
    .option('--allow <principal>', 'only ALLOW ACLs of this principal')
    .option('--deny <principal>', 'only DENY ACLs of this principal')
    .option('--principal <principal>', 'ACLs of this principal, allow or deny')
    .option('--operation <op>', 'only this operation (repeatable)', collect)
    .option('--host <host>', 'only ACLs for this host')
    .action(async (options: AclOptions) => {
      const filters = filtersOf(options)
      if (filters.every((f) => f.resourceType === ResourceType.ANY && f.principal === null)) {
        throw new InvalidConfigError('name a resource or a principal: removing every ACL at once is not done by accident')
      }
      const removed = inEtcd(options)
        ? await withSecurityMetadata(options, async (metadata) => (await metadata.updateAcls((current) => {
          const { kept, removed } = withoutMatching(current, filters)
          return { next: kept.length === current.length ? undefined : kept, result: removed.flat() }
        })).result)
        : await withWireClient(options.bootstrap, (client) => deleteAcls(client, filters), connectOptions(options, 'ringlog-acls'))
      if (removed.length === 0) throw new AclCommandError('no ACL matches')
      for (const b of removed) process.stdout.write(`removed\t${describeBinding(b)}\n`)
    })
}
