/** Result of one load run: throughput and per-call latency percentiles. */
export interface LoadResult {
  name: string
  opsPerSec: number
  p50Ms: number
  p99Ms: number
}

/**
 * Runs `total` calls of `op` with `concurrency` calls in flight at all times, timing each call.
 * A short warm-up (JIT, connections, script cache) runs first and is not counted.
 */
export async function load(name: string, total: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<LoadResult> {
  await drive(Math.min(5_000, total / 10), concurrency, op, undefined)
  const latencies = new Float64Array(total)
  const started = performance.now()
  await drive(total, concurrency, op, latencies)
  const elapsed = performance.now() - started
  latencies.sort()
  return {
    name,
    opsPerSec: (total / elapsed) * 1000,
    p50Ms: latencies[Math.floor(total * 0.5)] as number,
    p99Ms: latencies[Math.floor(total * 0.99)] as number,
  }
}

async function drive(total: number, concurrency: number, op: (i: number) => Promise<unknown>, latencies: Float64Array | undefined) {
  let next = 0
  const worker = async () => {
    for (let i = next++; i < total; i = next++) {
      const start = performance.now()
      await op(i)
      if (latencies) latencies[i] = performance.now() - start
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}

/** A contender in a comparison: opened once, run in every round, closed at the end. */
export interface Contender {
  name: string
  open(): Promise<(i: number) => Promise<unknown>>
  close?(): Promise<void>
}

/**
 * Runs every contender `rounds` times, interleaved (A B C A B C ...), and keeps each one's median
 * round: on a shared machine a burst of outside load then hurts one round of everyone rather than
 * every round of one contender.
 */
export async function compare(contenders: Contender[], total: number, concurrency: number, rounds = 3): Promise<LoadResult[]> {
  const ops = await Promise.all(contenders.map((c) => c.open()))
  const runs: LoadResult[][] = contenders.map(() => [])
  for (let round = 0; round < rounds; round++) {
    for (const [i, contender] of contenders.entries()) {
      runs[i]?.push(await load(contender.name, total, concurrency, ops[i] as (i: number) => Promise<unknown>))
    }
  }
  await Promise.all(contenders.map((c) => c.close?.()))
  return runs.map((results) => results.sort((a, b) => a.opsPerSec - b.opsPerSec)[Math.floor(results.length / 2)] as LoadResult)
}
