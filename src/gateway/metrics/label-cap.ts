/** The label value every value past the cap is counted under. */
export const OTHER = 'other'

/**
 * Caps the distinct values one label takes: the first `max` values seen keep their own series, every
 * later one is counted as `other`. Each distinct value is a series in every metric that carries the
 * label, held for the life of the process, so a label fed by callers (tenants, model names) must be
 * bounded or a flood of made-up names becomes a memory leak.
 */
export class LabelCap {
  readonly #seen = new Set<string>()

  constructor(readonly max: number) {}

  value(raw: string): string {
    if (this.#seen.has(raw)) return raw
    if (this.#seen.size >= this.max) return OTHER
    this.#seen.add(raw)
    return raw
  }
}
