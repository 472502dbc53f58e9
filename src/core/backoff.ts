/**
 * Exponential reconnect delay with jitter, capped: a restarted server is found again within about
 * `max` ms, and many instances reconnecting at once don't arrive in lockstep.
 */
export function backoff(min: number, max: number): (retries: number) => number {
  return (retries) => Math.min(max, min * 2 ** Math.min(retries, 16)) + Math.floor(Math.random() * min)
}
