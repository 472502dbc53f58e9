import type { DemoRequest } from './workload.js'

/**
 * Sends the steps in order, at most `concurrency` requests in flight. The requests of one step start
 * together, once there is room for all of them: concurrent duplicates must really be concurrent to
 * show single-flight. `onDone` hears of each result as it comes (for a progress bar). Once `signal`
 * aborts no step starts; the requests in flight are still awaited.
 */
export async function runSteps<T>(steps: ReadonlyArray<readonly DemoRequest[]>, concurrency: number, sendOne: (request: DemoRequest) => Promise<T>, onDone: (result: T) => void, signal?: AbortSignal): Promise<T[]> {
  const results: T[] = []
  const running = new Set<Promise<void>>()
  for (const step of steps) {
    if (step.length > concurrency) throw new RangeError(`a step of ${step.length} requests cannot start together with a concurrency of ${concurrency}`)
    while (running.size + step.length > concurrency) await Promise.race(running)
    if (signal?.aborted) break
    for (const request of step) {
      const task: Promise<void> = sendOne(request).then((result) => {
        running.delete(task)
        results.push(result)
        onDone(result)
      })
      running.add(task)
    }
  }
  await Promise.all(running)
  return results
}
