// npm run bench:cache — tollgate's two-tier cache against BentoCache and cache-manager v7 (+ @keyv/redis)
// on one private Redis: get on an L1 hit, get on an L2 hit, getOrSet on a miss; then invalidation bus
// propagation and cross-instance single-flight. Writes its tables to docs/benchmarks.md.
import { execFileSync } from 'node:child_process'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis'
import { createCache as createCacheManager } from 'cache-manager'
import { CacheableMemory } from 'cacheable'
import { Keyv } from 'keyv'
import KeyvRedis from '@keyv/redis'
import { createCache, createStore, type Store } from '../src/index.js'
import { RedisServer } from '../test/harness/redis-server.js'
import { type Contender, compare, type LoadResult } from './lib/load.js'
import { machine, table, writeSection } from './lib/report.js'

const HITS = Number(process.env.BENCH_CALLS ?? 200_000)
const MISSES = Math.round(HITS / 4)
const CONCURRENCY = 64
const KEYS = 1_000
const TTL_MS = 10 * 60_000
/** A chat completion of about 1 KB, the kind of value the gateway caches. */
const VALUE = {
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  model: 'gpt-4o-mini',
  choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'lorem ipsum dolor sit amet '.repeat(30) } }],
  usage: { prompt_tokens: 120, completion_tokens: 200, total_tokens: 320 },
}
const key = (i: number) => `q:${i % KEYS}`

interface Peer {
  name: string
  /** Tiered: L1 memory + L2 Redis. */
  tiered(): Promise<{ get(k: string): Promise<unknown>; set(k: string, v: unknown): Promise<unknown>; getOrSet(k: string, f: () => Promise<unknown>): Promise<unknown>; close(): Promise<void> }>
  /** L2 only, so every get is an L2 hit. */
  l2Only(): Promise<{ get(k: string): Promise<unknown>; set(k: string, v: unknown): Promise<unknown>; close(): Promise<void> }>
}

function peers(server: RedisServer): Peer[] {
  const connection = { host: '127.0.0.1', port: server.port }
  const tollgate = (l1: boolean) => {
    const stores: Store[] = []
    const store = createStore({ url: server.url, keyPrefix: l1 ? 'tg:' : 'tg2:', commandTimeout: '2s' })
    stores.push(store)
    const cache = createCache({ store, ttl: TTL_MS, l1: l1 ? { maxBytes: 64 * 1024 * 1024 } : false })
    return {
      get: (k: string) => cache.get(k),
      set: (k: string, v: unknown) => cache.set(k, v),
      getOrSet: (k: string, f: () => Promise<unknown>) => cache.getOrSet(k, f),
      close: async () => {
        await cache.close()
        await store.close()
      },
    }
  }
  const bento = async (l1 = true) => {
    const store = bentostore()
    if (l1) store.useL1Layer(memoryDriver({ maxSize: '64mb' }))
    store.useL2Layer(redisDriver({ connection, prefix: `bento${l1 ? '' : '-l2'}` }))
    if (l1) store.useBus(redisBusDriver({ connection }))
    const cache = new BentoCache({ default: 'tiered', stores: { tiered: store }, ttl: TTL_MS })
    return {
      get: (k: string) => cache.get({ key: k }),
      set: (k: string, v: unknown) => cache.set({ key: k, value: v }),
      getOrSet: (k: string, f: () => Promise<unknown>) => cache.getOrSet({ key: k, factory: f }),
      close: () => cache.disconnectAll(),
    }
  }
  const cacheManager = async (l1 = true) => {
    const redis = new Keyv({ store: new KeyvRedis(server.url), namespace: l1 ? 'cm' : 'cm-l2' })
    const stores = l1 ? [new Keyv({ store: new CacheableMemory({ ttl: TTL_MS, lruSize: 100_000 }) }), redis] : [redis]
    const cache = createCacheManager({ stores, ttl: TTL_MS })
    return {
      get: (k: string) => cache.get(k),
      set: (k: string, v: unknown) => cache.set(k, v, TTL_MS),
      getOrSet: (k: string, f: () => Promise<unknown>) => cache.wrap(k, f, TTL_MS),
      close: () => cache.disconnect().then(() => undefined),
    }
  }
  return [
    { name: 'tollgate', tiered: async () => tollgate(true), l2Only: async () => tollgate(false) },
    { name: 'BentoCache', tiered: () => bento(), l2Only: () => bento(false) },
    { name: 'cache-manager 7 + @keyv/redis', tiered: () => cacheManager(), l2Only: () => cacheManager(false) },
  ]
}

