import { promisify } from 'node:util'
import { deflateRaw, inflateRaw } from 'node:zlib'

const deflate = promisify(deflateRaw)
const inflate = promisify(inflateRaw)

/** What the cache knows about one entry besides its value. Times are ms since the epoch. */
export interface EntryMeta {
  /**
   * When the value was produced: the loader's start, not its end, so a tag invalidated while a loader
   * ran makes that loader's result stale at once. May carry a fraction (see `Markers`).
   */
  createdAt: number
  /** Fresh until then; served as a hit. */
  freshUntil: number
  /** After `freshUntil`, served stale (grace) until then; gone afterwards. */
  staleUntil: number
  tags: readonly string[]
}

/** An entry as L1 holds it: the live value, so an L1 hit costs no parsing. */
export interface LocalEntry<T = unknown> extends EntryMeta {
  value: T
  /** When L1 must drop it (never later than `staleUntil`, which is when L2 drops it). */
  localUntil: number
  /** Serialized size, for L1's byte budget. */
  bytes: number
}

/**
 * L2 layout, binary so a hit parses three doubles instead of a JSON envelope:
 *
 *   'T' version(1) flags(1) createdAt(f64) freshUntil(f64) staleUntil(f64) tagBytes(u32) tags payload
 *
 * Tags are joined with '\n' (tags cannot contain one). Flag bit 0: payload is deflated.
 */
const MAGIC = 0x54
const VERSION = 1
const HEADER = 3 + 8 * 3 + 4
const COMPRESSED = 1

export async function encodeEntry(meta: EntryMeta, payload: Buffer, compressFrom: number | false): Promise<Buffer> {
  let flags = 0
  let body = payload
  if (compressFrom !== false && payload.byteLength >= compressFrom) {
    const deflated = await deflate(payload)
    // Incompressible data (already compressed, random) would only grow and cost an inflate per read.
    if (deflated.byteLength < payload.byteLength) {
      body = deflated
      flags |= COMPRESSED
    }
  }
  const tags = Buffer.from(meta.tags.join('\n'), 'utf8')
  const out = Buffer.allocUnsafe(HEADER + tags.byteLength + body.byteLength)
  out[0] = MAGIC
  out[1] = VERSION
  out[2] = flags
  out.writeDoubleLE(meta.createdAt, 3)
  out.writeDoubleLE(meta.freshUntil, 11)
  out.writeDoubleLE(meta.staleUntil, 19)
  out.writeUInt32LE(tags.byteLength, 27)
  tags.copy(out, HEADER)
  body.copy(out, HEADER + tags.byteLength)
  return out
}

/** Reads the header; returns undefined for bytes that are not a tollgate entry of this version. */
export function decodeMeta(data: Buffer): (EntryMeta & { payloadAt: number; compressed: boolean }) | undefined {
  if (data.byteLength < HEADER || data[0] !== MAGIC || data[1] !== VERSION) return undefined
  const tagBytes = data.readUInt32LE(27)
  if (HEADER + tagBytes > data.byteLength) return undefined
  const tagText = tagBytes === 0 ? '' : data.toString('utf8', HEADER, HEADER + tagBytes)
  return {
    createdAt: data.readDoubleLE(3),
    freshUntil: data.readDoubleLE(11),
    staleUntil: data.readDoubleLE(19),
    tags: tagText === '' ? [] : tagText.split('\n'),
    payloadAt: HEADER + tagBytes,
    compressed: ((data[2] as number) & COMPRESSED) !== 0,
  }
}

export function inflatePayload(data: Buffer, payloadAt: number): Promise<Buffer> {
  return inflate(data.subarray(payloadAt))
}
