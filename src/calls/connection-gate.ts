import { UpstreamError } from '../core/errors.js'

interface Waiter {
  grant: () => void
  fail: (error: Error) => void
}

/**
 * Hands out an upstream's connections, at most `perTenant` to one tenant, round-robin between the
 * tenants waiting. Without it the pool is first come, first served: one tenant's burst (or its
 * abandoned calls whose answers the cache still wants) held every socket and the next caller of any
 * tenant waited seconds for one. The pool itself never queues: the gate lets at most `capacity`
 * calls at it.
 */
export class ConnectionGate {
  #inUse = 0
  readonly #held = new Map<string, number>()
  /** Waiters per tenant; Map order is the round-robin order (a tenant served goes to the back). */
  readonly #queues = new Map<string, Waiter[]>()

  constructor(
    private readonly upstream: string,
    readonly capacity: number,
    readonly perTenant: number,
    private readonly waitMs: number,
  ) {}

  /** Connections in use. */
  get inUse(): number {
    return this.#inUse
  }

  /** Calls waiting for a connection. */
  get waiting(): number {
    let count = 0
    for (const queue of this.#queues.values()) count += queue.length
    return count
  }

  /**
   * Resolves with the release function of a connection slot for `tenant`, once one is free; rejects
   * with `E_UPSTREAM_TIMEOUT` after waiting `waitMs`, or with the signal's reason when aborted.
   */
  acquire(tenant: string, signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error)
    const free = this.tryAcquire(tenant)
    if (free) return Promise.resolve(free)
    return new Promise((resolve, reject) => {
      const settle = () => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        this.#drop(tenant, waiter)
      }
      const waiter: Waiter = {
        grant: () => {
          settle()
          resolve(this.#take(tenant))
        },
        fail: (error) => {
          settle()
          reject(error)
        },
      }
      const onAbort = () => waiter.fail(signal?.reason as Error)
      const timer = setTimeout(() => {
        const held = this.#held.get(tenant) ?? 0
        waiter.fail(
          new UpstreamError('E_UPSTREAM_TIMEOUT', this.upstream, `no connection was free within ${this.waitMs} ms (${this.#inUse} of ${this.capacity} in use, ${held} of them by this tenant, which may hold ${this.perTenant})`),
        )
      }, this.waitMs)
      signal?.addEventListener('abort', onAbort, { once: true })
      const queue = this.#queues.get(tenant)
      if (queue) queue.push(waiter)
      else this.#queues.set(tenant, [waiter])
    })
  }

  /** The release function of a slot for `tenant` if one is free now, else undefined (nothing waits). */
  tryAcquire(tenant: string): (() => void) | undefined {
    return this.#inUse < this.capacity && (this.#held.get(tenant) ?? 0) < this.perTenant ? this.#take(tenant) : undefined
  }

  #take(tenant: string): () => void {
    this.#inUse++
    this.#held.set(tenant, (this.#held.get(tenant) ?? 0) + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      this.#inUse--
      const held = (this.#held.get(tenant) ?? 1) - 1
      if (held === 0) this.#held.delete(tenant)
      else this.#held.set(tenant, held)
      this.#next()
    }
  }

  /** Grants the freed slot to the first tenant in round-robin order that may take one more. */
  #next(): void {
    if (this.#inUse >= this.capacity) return
    for (const [tenant, queue] of this.#queues) {
      if ((this.#held.get(tenant) ?? 0) >= this.perTenant) continue
      // To the back of the round: the next free slot goes to another tenant first.
      this.#queues.delete(tenant)
      this.#queues.set(tenant, queue)
      queue[0]?.grant()
      return
    }
  }

  #drop(tenant: string, waiter: Waiter): void {
    const queue = this.#queues.get(tenant)
    if (!queue) return
    const at = queue.indexOf(waiter)
    if (at !== -1) queue.splice(at, 1)
    if (queue.length === 0) this.#queues.delete(tenant)
  }
}
