import type { RemoteTier } from './remote-tier.js'

export interface LeaseOptions {
  ttlMs: number
  waitMs: number
  pollMinMs: number
  pollMaxMs: number
  now(): number
}

/** What a leader's loader can tell its followers on other instances. */
export interface LeaderLease {
  /** The store's clock when the lease was taken, where the store has one. */
  readonly storeTime: number | undefined
  /** This load's value will not be cached: followers stop waiting for it and load themselves. */
  giveUp(): void
}

/** The state a leader writes after its owner name when its followers should stop waiting. */
const GIVEN_UP = 'uncached'

/**
 * A lease this instance holds while its loader runs: renewed every third of its ttl by
 * compare-and-extend, so a loader longer than the ttl keeps it (and a dead instance's lease still
 * expires within one ttl), and released by compare-and-delete, so a leader whose lease had expired
 * never deletes the one another instance took since.
 */
class HeldLease implements LeaderLease {
  #value: string
  #timer: NodeJS.Timeout | undefined
  #renewing: Promise<unknown> | undefined

  constructor(
    private readonly remote: RemoteTier,
    private readonly key: string,
    private readonly owner: string,
    private readonly ttlMs: number,
    readonly storeTime: number | undefined,
  ) {
    this.#value = owner
    this.#timer = setInterval(() => this.#renew(), Math.max(1, Math.floor(ttlMs / 3)))
    // Renewal is bookkeeping for a loader that runs anyway: it never keeps a process alive by itself.
    this.#timer.unref()
  }

  giveUp(): void {
    if (this.#value !== this.owner) return
    this.#value = `${this.owner} ${GIVEN_UP}`
    this.#renew()
  }

  async release(): Promise<void> {
    this.#stop()
    await this.#renewing
    await this.remote.releaseLease(this.key, this.owner)
  }

  #renew(): void {
    if (this.#renewing) return
    this.#renewing = this.remote.renewLease(this.key, this.owner, this.ttlMs, this.#value).then((answer) => {
      this.#renewing = undefined
      // Lost (expired, or taken by another): renewing further would be wrong. A failed renewal (one
      // slow command) is tried again at the next interval: the lease has two more left before it ends.
      if (answer === 'lost') this.#stop()
    })
  }

  #stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}

/**
 * Cross-instance single-flight over L2. The first instance to miss takes a lease and runs the loader,
 * renewing the lease while it runs; the others look at L2 for its result with a growing delay, and
 * try the lease again each time, so they take over as soon as a leader fails (it releases the lease)
 * or dies (the lease expires within one ttl). A follower loads by itself when the leader says its
 * value will not be cached ({@link LeaderLease.giveUp}), and past `waitMs` in any case: a stuck
 * leader costs a bounded wait, never an outage. If L2 cannot be reached at all, everyone loads;
 * single-flight is an optimisation, not a lock.
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
  load: (lease: LeaderLease | undefined) => Promise<T>,
  onWait: () => void,
): Promise<T> {
  const deadline = options.now() + options.waitMs
  let delay = options.pollMinMs
  let waited = false
  for (;;) {
    const answer = await remote.acquire(leaseKey, owner, options.ttlMs)
    if (answer === 'failed') return load(undefined)
    if (answer.taken) {
      const lease = new HeldLease(remote, leaseKey, owner, options.ttlMs, answer.storeTime)
      try {
        // Between our miss and our lease a leader may have finished and released: look once more.
        const found = waited ? undefined : await lookup()
        return found !== undefined ? found : await load(lease)
      } finally {
        await lease.release()
      }
    }
    if (answer.holder.endsWith(` ${GIVEN_UP}`)) return load(undefined)
    if (!waited) onWait()
    waited = true
    const left = deadline - options.now()
    if (left <= 0) return load(undefined)
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, left)))
    delay = Math.min(delay * 2, options.pollMaxMs)
    const found = await lookup()
    if (found !== undefined) return found
  }
}
