import assert from 'node:assert/strict'
import { exec, spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { parse as parseYaml } from 'yaml'
import { parseConfig } from '../../src/index.js'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'

const ADMIN_TOKEN = 'readme-admin-token-0123456789'
const root = fileURLToPath(new URL('../../../', import.meta.url))
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const blocks = (fence: string) => [...readme.matchAll(new RegExp('```' + fence + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1] as string)

/**
 * The README's quick start, as written: `npx tollgate start` on the embedded default (port 8080, no
 * config, no Redis), then its curl line and its openai SDK snippet. Only the upstream differs: the
 * fake one, through OPENAI_BASE_URL, as the README says any OpenAI-compatible server can be.
 */
describe('README quick start', () => {
  let upstream: FakeUpstream
  let gateway: ReturnType<typeof spawn>
  before(async () => {
    upstream = await startFakeUpstream()
    const start = blocks('sh').flatMap((b) => b.split('\n')).find((line) => line.includes('npx tollgate start')) as string
    assert.ok(start, 'the quick start starts the gateway')
    const command = start.split('#')[0]?.trim().replace(/^OPENAI_API_KEY=\S+\s+/, '') as string
    gateway = spawn(command, { shell: true, cwd: root, env: { ...process.env, OPENAI_BASE_URL: upstream.url, OPENAI_API_KEY: 'sk-test', REDIS_URL: '', TOLLGATE_STORE_URL: '', REDIS_HOST: '', TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    let stderr = ''
    gateway.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    let listening = false
    for await (const line of createInterface({ input: gateway.stdout! })) {
      if (line.includes('listening on http://127.0.0.1:8080')) {
        listening = true
        break
      }
    }
    gateway.stdout!.resume()
    assert.ok(listening, `\`${command}\` did not start (is port 8080 free?):\n${stderr}`)
  })
  after(async () => {
    if (gateway.exitCode === null && gateway.signalCode === null) {
      const exited = once(gateway, 'exit')
      process.kill(-(gateway.pid as number), 'SIGTERM')
      await exited
    }
    await upstream.close()
  })

  it('the curl line gets a reply, and the same call again is a cache hit', async () => {
    const curl = blocks('sh').find((b) => b.startsWith('curl')) as string
    const first = (await promisify(exec)(curl, { cwd: root })).stdout
    assert.match(first, /^HTTP\/1\.1 200/)
    assert.match(first, /x-tollgate-cache: MISS/i)
    assert.match(first, /"content":"echo Say hi t=none"/)
    assert.match((await promisify(exec)(curl, { cwd: root })).stdout, /x-tollgate-cache: HIT/i)
  })

  it('the openai SDK snippet prints the reply', async () => {
    const snippet = blocks('js').find((b) => b.includes("from 'openai'")) as string
    const file = join(root, 'build', 'readme-sdk-snippet.mjs')
    writeFileSync(file, snippet)
    try {
      const { stdout } = await promisify(exec)(`${JSON.stringify(process.execPath)} ${JSON.stringify(file)}`, { cwd: root })
      assert.equal(stdout.trim(), 'echo Say hi t=none')
    } finally {
      rmSync(file, { force: true })
    }
  })

  it('the admin curl invalidates by tag', async () => {
    const curl = blocks('sh').find((b) => b.startsWith('curl') && b.includes('/admin/')) as string
    assert.ok(curl, 'the README shows an admin call')
    const { stdout } = await promisify(exec)(curl, { cwd: root, env: { ...process.env, TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN } })
    assert.deepEqual(JSON.parse(stdout), { invalidated: { namespaces: ['t/default'], tags: ['persona:support'] } })
  })

  it('the config example is a valid config', () => {
    const yaml = blocks('yaml').find((b) => b.includes('upstreams:')) as string
    const config = parseConfig(parseYaml(yaml), { OPENAI_API_KEY: 'sk-1', AZURE_OPENAI_KEY: 'az-1', TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN })
    assert.equal(config.upstreams.length, 3)
    assert.equal(config.auth, 'keys')
  })
})

describe('README demo line', () => {
  it('runs offline and prints the table, its upstream calls the fake upstream\'s own count', async () => {
    const line = blocks('sh').flatMap((b) => b.split('\n')).find((l) => l.includes('npx tollgate demo')) as string
    assert.ok(line, 'the quick start runs the demo')
    // --exit: the test cannot press Ctrl-C; --port 0: the quick start's gateway test holds 8080.
    const command = `${line.split('#')[0]?.trim()} --exit --port 0`
    const env: NodeJS.ProcessEnv = { ...process.env }
    for (const name of ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'REDIS_URL', 'TOLLGATE_STORE_URL', 'TOLLGATE_CONFIG', 'TOLLGATE_ADMIN_TOKEN']) delete env[name]
    const { stdout } = await promisify(exec)(command, { cwd: root, env, timeout: 120_000 })
    const made = Number(/upstream calls made +(\d+)/.exec(stdout)?.[1])
    assert.ok(made > 0, stdout)
    assert.equal(Number(/the fake upstream counted (\d+)/.exec(stdout)?.[1]), made)
    assert.match(stdout, /USD saved +\$0\.\d*[1-9]/)
    assert.match(readme, /upstream calls made +\d+ +the fake upstream counted \d+/, 'the README shows a real table')
  })
})
