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
    gateway = spawn(command, { shell: true, cwd: root, env: { ...process.env, OPENAI_BASE_URL: upstream.url, OPENAI_API_KEY: 'sk-test', REDIS_URL: '', TOLLGATE_STORE_URL: '', REDIS_HOST: '' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
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

  it('the config example is a valid config', () => {
    const yaml = blocks('yaml').find((b) => b.includes('upstreams:')) as string
    const config = parseConfig(parseYaml(yaml), { OPENAI_API_KEY: 'sk-1', AZURE_OPENAI_KEY: 'az-1' })
    assert.equal(config.upstreams.length, 3)
    assert.equal(config.auth, 'keys')
  })
})
