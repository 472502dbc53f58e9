import type { RemoteTier } from './remote-tier.js'

export interface LeaseOptions {
  ttlMs: number
  waitMs: number
  pollMinMs: number
  pollMaxMs: number
  now(): number
}

/**
 * Cross-instance single-flight over L2. The first instance to miss takes a short lease (SET NX PX) and
 * runs the loader; the others look at L2 for its result with a growing delay, and try the lease again
 * each time, so they take over as soon as a leader fails (it releases the lease) or dies (the lease
 * expires). Past `waitMs` a follower loads by itself: a stuck leader costs a bounded wait, never an
 * outage. If L2 cannot be reached at all, everyone loads; single-flight is an optimisation, not a lock.
 *
 * `lookup` reads the entry (undefined when absent), `load` runs the loader and writes the result to L2
 * before returning, so a follower that sees the lease gone finds the value.
 */
export async function withLease<T>(
  remote: RemoteTier,
  leaseKey: string,
  owner: string,
  options: LeaseOptions,
  lookup: () => Promise<T | undefined>,
  load: () => Promise<T>,
  onWait: () => void,
): Promise<T> {
  const deadline = options.now() + options.waitMs
  let delay = options.pollMinMs
  let waited = false
  for (;;) {
    const lease = await remote.acquire(leaseKey, owner, options.ttlMs)
    if (lease === 'failed') return load()
    if (lease === 'acquired') {
      try {
        // Between our miss and our lease a leader may have finished and released: look once more.
        const found = waited ? undefined : await lookup()
        return found !== undefined ? found : await load()
      } finally {
        await remote.delete([leaseKey])
      }
    }
    if (!waited) onWait()
    waited = true
    const left = deadline - options.now()
    if (left <= 0) return load()
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, left)))
    delay = Math.min(delay * 2, options.pollMaxMs)
    const found = await lookup()
    if (found !== undefined) return found
  }
}
