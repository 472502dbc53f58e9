import { run } from './processes.js'

const NO_TTL_LUA = "local r = {} for _, k in ipairs(redis.call('KEYS', '*')) do if redis.call('PTTL', k) == -1 then r[#r + 1] = k end end return r"

/** Keys without expiry on the Redis servers at these ports (each Cluster master holds its own keys). */
export async function keysWithoutTtl(ports: number[]): Promise<string[]> {
  const found: string[] = []
  for (const port of ports) {
    const out = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'EVAL', NO_TTL_LUA, '0'])
    found.push(...out.split('\n').filter((line) => line.trim() !== ''))
  }
  return found
}

/** Number of keys on the servers at these ports. */
export async function keyCount(ports: number[]): Promise<number> {
  let total = 0
  for (const port of ports) total += Number((await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'DBSIZE'])).trim())
  return total
}
