import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { MemoryScriptContext, StoreScript } from './types.js'

/**
 * Defines a store script from a `.lua` file next to the calling module and its TypeScript twin.
 * The file is read once, at definition time; the SHA-1 is computed locally so the first call can go
 * straight to EVALSHA (the store falls back to EVAL when the server answers NOSCRIPT).
 */
export function defineScript<R>(
  name: string,
  luaFile: URL,
  memory: (ctx: MemoryScriptContext, keys: string[], args: string[]) => R,
): StoreScript<R> {
  const lua = readFileSync(luaFile, 'utf8')
  return { name, lua, sha: createHash('sha1').update(lua).digest('hex'), memory }
}
