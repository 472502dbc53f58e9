import type { ModelRouter } from '../calls/router.js'

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

  constructor(private readonly router: ModelRouter) {}

  async list(): Promise<{ object: 'list'; data: ModelEntry[] }> {
    const byId = new Map<string, ModelEntry>()
    for (const id of this.router.configuredModels()) byId.set(id, { id, object: 'model', created: 0, owned_by: 'tollgate' })
    const open = this.router.upstreams.filter((upstream) => upstream.config.models.some((m) => m.includes('*')))
    const lists = await Promise.all(open.map((upstream) => this.#fetch(upstream.name, () => upstream.call({ route: '/models', method: 'GET' }))))
    for (const models of lists) for (const model of models) if (!byId.has(model.id)) byId.set(model.id, model)
    return { object: 'list', data: [...byId.values()] }
  }

  async #fetch(name: string, call: () => Promise<{ body: { text(): Promise<string> } }>): Promise<ModelEntry[]> {
    const cached = this.#lists.get(name)
    if (cached && Date.now() - cached.at < LIST_TTL_MS) return cached.models
    try {
      const reply = JSON.parse(await (await call()).body.text()) as { data?: Array<Partial<ModelEntry>> }
      const models = (reply.data ?? [])
        .filter((m) => typeof m.id === 'string')
        .map((m) => ({ id: m.id as string, object: 'model' as const, created: m.created ?? 0, owned_by: m.owned_by ?? name }))
      this.#lists.set(name, { at: Date.now(), models })
      return models
    } catch {
      return cached?.models ?? []
    }
  }
}
