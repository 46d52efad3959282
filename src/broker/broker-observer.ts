/**
 * The broker's RequestObserver: feeds the metrics (when enabled) and writes the logs that
 * follow requests. info: topics created and deleted over the wire, group rebalances (the
 * leader's JoinGroup answer, once per generation); debug: connections (address, client id,
 * software name and version from ApiVersions v3+) and every request (api, version, latency,
 * first error code). Nothing here logs at info per produce or fetch.
 */
import type { CreateTopicsRequest, CreateTopicsResponse } from '../protocol/messages/create-topics.js'
import type { DeleteTopicsResponse } from '../protocol/messages/delete-topics.js'
import type { ApiVersionsRequest } from '../protocol/messages/api-versions.js'
import type { JoinGroupRequest, JoinGroupResponse } from '../protocol/messages/join-group.js'
import type { ProduceRequest } from '../protocol/messages/produce.js'
import { errorCodeName } from '../protocol/error-codes.js'
import type { RinglogMetrics } from '../metrics/ringlog-metrics.js'
import type { ConnectionInfo } from './handler.js'
import type { BrokerLogger } from './logger.js'
import type { RequestObserver, RequestOutcome } from './request-observer.js'
import { replyErrorCodes } from './reply-error-codes.js'

const enum ApiKey { Produce = 0, JoinGroup = 11, ApiVersions = 18, CreateTopics = 19, DeleteTopics = 20 }
const NO_ERRORS: readonly number[] = []

function peer(connection: ConnectionInfo): string {
  return `${connection.remoteAddress}:${connection.remotePort}`
}

export class BrokerObserver implements RequestObserver {
  /** Connections whose client was already described in a debug line. */
  private readonly identified = new Set<number>()

  constructor(private readonly log: BrokerLogger, private readonly metrics?: RinglogMetrics) {}

  connectionOpened(connection: ConnectionInfo): void {
    this.metrics?.connectionOpened()
    if (this.log.debugEnabled) this.log.debug?.('connection accepted', { conn: connection.id, peer: peer(connection) })
  }

  connectionClosed(connection: ConnectionInfo): void {
    this.metrics?.connectionClosed()
    this.identified.delete(connection.id)
    if (this.log.debugEnabled) this.log.debug?.('connection closed', { conn: connection.id, peer: peer(connection) })
  }

  requestDone(outcome: RequestOutcome): void {
    const { header, reply } = outcome
    const seconds = Number(process.hrtime.bigint() - outcome.startedNs) / 1e9
    const debug = this.log.debugEnabled === true
    // The error walk only when something reads it (metrics, debug lines).
    const errors = reply.kind === 'message' && (this.metrics || debug) ? replyErrorCodes(reply.message) : NO_ERRORS
    if (this.metrics) {
      this.metrics.requestDone(outcome.api, seconds, errors)
      if (header.apiKey === ApiKey.Produce) this.meterProduce(outcome.request as ProduceRequest)
    }
    if (reply.kind === 'message') this.logLifecycle(outcome)
    if (!debug) return
    if (!this.identified.has(outcome.connection.id)) this.identify(outcome)
    this.log.debug?.('request', {
      conn: outcome.connection.id, api: outcome.api, version: header.apiVersion, correlationId: header.correlationId,
      ms: Math.round(seconds * 1e6) / 1000, error: errors.length > 0 ? errorCodeName(errors[0]) : 'NONE',
    })
  }

  private meterProduce(request: ProduceRequest): void {
    for (const topic of request.topicData) {
      for (const p of topic.partitionData) if (p.records && p.index >= 0) this.metrics!.produced(topic.name, p.index, p.records.length)
    }
  }

  private identify(outcome: RequestOutcome): void {
    this.identified.add(outcome.connection.id)
    const versions = outcome.header.apiKey === ApiKey.ApiVersions ? outcome.request as ApiVersionsRequest : undefined
    this.log.debug?.('client', {
      conn: outcome.connection.id, peer: peer(outcome.connection), clientId: outcome.header.clientId,
      software: versions?.clientSoftwareName || undefined, softwareVersion: versions?.clientSoftwareVersion || undefined,
    })
  }

  private logLifecycle(outcome: RequestOutcome): void {
    const message = (outcome.reply as { message: unknown }).message
    const from = peer(outcome.connection)
    switch (outcome.header.apiKey) {
      case ApiKey.CreateTopics: {
        const request = outcome.request as CreateTopicsRequest
        if (request.validateOnly) return
        for (const t of (message as CreateTopicsResponse).topics) {
          if (t.errorCode === 0) this.log.info('topic created', { topic: t.name, partitions: t.numPartitions, peer: from })
        }
        return
      }
      case ApiKey.DeleteTopics:
        for (const t of (message as DeleteTopicsResponse).responses) {
          if (t.errorCode === 0) this.log.info('topic deleted', { topic: t.name, peer: from })
        }
        return
      case ApiKey.JoinGroup: {
        const r = message as JoinGroupResponse
        if (r.errorCode !== 0 || r.memberId !== r.leader) return
        this.log.info('group rebalanced', { group: (outcome.request as JoinGroupRequest).groupId, generation: r.generationId, members: r.members.length, protocol: r.protocolName })
        return
      }
    }
  }
}
