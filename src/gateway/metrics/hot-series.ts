import type { Registry } from 'prom-client'

/** One exported sample, in the shape prom-client's registry formats. */
interface Sample {
  value: number
  labels: Record<string, string | number>
  metricName?: string
}

/** What a registry needs of a metric: prom-client calls `get()` when scraped. */
interface Exported {
  name: string
  help: string
  type: 'counter' | 'histogram'
  aggregator: 'sum'
  get(): Promise<{ name: string; help: string; type: 'counter' | 'histogram'; aggregator: 'sum'; values: Sample[] }>
  reset(): void
}

/**
 * A labelled series found by its label values joined in one string: an update is a Map lookup and an
 * add. prom-client validates and hashes a label object on every update (about a microsecond each), and
 * a cache hit makes half a dozen of them; these families are updated on every request, so they count
 * here and are formatted by prom-client's registry only when scraped.
 */
abstract class HotFamily<S extends object> implements Exported {
  abstract readonly type: 'counter' | 'histogram'
  readonly aggregator = 'sum' as const
  protected readonly all = new Map<string, S & { labels: Record<string, string> }>()

  constructor(
    readonly name: string,
    readonly help: string,
    protected readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never)
  }

  /** The series of these label values, made on first use: hold it to update it without a lookup. */
  abstract series(values: readonly string[]): S

  protected find(values: readonly string[], make: () => S): S & { labels: Record<string, string> } {
    const id = values.length === 1 ? (values[0] as string) : values.join('\u0000')
    const found = this.all.get(id)
    if (found) return found
    const labels: Record<string, string> = {}
    this.labelNames.forEach((name, i) => (labels[name] = values[i] as string))
    const made = Object.assign(make(), { labels })
    this.all.set(id, made)
    return made
  }

  async get() {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.samples() }
  }

  /**
   * Zeroes every series in place (prom-client's registry calls this from `resetMetrics()`): updaters
   * hold their series, and a series dropped from here would go on counting where no scrape sees it.
   */
  reset(): void {
    for (const series of this.all.values()) this.zero(series)
  }

  protected abstract zero(series: S): void

  protected abstract samples(): Sample[]
}

export class HotCounter extends HotFamily<{ value: number }> {
  readonly type = 'counter' as const

  series(values: readonly string[]): { value: number } {
    return this.find(values, () => ({ value: 0 }))
  }

  inc(values: readonly string[], by = 1): void {
    this.series(values).value += by
  }

  protected zero(series: { value: number }): void {
    series.value = 0
  }

  protected samples(): Sample[] {
    return [...this.all.values()].map(({ labels, value }) => ({ labels, value }))
  }
}

export class HotHistogram extends HotFamily<{ buckets: Float64Array; sum: number; count: number }> {
  readonly type = 'histogram' as const

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly bounds: readonly number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry)
  }

  series(values: readonly string[]): { buckets: Float64Array; sum: number; count: number } {
    return this.find(values, () => ({ buckets: new Float64Array(this.bounds.length), sum: 0, count: 0 }))
  }

  observe(values: readonly string[], value: number): void {
    this.record(this.series(values), value)
  }

  protected zero(series: { buckets: Float64Array; sum: number; count: number }): void {
    series.buckets.fill(0)
    series.sum = 0
    series.count = 0
  }

  /** Adds `value` to a series held from {@link series}. */
  record(series: { buckets: Float64Array; sum: number; count: number }, value: number): void {
    series.sum += value
    series.count++
    // Counted in the first bucket that holds it; made cumulative when scraped.
    const i = this.bounds.findIndex((bound) => value <= bound)
    if (i !== -1) (series.buckets[i] as number)++
  }

  protected samples(): Sample[] {
    const samples: Sample[] = []
    for (const { labels, buckets, sum, count } of this.all.values()) {
      let cumulative = 0
      this.bounds.forEach((bound, i) => {
        cumulative += buckets[i] as number
        samples.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: bound }, value: cumulative })
      })
      samples.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: count })
      samples.push({ metricName: `${this.name}_sum`, labels, value: sum })
      samples.push({ metricName: `${this.name}_count`, labels, value: count })
    }
    return samples
  }
}
