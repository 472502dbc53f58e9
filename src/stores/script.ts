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
  options: { crossSlot?: boolean } = {},
): StoreScript<R> {
  const lua = readFileSync(luaFile, 'utf8')
  return { ...scriptOf(name, lua, memory), ...(options.crossSlot ? { crossSlot: crossSlotVariant(lua) } : {}) }
}

/** A store script from its Lua source, e.g. one built at run time. */
export function scriptOf<R>(name: string, lua: string, memory: StoreScript<R>['memory']): StoreScript<R> {
  return { name, lua, sha: createHash('sha1').update(lua).digest('hex'), memory }
}

/**
 * A script's variant for one Redis Cluster node: keys come as arguments (`ARGV[1]` their count, then
 * the keys, then the script's own arguments), so no declared key makes ioredis route the call or a
 * node refuse it as CROSSSLOT, and the `allow-cross-slot-keys` flag (Redis 7) lets it touch keys of
 * every slot the node serves. A key the node does not serve fails the call where it is touched, so
 * a script that reads all its keys before it writes any fails having changed nothing. The script
 * must read its keys and arguments only through `KEYS` and `ARGV`, which the prologue shadows.
 */
export function crossSlotVariant(lua: string): { lua: string; sha: string } {
  const prologue = [
    '#!lua flags=allow-cross-slot-keys',
    'local key_count = tonumber(ARGV[1])',
    'local KEYS, ARGV, given = {}, {}, ARGV',
    'for i = 1, key_count do KEYS[i] = given[i + 1] end',
    'for i = key_count + 2, #given do ARGV[#ARGV + 1] = given[i] end',
    '',
  ].join('\n')
  const variant = prologue + lua
  return { lua: variant, sha: createHash('sha1').update(variant).digest('hex') }
}
