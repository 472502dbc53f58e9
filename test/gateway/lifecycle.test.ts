import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { parse } from 'yaml'
import { ConfigError, hashKey, loadConfigFile, parseConfig } from '../../src/index.js'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { startGateway } from './helpers.js'

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url))

describe('gateway lifecycle and config', () => {
  let upstream: FakeUpstream
  let dir: string
  before(async () => {
    upstream = await startFakeUpstream({ chunkDelayMs: 40 })
    dir = mkdtempSync(join(tmpdir(), 'tollgate-config-'))
  })
  after(async () => {
    await upstream.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('graceful shutdown: an in-flight stream finishes, new requests are refused, stores close', async () => {
    const gw = await startGateway(upstream.url)
    const response = await gw.post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'a long answer to finish' }], stream: true })
    const reading = response.text()
    await new Promise((resolve) => setTimeout(resolve, 60))
    const closing = gw.close()
    await assert.rejects(fetch(`${gw.url}/healthz`))
    const text = await reading
    assert.ok(text.endsWith('data: [DONE]\n\n'), 'the stream in flight completed')
    await closing
    await assert.rejects(gw.gateway.store.get('x'), { code: 'E_STORE_CLOSED' })
  })

  it('an invalid config names the field and what was expected', () => {
    const cases: Array<[unknown, string]> = [
      [{ upstreams: [] }, 'upstreams'],
      [{ upstreams: [{ name: 'x', baseUrl: 'not a url' }] }, 'upstreams.0.baseUrl'],
      [{ upstreams: [{ name: 'x', baseUrl: 'http://h/v1' }], server: { port: 'eighty' } }, 'server.port'],
      [{ upstreams: [{ name: 'x', baseUrl: 'http://h/v1' }], auth: 'keys' }, 'keys'],
      [{ upstreams: [{ name: 'x', baseUrl: 'http://h/v1' }], keys: [{ name: 'k', hash: 'plaintext', tenant: 't' }] }, 'keys.0.hash'],
      [{ upstreams: [{ name: 'x', baseUrl: 'http://h/v1' }], cache: { tll: '1h' } }, 'cache.tll'],
      [{ upstreams: [{ name: 'x', baseUrl: 'http://h/v1', apiKey: '${NOT_SET_ANYWHERE}' }] }, 'upstreams.0.apiKey'],
    ]
    for (const [raw, path] of cases) assert.throws(() => parseConfig(raw, {}), (err: ConfigError) => err.code === 'E_CONFIG' && err.path === path, path)
  })

  it('substitutes ${VAR} and ${VAR:-default} from the environment', () => {
    const file = join(dir, 'env.yaml')
    writeFileSync(file, 'upstreams:\n  - name: main\n    baseUrl: ${BASE:-http://localhost:9/v1}\n    apiKey: ${KEY}\ncache:\n  ttl: 10m\n')
    const config = loadConfigFile(file, { KEY: 'sk-test' })
    assert.equal(config.upstreams[0]?.baseUrl, 'http://localhost:9/v1')
    assert.equal(config.upstreams[0]?.apiKey, 'sk-test')
    assert.equal(config.cache.ttl, 600_000)
  })

  it('tollgate start with an invalid file stops with the field path', async () => {
    const file = join(dir, 'bad.yaml')
    writeFileSync(file, 'upstreams:\n  - name: main\n    baseUrl: nope\n')
    const failed = await promisify(execFile)(process.execPath, [CLI, 'start', '--config', file]).then(
      () => assert.fail('start must fail'),
      (err: { code: number; stderr: string }) => err,
    )
    assert.equal(failed.code, 1)
    assert.match(failed.stderr, /upstreams\.0\.baseUrl/)
  })

  it('check-config prints the effective config with secrets masked, and fails naming the field', async () => {
    const file = join(dir, 'check.yaml')
    writeFileSync(file, 'upstreams:\n  - { name: main, baseUrl: "https://api.example.com/v1", apiKey: "${CHECK_KEY}", query: { key: gemini-style-secret, api-version: "2024-10-21", sig: sas-signature-value } }\nstore: { url: "redis://user:hunter2@127.0.0.1:6379/0?password=hunter3" }\n')
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'check-config', file], { env: { ...process.env, CHECK_KEY: 'sk-secret-0123456789' } })
    const shown = parse(stdout) as { upstreams: Array<{ apiKey: string; query: Record<string, string> }>; store: { url: string }; server: { port: number } }
    assert.equal(shown.upstreams[0]?.apiKey, '***6789')
    assert.deepEqual(shown.upstreams[0]?.query, { key: '***cret', 'api-version': '2024-10-21', sig: '***alue' }, 'secret query parameters masked, the others readable')
    assert.equal(shown.store.url, 'redis://***@127.0.0.1:6379/0?password=***')
    assert.equal(shown.server.port, 8080, 'defaults are filled in')
    assert.doesNotMatch(stdout, /sk-secret|hunter|gemini-style|sas-signature/)
    const bad = join(dir, 'check-bad.yaml')
    writeFileSync(bad, 'upstreams:\n  - { name: main, baseUrl: nope }\n')
    const failed = await promisify(execFile)(process.execPath, [CLI, 'check-config', bad]).then(
      () => assert.fail('an invalid config must fail'),
      (err: { code: number; stderr: string }) => err,
    )
    assert.equal(failed.code, 1)
    assert.match(failed.stderr, /upstreams\.0\.baseUrl/)
  })

  it('keys: hash reads the key from stdin (never an argument), create prints a new key and its hash, --help per command', async () => {
    const cli = (args: string[], input = '') =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = execFile(process.execPath, [CLI, ...args], (error, stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stdout, stderr }))
        child.stdin?.end(input)
      })
    assert.equal((await cli(['keys', 'hash'], 'my-key\n')).stdout.trim(), hashKey('my-key'))
    const argument = await cli(['keys', 'hash', 'my-key'])
    assert.equal(argument.code, 2)
    assert.match(argument.stderr, /stdin/)
    assert.equal(argument.stdout, '', 'nothing hashed from an argument')
    const empty = await cli(['keys', 'hash'], '')
    assert.equal(empty.code, 2)
    const created = await cli(['keys', 'create'])
    const [, key, hash] = /key: +(\S+)\nhash: +(\S+)/.exec(created.stdout) ?? []
    assert.match(String(key), /^tg-[A-Za-z0-9_-]{43}$/)
    assert.equal(hash, hashKey(String(key)))
    assert.notEqual((await cli(['keys', 'create'])).stdout, created.stdout, 'a new key each time')
    for (const args of [['keys', 'hash', '--help'], ['keys', '--help'], ['start', '--help']]) {
      const help = await cli(args)
      assert.equal(help.code, 0, args.join(' '))
      assert.match(help.stdout, /^Usage: tollgate /, args.join(' '))
    }
  })

  it('tollgate start on the embedded default serves, then exits cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [CLI, 'start', '--port', '0'], {
      env: { ...process.env, OPENAI_BASE_URL: upstream.url, OPENAI_API_KEY: 'sk-fake', REDIS_URL: '', TOLLGATE_STORE_URL: '' },
      cwd: dir,
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const lines = createInterface({ input: child.stdout! })
    let url = ''
    let warned = false
    for await (const line of lines) {
      const entry = JSON.parse(line) as { msg: string; level: number }
      if (entry.level === 40 && entry.msg.includes('auth: none')) warned = true
      const match = /listening on (http:\/\/\S+)/.exec(entry.msg)
      if (match) {
        url = match[1] as string
        break
      }
    }
    assert.ok(warned, 'auth: none is logged as a warning')
    const reply = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'cli' }] }) })
    assert.equal(reply.status, 200)
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    assert.deepEqual(await exited, [0, null])
  })
})
