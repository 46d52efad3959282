/**
 * Joins the handler list with the generated wire codecs: what dispatch looks up per request
 * and what ApiVersions advertises. Checked once at start-up, so a handler claiming versions
 * its codec cannot read fails loudly instead of at the first request.
 */
import { API_CODECS, type ApiCodec } from '../protocol/messages/index.js'
import type { AnyApiHandler, ApiVersionRange } from './handler.js'

export interface ApiRoute {
  handler: AnyApiHandler
  codec: ApiCodec
}

export class ApiRegistry {
  private readonly routes = new Map<number, ApiRoute>()
  /** Sorted by api key. */
  readonly supported: readonly ApiVersionRange[]

  constructor(handlers: readonly AnyApiHandler[]) {
    for (const handler of handlers) {
      const codec = API_CODECS.get(handler.apiKey)
      if (!codec) throw new Error(`handler for api key ${handler.apiKey} has no wire codec`)
      if (handler.minVersion < codec.minVersion || handler.maxVersion > codec.maxVersion || handler.minVersion > handler.maxVersion) {
        throw new Error(`${codec.name} handler versions ${handler.minVersion}-${handler.maxVersion} are outside its codec's ${codec.minVersion}-${codec.maxVersion}`)
      }
      if (this.routes.has(handler.apiKey)) throw new Error(`two handlers for ${codec.name}`)
      this.routes.set(handler.apiKey, { handler, codec })
    }
    this.supported = [...this.routes.values()]
      .map(({ handler }) => ({ apiKey: handler.apiKey, minVersion: handler.minVersion, maxVersion: handler.maxVersion }))
      .sort((a, b) => a.apiKey - b.apiKey)
  }

  /** The route for an api key and version, or undefined if this broker does not implement it. */
  route(apiKey: number, version: number): ApiRoute | undefined {
    const route = this.routes.get(apiKey)
    if (!route || version < route.handler.minVersion || version > route.handler.maxVersion) return undefined
    return route
  }

  name(apiKey: number): string {
    return this.routes.get(apiKey)?.codec.name ?? `api key ${apiKey}`
  }
}
