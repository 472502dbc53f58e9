import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { Algorithm } from '../../src/index.js'
import { RedisCluster } from '../harness/redis-cluster.js'
import { RedisServer } from '../harness/redis-server.js'

const WORKER = fileURLToPath(new URL('../fixtures/consume-worker.js', import.meta.url))
const PROCESSES = 4
const CALLS = 500
const LIMIT = 100

async function lines(child: ChildProcess): Promise<AsyncIterator<string>> {
  const { createInterface } = await import('node:readline')
  return createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
}

/** 4 OS processes x 500 concurrent calls on one key with limit 100: exactly 100 allowed in total. */
async function race(url: string, algorithm: Algorithm, key: string): Promise<{ allowed: number; notFromStore: number }> {
  const children = Array.from({ length: PROCESSES }, () =>
    spawn(process.execPath, [WORKER, url, key, String(CALLS), algorithm, String(LIMIT)], { stdio: ['pipe', 'pipe', 'inherit'] }),
  )
  const readers = await Promise.all(children.map(lines))
  for (const reader of readers) assert.equal((await reader.next()).value, 'ready')
  // Release them together, so their calls really overlap.
  for (const child of children) child.stdin!.end('go\n')
  const results = await Promise.all(readers.map(async (reader) => JSON.parse((await reader.next()).value as string)))
  await Promise.all(children.map((child) => (child.exitCode === null ? once(child, 'exit') : undefined)))
  return results.reduce((a, b) => ({ allowed: a.allowed + b.allowed, notFromStore: a.notFromStore + b.notFromStore }))
}

const ALGORITHMS: Algorithm[] = ['fixed-window', 'sliding-window', 'token-bucket']

const BACKENDS: Array<{ name: string; start: () => Promise<{ url: string; stop: () => Promise<void> }> }> = [
  { name: 'redis standalone', start: () => RedisServer.start() },
  { name: 'redis cluster (3 masters)', start: () => RedisCluster.start() },
]

for (const backend of BACKENDS) {
  describe(`exact across processes: ${backend.name}`, () => {
    let server: { url: string; stop: () => Promise<void> }
    before(async () => {
      server = await backend.start()
    })
    after(() => server.stop())
    for (const algorithm of ALGORITHMS) {
      it(`${algorithm}: ${PROCESSES} processes x ${CALLS} calls, exactly ${LIMIT} allowed`, async () => {
        assert.deepEqual(await race(server.url, algorithm, `race-${algorithm}`), { allowed: LIMIT, notFromStore: 0 })
      })
    }
  })
}
