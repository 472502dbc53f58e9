import type { Store } from '../../src/index.js'

/**
 * A chaos wrapper around a real store: its scripts run, and `garble` changes what they answer (a
 * proxy's, a damaged server's or another script's reply), so a test can see what callers get.
 */
export function garbledReplies(store: Store, garble: (reply: number[]) => unknown): Store {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'runScript') return async (...args: Parameters<Store['runScript']>) => garble((await target.runScript(...args)) as number[])
      const value = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}
