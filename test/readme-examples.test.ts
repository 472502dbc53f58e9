import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, it } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { type FakeUpstream, startFakeUpstream } from './fixtures/fake-upstream.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const built = (path: string) => pathToFileURL(join(root, 'build/src', path)).href

/** Every ```ts block of the README that imports 'tollgate' or one of its subpaths must run as written. */
const blocks = [...readFileSync(join(root, 'README.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)]
  .map((match) => match[1] as string)
  .filter((code) => /from 'tollgate(\/[\w-]+)?'/.test(code))

/** The example as Node runs it: `tollgate` and `tollgate/<integration>` point at the build. */
function runnable(code: string): string {
  return code
    .replaceAll("from 'tollgate'", `from '${built('index.js')}'`)
    .replace(/from 'tollgate\/([\w-]+)'/g, (_, name: string) => `from '${built(`integrations/${name}/index.js`)}'`)
}

// What the examples reach instead of the network: `new OpenAI()` reads OPENAI_BASE_URL and OPENAI_API_KEY.
let upstream: FakeUpstream
before(async () => {
  upstream = await startFakeUpstream()
})
after(() => upstream.close())

it('the README has runnable examples', () => assert.ok(blocks.length > 0))

for (const [i, code] of blocks.entries()) {
  it(`README example #${i + 1} runs`, async () => {
    // Inside the project, so that the frameworks an example imports resolve from its node_modules.
    const parent = join(root, 'build/readme-examples')
    mkdirSync(parent, { recursive: true })
    const dir = mkdtempSync(join(parent, 'example-'))
    try {
      const file = join(dir, 'example.mjs')
      writeFileSync(file, runnable(code))
      const env = { ...process.env, OPENAI_BASE_URL: upstream.url, OPENAI_API_KEY: 'sk-readme' }
      const { stderr } = await promisify(execFile)(process.execPath, [file], { timeout: 30_000, env })
      assert.equal(stderr, '')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
}
