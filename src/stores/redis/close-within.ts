import type { RedisClient } from './redis-client.js'

/**
 * Closes `client` gracefully (QUIT waits for the replies of commands in flight) for up to
 * `timeoutMs`, then drops it: a paused server may never send them.
 */
export async function closeWithin(client: RedisClient, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  let closed = false
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs)
  })
  const graceful = (client.status === 'ready' ? client.quit() : Promise.resolve())
    .catch(() => undefined)
    .then(() => {
      closed = true
    })
  await Promise.race([graceful, timeout])
  clearTimeout(timer)
  if (!closed || client.status !== 'end') client.disconnect()
}
