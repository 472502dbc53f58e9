import { badRequest } from '../openai-errors.js'

/** Deepest nesting a patch is merged to; a deeper one is refused rather than walked. */
const MAX_DEPTH = 64

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value)

/**
 * RFC 7396 JSON merge patch: objects merge key by key, `null` removes a key, anything else replaces.
 * The result is built in null-prototype objects, so a key such as `__proto__` stays data.
 */
export function mergePatch(target: unknown, patch: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH) throw badRequest(`The patch nests deeper than ${MAX_DEPTH} levels.`)
  if (!isObject(patch)) return patch
  const merged: Record<string, unknown> = Object.create(null) as Record<string, unknown>
  if (isObject(target)) for (const key of Object.keys(target)) merged[key] = target[key]
  for (const key of Object.keys(patch)) {
    const value = patch[key]
    if (value === null) delete merged[key]
    else merged[key] = mergePatch(merged[key], value, depth + 1)
  }
  return merged
}
