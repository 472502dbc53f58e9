import { Upstream, type UpstreamClient, type UpstreamSpec } from './upstream.js'

/** Where a call goes; the gateway's routes carry its pooled {@link Upstream}, an SDK integration's its own client. */
export interface Route<U extends UpstreamClient = UpstreamClient> {
  upstream: U
  /** The model name sent upstream (an alias resolved). */
  model: string
}

/** A config pattern (`gpt-*`, `/v1/audio/*`) as a regular expression: `*` is any run of characters, the rest literal. */
export function globToRegExp(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`)
}

/** Picks the upstream for a model: aliases first, then the first upstream whose patterns match. */
export class ModelRouter {
  readonly upstreams: Upstream[]
  readonly #patterns: Array<{ upstream: Upstream; patterns: RegExp[] }>
  readonly #aliases = new Map<string, Route<Upstream>>()

  constructor(configs: UpstreamSpec[]) {
    this.upstreams = configs.map((config) => new Upstream(config))
    this.#patterns = this.upstreams.map((upstream) => ({ upstream, patterns: upstream.config.models.map(globToRegExp) }))
    for (const upstream of this.upstreams) {
      for (const [alias, model] of Object.entries(upstream.config.aliases)) if (!this.#aliases.has(alias)) this.#aliases.set(alias, { upstream, model })
    }
  }

  resolve(model: string): Route<Upstream> | undefined {
    const alias = this.#aliases.get(model)
    if (alias) return alias
    const found = this.#patterns.find(({ patterns }) => patterns.some((pattern) => pattern.test(model)))
    return found ? { upstream: found.upstream, model } : undefined
  }

  /** Model names listed as such in the config (no wildcard) and the aliases. */
  configuredModels(): string[] {
    const names = new Set<string>(this.#aliases.keys())
    for (const upstream of this.upstreams) for (const model of upstream.config.models) if (!model.includes('*')) names.add(model)
    return [...names]
  }

  close(): Promise<void> {
    return Promise.all(this.upstreams.map((u) => u.close())).then(() => undefined)
  }
}
