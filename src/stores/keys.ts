import { createHash } from 'node:crypto'
import { ValueTooLargeError } from '../core/errors.js'

/**
 * Key layout, in one place (see docs/keys.md):
 *
 *   {keyPrefix}{capability}:{namespace...}:{identifier}
 *
 * The store applies `keyPrefix`; capabilities build the rest. A key whose UTF-8 form is longer than
 * `maxKeyBytes` is replaced by `#` + SHA-256 (hex) of the whole key, so any identifier — 10 kB, binary,
 * newlines — is safe on every backend. A Cluster hash tag (`{...}`, Redis' rule: the first `{` and the
 * first `}` after it) survives hashing, so keys meant to share a slot still do.
 */
export function storageKey(prefix: string, key: string, maxKeyBytes: number): string {
  if (key.length <= maxKeyBytes / 3 || Buffer.byteLength(key) <= maxKeyBytes) {
    // The cheap length test first: a string of n UTF-16 units is at most 3n UTF-8 bytes.
    return prefix + key
  }
  return prefix + hashedKey(key)
}

function hashedKey(key: string): string {
  const digest = createHash('sha256').update(key).digest('hex')
  const tag = hashTag(key)
  return tag === undefined ? `#${digest}` : `{${tag}}#${digest}`
}

/** The Redis Cluster hash tag of a key, if it has a non-empty one. */
export function hashTag(key: string): string | undefined {
  const open = key.indexOf('{')
  if (open === -1) return undefined
  const close = key.indexOf('}', open + 1)
  if (close <= open + 1) return undefined
  return key.slice(open + 1, close)
}

/**
 * Makes an arbitrary identifier safe to embed in a key that carries its own hash tag: braces inside a
 * user id would otherwise move the key to another slot, a huge id would make a huge key, and an empty
 * one would make an empty tag (`{}`), which Redis ignores, hashing each whole key to its own slot.
 */
export function safeIdentifier(id: string, maxBytes = 128): string {
  const braces = id.includes('{') || id.includes('}')
  if (!braces && id !== '' && (id.length <= maxBytes / 3 || Buffer.byteLength(id) <= maxBytes)) return id
  return `#${createHash('sha256').update(id).digest('base64url')}`
}

/** Refuses a value over the store's size cap before anything is written. */
export function checkValueSize(value: Buffer | string, maxBytes: number): void {
  const bytes = Buffer.isBuffer(value) ? value.byteLength : Buffer.byteLength(value)
  if (bytes > maxBytes) throw new ValueTooLargeError(bytes, maxBytes)
}
