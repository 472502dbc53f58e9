import { CorruptEntryError } from '../../core/errors.js'

type Path = Array<string | number>

/**
 * A JSON-safe copy of a model result or of a stream's parts, and where it held Dates (stored as
 * milliseconds) and byte arrays (stored as base64): JSON would turn the first into strings and the
 * second into objects of numbered keys, and the AI SDK reads `response.timestamp` as a Date and file
 * data as bytes. The paths are kept beside the value rather than marked inside it, so no key or string
 * a model produces can be mistaken for a marker.
 */
export interface Snapshot {
  value: unknown
  dates?: Path[]
  bytes?: Path[]
}

/** Thrown inside the walk: what cannot be cached whole is not cached at all. */
class Uncacheable extends Error {}

/**
 * The snapshot of `value`, or undefined when it holds something JSON cannot carry back (a function,
 * a BigInt, an Error, a class instance) or nests deeper than `maxDepth`.
 */
export function takeSnapshot(value: unknown, maxDepth: number): Snapshot | undefined {
  const dates: Path[] = []
  const bytes: Path[] = []
  const path: Path = []
  const copy = (node: unknown, depth: number): unknown => {
    if (node === null || typeof node === 'string' || typeof node === 'boolean') return node
    if (typeof node === 'number') return Number.isFinite(node) ? node : null
    if (typeof node !== 'object') throw new Uncacheable()
    if (depth >= maxDepth) throw new Uncacheable()
    if (node instanceof Date) {
      dates.push([...path])
      return node.getTime()
    }
    if (ArrayBuffer.isView(node)) {
      bytes.push([...path])
      return Buffer.from(node.buffer, node.byteOffset, node.byteLength).toString('base64')
    }
    if (Array.isArray(node)) {
      return node.map((item, i) => {
        path.push(i)
        const out = item === undefined ? null : copy(item, depth + 1)
        path.pop()
        return out
      })
    }
    const proto = Object.getPrototypeOf(node) as unknown
    if (proto !== Object.prototype && proto !== null) throw new Uncacheable()
    const entries: Array<[string, unknown]> = []
    for (const [key, item] of Object.entries(node)) {
      if (item === undefined) continue
      path.push(key)
      entries.push([key, copy(item, depth + 1)])
      path.pop()
    }
    // fromEntries defines properties: a `__proto__` key from a model stays a key, never a prototype.
    return Object.fromEntries(entries)
  }
  try {
    const snapshot: Snapshot = { value: copy(value, 0) }
    if (dates.length > 0) snapshot.dates = dates
    if (bytes.length > 0) snapshot.bytes = bytes
    return snapshot
  } catch (err) {
    if (err instanceof Uncacheable) return undefined
    throw err
  }
}

/**
 * A fresh copy of the snapshot's value with its Dates and byte arrays back. A copy, because cached
 * values read from L1 are shared by every caller and the AI SDK is free to change what it is given.
 */
export function restoreSnapshot(snapshot: Snapshot, key: string): unknown {
  if (snapshot === null || typeof snapshot !== 'object' || !('value' in snapshot)) throw new CorruptEntryError(key)
  const root = { value: structuredClone(snapshot.value) }
  const revive = (paths: unknown, make: (stored: unknown) => unknown) => {
    if (paths === undefined) return
    if (!Array.isArray(paths)) throw new CorruptEntryError(key)
    for (const path of paths as unknown[]) {
      if (!Array.isArray(path)) throw new CorruptEntryError(key)
      let parent: Record<string | number, unknown> = root
      let step: string | number = 'value'
      for (const next of path as unknown[]) {
        const child = parent[step]
        if ((typeof next !== 'string' && typeof next !== 'number') || child === null || typeof child !== 'object' || !Object.hasOwn(child, next)) throw new CorruptEntryError(key)
        parent = child as Record<string | number, unknown>
        step = next
      }
      parent[step] = make(parent[step])
    }
  }
  revive(snapshot.dates, (stored) => {
    if (typeof stored !== 'number') throw new CorruptEntryError(key)
    return new Date(stored)
  })
  revive(snapshot.bytes, (stored) => {
    if (typeof stored !== 'string') throw new CorruptEntryError(key)
    return new Uint8Array(Buffer.from(stored, 'base64'))
  })
  return root.value
}
