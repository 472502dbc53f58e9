/** The label value every value past the cap is counted under. */
export const OTHER = 'other'

/**
 * Caps the distinct values one label takes: the first `max` values admitted keep their own series,
 * every later one is counted as `other`. Each distinct value is a series in every metric that carries
 * the label, held for the life of the process, so a label fed by callers (tenants, model names) must be
 * bounded or a flood of made-up names becomes a memory leak. `reserved` values (the configured models)
 * hold their slots from the start, so callers cannot crowd them out.
 */
export class LabelCap {
  readonly #seen = new Set<string>()

  constructor(
    readonly max: number,
    reserved: readonly string[] = [],
  ) {
    for (const value of reserved.slice(0, max)) this.#seen.add(value)
  }

  /** The value's label if it already has one, else `other`: for what must not claim a slot (a failed call's made-up model name). */
  known(raw: string): string {
    return this.#seen.has(raw) ? raw : OTHER
  }

  /** The value's label, admitting it while there is room. */
  value(raw: string): string {
    if (this.#seen.has(raw)) return raw
    if (this.#seen.size >= this.max) return OTHER
    this.#seen.add(raw)
    return raw
  }
}
