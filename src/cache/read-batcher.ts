interface Waiter {
  resolve(value: Buffer | null): void
  reject(error: unknown): void
}

/**
 * Gathers the L2 reads issued in one tick into one `getMany` (MGET on Redis). Under concurrency —
 * a gateway answering many requests, replies arriving together in one socket read — dozens of reads
 * start in the same tick; one command for all of them costs Redis and Node a fraction of dozens.
 * A lone read goes out as a plain GET, a tick later than it would have: nothing waits on a timer.
 */
export class ReadBatcher {
  #keys: string[] = []
  #waiters: Waiter[] = []

  constructor(
    private readonly getOne: (key: string) => Promise<Buffer | null>,
    private readonly getMany: (keys: string[]) => Promise<Array<Buffer | null>>,
  ) {}

  get(key: string): Promise<Buffer | null> {
    return new Promise((resolve, reject) => {
      if (this.#keys.length === 0) process.nextTick(this.#flush)
      this.#keys.push(key)
      this.#waiters.push({ resolve, reject })
    })
  }

  readonly #flush = (): void => {
    const keys = this.#keys
    const waiters = this.#waiters
    this.#keys = []
    this.#waiters = []
    if (keys.length === 1) {
      const waiter = waiters[0] as Waiter
      this.getOne(keys[0] as string).then(waiter.resolve, waiter.reject)
      return
    }
    this.getMany(keys).then(
      (values) => {
        for (let i = 0; i < waiters.length; i++) (waiters[i] as Waiter).resolve(values[i] ?? null)
      },
      (error) => {
        for (const waiter of waiters) waiter.reject(error)
      },
    )
  }
}
