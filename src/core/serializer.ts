import { SerializationError } from './errors.js'

/**
 * Turns values into bytes and back, for caches and sessions. Only data formats belong here: a
 * serializer that can revive code (pickle, `eval`, class revivers) turns a writable store into remote
 * code execution, which is exactly the trap tollgate exists to avoid.
 */
export interface Serializer {
  serialize(value: unknown): Buffer | string
  deserialize(data: Buffer): unknown
}

/** JSON: the default. `undefined` cannot be represented, so callers treat it as "nothing to store". */
export const jsonSerializer: Serializer = {
  serialize: (value) => JSON.stringify(value),
  deserialize: (data) => JSON.parse(data.toString('utf8')),
}

/** Runs `serializer.serialize`, turning its failures (BigInt, cycles) into one typed error. */
export function serializeValue(serializer: Serializer, value: unknown): Buffer {
  let data: Buffer | string
  try {
    data = serializer.serialize(value)
  } catch (err) {
    throw new SerializationError('serialize the value', { cause: err })
  }
  if (typeof data === 'string') return Buffer.from(data, 'utf8')
  if (Buffer.isBuffer(data)) return data
  throw new SerializationError('serialize the value', { cause: new TypeError('the serializer returned neither a string nor a Buffer') })
}

/** Runs `serializer.deserialize`; a failure means a corrupt or foreign entry. */
export function deserializeValue(serializer: Serializer, data: Buffer): unknown {
  try {
    return serializer.deserialize(data)
  } catch (err) {
    throw new SerializationError('deserialize a stored value', { cause: err })
  }
}
