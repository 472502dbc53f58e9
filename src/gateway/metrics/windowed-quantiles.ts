/** A histogram as the registry reads it: its `_bucket` samples carry an `le` label. */
interface HistogramFamily {
  get(): Promise<{ values: Array<{ labels: Partial<Record<string, string | number>>; value: number; metricName?: string }> }>
}

interface Snapshot {
  at: number
  /** Cumulative count per bucket bound (`+Inf` last), summed over every label set. */
  counts: number[]
}

/**
 * Quantiles of a histogram over its last `windowMs`, as Prometheus' `histogram_quantile` over a range
 * would give them: from the difference between the bucket counts now and a snapshot taken a window
 * ago, interpolated within the bucket. It costs nothing per observation (a summary would keep a
 * digest per age bucket and feed each one on every request), at the price of bucket resolution.
 */
export class WindowedQuantiles {
  readonly #snapshots: Snapshot[] = []
  readonly #timer: NodeJS.Timeout

  constructor(
    private readonly histogram: HistogramFamily,
    private readonly bounds: readonly number[],
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {
    // The base of the first window: everything observed from now on counts, not only what follows
    // the first timed snapshot.
    this.#snapshots.push({ at: now(), counts: new Array<number>(bounds.length + 1).fill(0) })
    // Without a snapshot now and then, a window read rarely would reach back further than asked.
    this.#timer = setInterval(() => void this.#snapshot(), Math.max(1_000, windowMs / 6))
    this.#timer.unref()
  }

  /** The quantiles `qs` (0..1) in the histogram's unit over the window; null where nothing was observed. */
  async quantiles(qs: readonly number[]): Promise<Array<number | null>> {
    const latest = await this.#snapshot()
    const counts = latest.counts.map((count, i) => count - (this.#base(latest).counts[i] ?? 0))
    const total = counts[counts.length - 1] ?? 0
    return qs.map((q) => (total === 0 ? null : this.#quantile(q, counts, total)))
  }

  close(): void {
    clearInterval(this.#timer)
  }

  #quantile(q: number, counts: number[], total: number): number {
    const rank = q * total
    let i = counts.findIndex((count) => count >= rank)
    if (i === -1) i = counts.length - 1
    // Past the last finite bound nothing says how far: the bound itself, as Prometheus answers.
    if (i >= this.bounds.length) return this.bounds[this.bounds.length - 1] as number
    const upper = this.bounds[i] as number
    const lower = i === 0 ? 0 : (this.bounds[i - 1] as number)
    const below = i === 0 ? 0 : (counts[i - 1] as number)
    const inBucket = (counts[i] as number) - below
    return inBucket === 0 ? upper : lower + ((upper - lower) * (rank - below)) / inBucket
  }

  async #snapshot(): Promise<Snapshot> {
    const { values } = await this.histogram.get()
    const counts = new Array<number>(this.bounds.length + 1).fill(0)
    for (const value of values) {
      if (!value.metricName?.endsWith('_bucket')) continue
      const le = value.labels.le
      const i = le === '+Inf' ? this.bounds.length : this.bounds.indexOf(Number(le))
      if (i !== -1) counts[i] = (counts[i] as number) + value.value
    }
    const at = this.now()
    const snapshot = { at, counts }
    this.#snapshots.push(snapshot)
    // Only the newest snapshot from before the window is still needed (see #base).
    while (this.#snapshots.length > 2 && (this.#snapshots[1] as Snapshot).at <= at - this.windowMs) this.#snapshots.shift()
    return snapshot
  }

  /**
   * What `latest` is counted from: the oldest snapshot inside the window, or, when no other snapshot
   * falls inside it, the last one before it (a little more than the window rather than nothing).
   */
  #base(latest: Snapshot): Snapshot {
    const [first, second] = this.#snapshots as [Snapshot, Snapshot | undefined]
    if (first.at >= latest.at - this.windowMs || second === undefined || second === latest) return first
    return second
  }
}
