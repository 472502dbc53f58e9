import assert from 'node:assert/strict'
import { it } from 'node:test'
import { tollgatePlugin } from '../../../src/integrations/fastify/index.js'
import { useRedisSessions } from '../http-helpers.js'
import { app, serve } from './helpers.js'

const env = useRedisSessions()

async function sessionApp(secret?: string) {
  const f = app()
  await f.register(tollgatePlugin, { global: false, sessions: { sessionStore: env.sessionStore, ...(secret ? { secret } : {}) } })
  f.post('/count', async (request) => request.session.update((s) => ({ ...s, n: Number(s?.n ?? 0) + 1 })))
  f.get('/read', async (request) => ({ session: (await request.session.get()) ?? null }))
  f.post('/logout', async (request) => {
    await request.session.destroy()
    return 'bye'
  })
  return f
}

const cookieOf = (response: Response) => response.headers.get('set-cookie')?.split(';')[0] ?? ''

it('a session survives a cookie round trip: HttpOnly, SameSite=Lax, random id, stored in the session store', async () => {
  const f = await sessionApp()
  try {
    const url = await serve(f)
    const first = await fetch(`${url}/count`, { method: 'POST' })
    assert.deepEqual(await first.json(), { n: 1 })
    const setCookie = first.headers.get('set-cookie') ?? ''
    assert.match(setCookie, /^sid=[\w-]{32}; Path=\/; HttpOnly; SameSite=Lax$/)
    const cookie = cookieOf(first)
    const second = await fetch(`${url}/count`, { method: 'POST', headers: { cookie } })
    assert.deepEqual(await second.json(), { n: 2 })
    assert.equal(second.headers.get('set-cookie'), null, 'a known session sends no new cookie')
    assert.deepEqual(await (await fetch(`${url}/read`, { headers: { cookie } })).json(), { session: { n: 2 } })
    assert.deepEqual(await env.sessionStore.get(cookie.slice('sid='.length)), { n: 2 })
    const reading = await fetch(`${url}/read`)
    assert.equal(reading.headers.get('set-cookie'), null, 'reading without a session creates none')
    await reading.arrayBuffer()
    const logout = await fetch(`${url}/logout`, { method: 'POST', headers: { cookie } })
    assert.match(logout.headers.get('set-cookie') ?? '', /^sid=; .*Max-Age=0/)
    await logout.arrayBuffer()
    assert.equal(await env.sessionStore.get(cookie.slice('sid='.length)), undefined)
  } finally {
    await f.close()
  }
})

it('concurrent updates of one session on two instances lose nothing (compare-and-set)', async () => {
  const [a, b] = [await sessionApp(), await sessionApp()]
  try {
    const urls = [await serve(a), await serve(b)]
    const cookie = cookieOf(await fetch(`${urls[0]}/count`, { method: 'POST' }))
    await Promise.all(Array.from({ length: 40 }, (_, i) => fetch(`${urls[i % 2]}/count`, { method: 'POST', headers: { cookie } }).then((r) => r.arrayBuffer())))
    assert.deepEqual(await env.sessionStore.get(cookie.slice('sid='.length)), { n: 41 })
  } finally {
    await a.close()
    await b.close()
  }
})

it('never adopts a session id the server did not make, and refuses a forged signature', async () => {
  const f = await sessionApp('a-secret-of-sixteen+')
  try {
    const url = await serve(f)
    const fixated = await fetch(`${url}/count`, { method: 'POST', headers: { cookie: 'sid=attacker-chosen-id' } })
    const issued = cookieOf(fixated)
    await fixated.arrayBuffer()
    assert.ok(!issued.includes('attacker-chosen-id'))
    assert.equal(await env.sessionStore.get('attacker-chosen-id'), undefined)
    assert.match(issued, /^sid=[\w-]{32}\.[\w-]{43}$/, 'signed: id.signature')
    assert.deepEqual(await (await fetch(`${url}/read`, { headers: { cookie: issued } })).json(), { session: { n: 1 } })
    const forged = `${issued.slice(0, -3)}AAA`
    assert.deepEqual(await (await fetch(`${url}/read`, { headers: { cookie: forged } })).json(), { session: null })
  } finally {
    await f.close()
  }
})
