import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { it } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'

const root = fileURLToPath(new URL('../../', import.meta.url))
const library = pathToFileURL(join(root, 'build/src/index.js')).href

/** Every ```ts block of the README that imports 'tollgate' must run as written. */
const blocks = [...readFileSync(join(root, 'README.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)]
  .map((match) => match[1] as string)
  .filter((code) => code.includes("from 'tollgate'"))

it('the README has runnable examples', () => assert.ok(blocks.length > 0))

for (const [i, code] of blocks.entries()) {
  it(`README example #${i + 1} runs`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-readme-'))
    try {
      const file = join(dir, 'example.mjs')
      writeFileSync(file, code.replaceAll("from 'tollgate'", `from '${library}'`))
      const { stderr } = await promisify(execFile)(process.execPath, [file], { timeout: 30_000 })
      assert.equal(stderr, '')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
}
