import type { Clock } from '../core/clock.js'
import { CorruptEntryError, ValueTooLargeError } from '../core/errors.js'
import { deserializeValue, type Serializer, serializeValue } from '../core/serializer.js'
import { decodeMeta, encodeEntry, inflatePayload, type LocalEntry } from './entry.js'
import type { LocalTier } from './local-tier.js'
import type { Markers } from './markers.js'
import type { CallOptions } from './options.js'
import type { RemoteTier } from './remote-tier.js'
import type { CacheTier } from './types.js'

export interface Found {
  entry: LocalEntry
  tier: CacheTier
}

export interface TierSettings {
  l1TtlMs: number | undefined
  maxEntryBytes: number
  compressFrom: number | false
  serializer: Serializer
}

/**
 * Reads and writes entries across L1 and L2 with the freshness and tag rules applied: what every
 * public method of the cache goes through. Knows nothing of loaders, flights or namespaces' names.
 */
export class Tiers {
  constructor(
    readonly local: LocalTier | undefined,
    readonly remote: RemoteTier | undefined,
    private readonly markers: Markers,
    private readonly clock: Clock,
    private readonly settings: TierSettings,
    private readonly report: (operation: string, error: Error) => void,
  ) {}

  /**
   * The entry under `full` if it is still servable (fresh or within grace) and no tag of it was
   * invalidated after it was created. An L2 hit is copied into L1 (unless `l1` is false). An expired
   * L1 copy is only the fallback: another instance may have refreshed the entry in L2 already, and
   * serving that beats running the loader again.
   */
  async read(ns: string, full: string, l1: boolean): Promise<Found | undefined> {
    const local = l1 ? this.local : undefined
    let stale: Found | undefined
    if (local) {
      const entry = local.get(full, this.clock.now())
      if (entry !== undefined) {
        if (entry.tags.length === 0 || (await this.#valid(ns, entry.createdAt, entry.tags))) {
          if (this.clock.now() < entry.freshUntil) return { entry, tier: 'l1' }
          stale = { entry, tier: 'l1' }
        } else {
          local.delete(full)
        }
      }
    }
    const remote = await this.#readRemote(ns, full, local)
    if (!remote || !stale) return remote ?? stale
    return remote.entry.freshUntil >= stale.entry.freshUntil ? remote : stale
  }

  /**
   * The L1 entry under `full` when it settles a read on its own, at once: present, fresh, and with no
   * tags to check against the markers. A hit served from it skips {@link read}'s promises, which were
   * a measurable part of a gateway cache hit; anything else takes {@link read}.
   */
  freshLocal(full: string, l1: boolean): Found | undefined {
    if (!l1 || !this.local) return undefined
    const now = this.clock.now()
    const entry = this.local.get(full, now)
    return entry !== undefined && entry.tags.length === 0 && now < entry.freshUntil ? { entry, tier: 'l1' } : undefined
  }

  async #readRemote(ns: string, full: string, local: LocalTier | undefined): Promise<Found | undefined> {
    if (!this.remote) return undefined
    const epoch = local?.epoch
    const data = await this.remote.get(full)
    if (!data) return undefined
    const meta = decodeMeta(data)
    if (!meta) {
      this.report('decode', new CorruptEntryError(full))
      return undefined
    }
    const now = this.clock.now()
    if (now >= meta.staleUntil) return undefined
    if (meta.tags.length > 0 && !(await this.#valid(ns, meta.createdAt, meta.tags))) return undefined
    let value: unknown
    try {
      // Only compressed payloads need the (async, thread-pool) inflate; the common case stays on this tick.
      const payload = meta.compressed ? await inflatePayload(data, meta.payloadAt) : data.subarray(meta.payloadAt)
      value = deserializeValue(this.settings.serializer, payload)
    } catch (err) {
      this.report('decode', err as Error)
      return undefined
    }
    const entry: LocalEntry = {
      value,
      createdAt: meta.createdAt,
      freshUntil: meta.freshUntil,
      staleUntil: meta.staleUntil,
      tags: meta.tags,
      bytes: data.byteLength,
      localUntil: this.#localUntil(now, meta.staleUntil),
    }
    if (local && local.epoch === epoch) local.set(full, entry)
    return { entry, tier: 'l2' }
  }

  /**
   * Writes `value` to both tiers. Throws only for the value itself (too large, not serializable);
   * an L2 that fails is reported and the write returns false, the value stays in L1.
   */
  async write(full: string, value: unknown, call: CallOptions, createdAt: number): Promise<{ bytes: number; stored: boolean }> {
    const payload = serializeValue(this.settings.serializer, value)
    if (payload.byteLength > this.settings.maxEntryBytes) throw new ValueTooLargeError(payload.byteLength, this.settings.maxEntryBytes, 'cache entry')
    const now = this.clock.now()
    const lifetime = call.ttlMs + call.graceMs
    const meta = { createdAt, freshUntil: now + call.ttlMs, staleUntil: now + lifetime, tags: call.tags }
    if (call.l1 && this.local) this.local.set(full, { ...meta, value, bytes: payload.byteLength, localUntil: this.#localUntil(now, meta.staleUntil) })
    if (!this.remote) return { bytes: payload.byteLength, stored: true }
    const encoded = await encodeEntry(meta, payload, this.settings.compressFrom)
    const stored = await this.remote.set(full, encoded, { ttlMs: Math.ceil(lifetime) })
    return { bytes: payload.byteLength, stored }
  }

  async #valid(ns: string, createdAt: number, tags: readonly string[]): Promise<boolean> {
    return createdAt >= (await this.markers.tagTime(ns, tags))
  }

  #localUntil(now: number, staleUntil: number): number {
    const cap = this.settings.l1TtlMs
    return cap === undefined ? staleUntil : Math.min(staleUntil, now + cap)
  }
}
