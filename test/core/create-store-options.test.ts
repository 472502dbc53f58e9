import assert from 'node:assert/strict'
import { it } from 'node:test'
import { createStore, InvalidOptionError, storeOptionsFromEnv } from '../../src/index.js'
import { parseStoreUrl } from '../../src/stores/url.js'

function refuses(options: Record<string, unknown>, option: string): void {
  assert.throws(
    () => createStore(options as never),
    (err: unknown) => err instanceof InvalidOptionError && err.code === 'E_INVALID_OPTION' && err.option === option,
    `expected E_INVALID_OPTION for ${option}`,
  )
}

it('refuses bad store options with E_INVALID_OPTION naming the option', () => {
  refuses({ url: 'postgres://x' }, 'url')
  refuses({ url: 'redis://h:99999' }, 'url')
  refuses({ url: 'redis://a:1,b:2' }, 'url')
  refuses({ url: 'redis+sentinel://a:1' }, 'url')
  refuses({ url: 'redis+cluster://a:1/3' }, 'url')
  refuses({ url: 42 }, 'url')
  refuses({ commandTimeout: -5 }, 'commandTimeout')
  refuses({ commandTimeout: '10 parsecs' }, 'commandTimeout')
  refuses({ connectTimeout: 0 }, 'connectTimeout')
  refuses({ maxValueBytes: 1.5 }, 'maxValueBytes')
  refuses({ maxBytes: 10 }, 'maxBytes')
  refuses({ keyPrefix: 7 }, 'keyPrefix')
  refuses({ clock: {} }, 'clock')
  refuses({ urll: 'memory://' }, 'urll')
  refuses({ url: 'memcached://127.0.0.1:1', keyPrefix: 'p'.repeat(190) }, 'keyPrefix')
})

it('the error message names the option, the value and what was expected', () => {
  assert.throws(
    () => createStore({ commandTimeout: '10 parsecs' as never }),
    /Invalid option "commandTimeout": got "10 parsecs", expected .*'10s'/,
  )
})

it('parses every URL scheme, with credentials masked in the name', () => {
  const redis = parseStoreUrl('rediss://user:s%40cret@cache.local:6380/4')
  assert.deepEqual(
    { kind: redis.kind, tls: redis.tls, hosts: redis.hosts, user: redis.username, pass: redis.password, db: redis.database },
    { kind: 'redis', tls: true, hosts: [{ host: 'cache.local', port: 6380 }], user: 'user', pass: 's@cret', db: 4 },
  )
  assert.equal(redis.safe, 'rediss://***@cache.local:6380/4')
  assert.equal(parseStoreUrl('valkey://h').kind, 'redis')
  const cluster = parseStoreUrl('redis+cluster://a:7000,b:7001,[::1]:7002')
  assert.deepEqual(cluster.hosts, [
    { host: 'a', port: 7000 },
    { host: 'b', port: 7001 },
    { host: '::1', port: 7002 },
  ])
  const sentinel = parseStoreUrl('redis+sentinel://:pw@s1:26379,s2/mymaster/2')
  assert.deepEqual(
    [sentinel.kind, sentinel.masterName, sentinel.database, sentinel.hosts[1]?.port],
    ['redis-sentinel', 'mymaster', 2, 26379],
  )
  assert.deepEqual(parseStoreUrl('memcached://m1,m2:11212').hosts, [
    { host: 'm1', port: 11211 },
    { host: 'm2', port: 11212 },
  ])
})

it('reads the REDIS_* and TOLLGATE_* environment variables', () => {
  assert.deepEqual(storeOptionsFromEnv({}), {})
  assert.deepEqual(storeOptionsFromEnv({ REDIS_URL: 'redis://r:1/2', REDIS_KEY_PREFIX: 'bot:' }), {
    url: 'redis://r:1/2',
    keyPrefix: 'bot:',
  })
  assert.deepEqual(storeOptionsFromEnv({ REDIS_HOST: 'r', REDIS_PORT: '6380', REDIS_DB: '3', REDIS_PASSWORD: 'p@ss' }), {
    url: 'redis://:p%40ss@r:6380/3',
  })
  assert.deepEqual(storeOptionsFromEnv({ TOLLGATE_STORE_URL: 'memcached://m:1', REDIS_URL: 'redis://r' }), { url: 'memcached://m:1' })
  assert.throws(() => storeOptionsFromEnv({ REDIS_HOST: 'r', REDIS_PORT: 'abc' }), { code: 'E_INVALID_OPTION', option: 'REDIS_PORT' })
})
