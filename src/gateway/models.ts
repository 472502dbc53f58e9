import type { ModelRouter } from '../calls/router.js'
import type { Upstream } from '../calls/upstream.js'

interface ModelEntry {
  id: string
  object: 'model'
  created: number
  owned_by: string
}

/** How long an upstream's model list is reused: it changes rarely, and /v1/models is polled by UIs. */
const LIST_TTL_MS = 60_000

/**
 * `GET /v1/models`: the models named in the config and the aliases, plus, for upstreams that serve
 * any model (`*`), the upstream's own list. An upstream that fails to list is left out, not fatal.
 */
export class ModelList {
  readonly #lists = new Map<string, { at: number; models: ModelEntry[] }>()
  /** One fetch per upstream at a time: a burst of polls costs the upstream one call. */
  readonly #fetching = new Map<string, Promise<ModelEntry[]>>()

  constructor(private readonly router: ModelRouter) {}

  /** The list, as `tenant` (whose connection share a fetch uses) asks for it. */
  async list(tenant: string): Promise<{ object: 'list'; data: ModelEntry[] }> {
    const byId = new Map<string, ModelEntry>()
    for (const id of this.router.configuredModels()) byId.set(id, { id, object: 'model', created: 0, owned_by: 'tollgate' })
    const open = this.router.upstreams.filter((upstream) => upstream.config.models.some((m) => m.includes('*')))
    const lists = await Promise.all(open.map((upstream) => this.#models(upstream, tenant)))
    for (const models of lists) for (const model of models) if (!byId.has(model.id)) byId.set(model.id, model)
    return { object: 'list', data: [...byId.values()] }
  }

  #models(upstream: Upstream, tenant: string): Promise<ModelEntry[]> {
    const cached = this.#lists.get(upstream.name)
    if (cached && Date.now() - cached.at < LIST_TTL_MS) return Promise.resolve(cached.models)
    let fetching = this.#fetching.get(upstream.name)
    if (!fetching) {
      fetching = this.#fetch(upstream, tenant).finally(() => this.#fetching.delete(upstream.name))
      this.#fetching.set(upstream.name, fetching)
    }
    return fetching
  }

  async #fetch(upstream: Upstream, tenant: string): Promise<ModelEntry[]> {
    try {
      const response = await upstream.call({ route: '/models', method: 'GET', tenant })
      const reply = (await upstream.readJson(response)) as { data?: unknown } | null
      const models = (Array.isArray(reply?.data) ? (reply.data as Array<Partial<ModelEntry> | null>) : [])
        .filter((m) => typeof m?.id === 'string')
        .map((m) => ({ id: m?.id as string, object: 'model' as const, created: typeof m?.created === 'number' ? m.created : 0, owned_by: typeof m?.owned_by === 'string' ? m.owned_by : upstream.name }))
      this.#lists.set(upstream.name, { at: Date.now(), models })
      return models
    } catch {
      return this.#lists.get(upstream.name)?.models ?? []
    }
  }
}