/** redis-benchmark GET of a value of the same size over 64 connections: what any client can get. */
function getCeiling(server: RedisServer): LoadResult {
  const runs = [1, 2, 3].map(() => {
    const csv = execFileSync('redis-benchmark', ['-h', '127.0.0.1', '-p', String(server.port), '-n', String(HITS), '-c', String(CONCURRENCY), '-d', '1100', '-t', 'get', '--csv']).toString()
    const fields = (csv.trim().split('\n').pop() as string).split(',').map((f) => f.replace(/"/g, ''))
    return { name: 'redis-benchmark GET, 64 connections (ceiling)', opsPerSec: Number(fields[1]), p50Ms: Number(fields[4]), p99Ms: Number(fields[6]) }
  })
  return runs.sort((a, b) => a.opsPerSec - b.opsPerSec)[1] as LoadResult
}

type Opened = Awaited<ReturnType<Peer['tiered']>>

/** A contender that opens `make()`, prepares it and runs `op` on it; closed after the rounds. */
function contender<C extends { close(): Promise<void> }>(name: string, make: () => Promise<C>, prepare: (cache: C) => Promise<(i: number) => Promise<unknown>>): Contender {
  let opened: C | undefined
  return {
    name,
    open: async () => prepare((opened = await make())),
    close: async () => opened?.close(),
  }
}

async function throughput(server: RedisServer, list: Peer[]): Promise<{ l1: LoadResult[]; l2: LoadResult[]; miss: LoadResult[] }> {
  const l1 = list.map((peer) =>
    contender(peer.name, peer.tiered, async (cache: Opened) => {
      for (let i = 0; i < KEYS; i++) await cache.set(key(i), VALUE)
      for (let i = 0; i < KEYS; i++) await cache.get(key(i))
      return (i) => cache.get(key(i))
    }),
  )
  const l2 = list.map((peer) =>
    contender(peer.name, peer.l2Only, async (cache) => {
      for (let i = 0; i < KEYS; i++) await cache.set(key(i), VALUE)
      return (i) => cache.get(key(i))
    }),
  )
  let round = 0
  const miss = list.map((peer) =>
    contender(peer.name, peer.tiered, async (cache: Opened) => {
      const prefix = `miss:${peer.name}:`
      // Every call a new key: a true miss, loader included (it answers at once, so the cache's own cost shows).
      return (i) => cache.getOrSet(`${prefix}${round++}:${i}`, async () => VALUE)
    }),
  )
  return {
    l1: await compare(l1, HITS, CONCURRENCY),
    l2: [...(await compare(l2, HITS, CONCURRENCY)), getCeiling(server)],
    miss: await compare(miss, MISSES, CONCURRENCY),
  }
}

/** How long a delete on one instance takes to drop the entry from another instance's L1. */
async function busPropagation(server: RedisServer): Promise<{ p50: number; p99: number; max: number; samples: number }> {
  const stores = [0, 1].map(() => createStore({ url: server.url, keyPrefix: 'bus:' }))
  const [a, b] = stores.map((store) => createCache({ store })) as [ReturnType<typeof createCache>, ReturnType<typeof createCache>]
  await Promise.all([a.ready(), b.ready()])
  const samples: number[] = []
  for (let i = 0; i < 500; i++) {
    await a.set('k', i)
    await b.get('k')
    const dropped = new Promise<number>((resolve) => {
      const off = b.events.on('invalidate', (event) => {
        if (!event.remote) return
        off()
        resolve(performance.now())
      })
    })
    const started = performance.now()
    await a.delete('k')
    samples.push((await dropped) - started)
  }
  await Promise.all([a.close(), b.close()])
  await Promise.all(stores.map((s) => s.close()))
  samples.sort((x, y) => x - y)
  const at = (q: number) => samples[Math.floor(samples.length * q)] as number
  return { p50: at(0.5), p99: at(0.99), max: samples[samples.length - 1] as number, samples: samples.length }
}

/** 20 concurrent getOrSet misses of one key on each of 2 instances: how many loader calls. */
async function crossInstance(list: Peer[]): Promise<string[]> {
  const rows: string[] = []
  for (const peer of list) {
    const instances = [await peer.tiered(), await peer.tiered()]
    let calls = 0
    const loader = async () => {
      calls++
      await new Promise((resolve) => setTimeout(resolve, 100))
      return VALUE
    }
    const k = `flight:${peer.name}:${Date.now()}`
    await Promise.all(instances.flatMap((cache) => Array.from({ length: 20 }, () => cache.getOrSet(k, loader))))
    rows.push(`| ${peer.name} | ${calls} |`)
    await Promise.all(instances.map((cache) => cache.close()))
  }
  return rows
}

const server = await RedisServer.start()
try {
  const where = machine()
  console.log(`cache benchmark: ${where}; ${HITS} hit calls / ${MISSES} miss calls, concurrency ${CONCURRENCY}, ${KEYS} keys`)
  const list = peers(server)
  const results = await throughput(server, list)
  const base = 'BentoCache'
  for (const [name, rows] of Object.entries(results)) console.log(`${name}\n${table(rows, base)}`)
  const bus = await busPropagation(server)
  console.log(`bus propagation: p50 ${bus.p50.toFixed(3)} ms, p99 ${bus.p99.toFixed(3)} ms`)
  const flights = await crossInstance(list)
  const flightTable = ['| library | loader calls |', '| --- | ---: |', ...flights].join('\n')
  console.log(flightTable)
  writeSection(
    'bench:cache',
    [
      '### Cache (`npm run bench:cache`)',
      '',
      `${where}. One private redis-server on loopback shared by every row. A ~1 KB chat-completion object per entry, ${KEYS} keys, ${CONCURRENCY} calls in flight; three interleaved rounds, median round shown. Each library uses its own best API: \`get\`, and \`getOrSet\` (BentoCache) / \`wrap\` (cache-manager) for misses. BentoCache runs with its Redis bus (its recommended multi-instance setup) and its default L1, which stores entries serialized and parses them on every hit (its \`serialize: false\` mode, live objects like tollgate's L1, fails in 1.6.1 on the first L1 hit with \`Cannot read properties of undefined (reading 'deserialize')\`, so it is not in the table).`,
      '',
      `**\`get\` on an L1 hit** (${HITS.toLocaleString('en-US')} calls; the entry is in process memory)`,
      '',
      table(results.l1, base),
      '',
      `**\`get\` on an L2 hit** (${HITS.toLocaleString('en-US')} calls; L2-only instances, so every read is a Redis round trip and a decode)`,
      '',
      table(results.l2, base),
      '',
      `**\`getOrSet\` on a miss** (${MISSES.toLocaleString('en-US')} calls, each a new key; the loader answers at once). tollgate's miss takes a cross-instance lease (SET NX, a second look, DEL) that the others do not have.`,
      '',
      table(results.miss, base),
      '',
      `**Invalidation bus**: a \`delete\` on one instance drops the entry from another instance's L1 after p50 ${bus.p50.toFixed(2)} ms, p99 ${bus.p99.toFixed(2)} ms, max ${bus.max.toFixed(2)} ms (${bus.samples} samples, two caches on separate connections).`,
      '',
      '**Cross-instance single-flight**: 20 concurrent `getOrSet` misses of one key on each of 2 instances (loader takes 100 ms):',
      '',
      flightTable,
    ].join('\n'),
  )
} finally {
  await server.stop()
}
