// Copies the non-TypeScript files that modules load at run time (Lua scripts) next to the compiled
// JavaScript, keeping the folder layout: src/x/y.lua -> <out>/x/y.lua.
import { cpSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

const [from, to] = process.argv.slice(2)
const ASSET = /\.(lua)$/

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) walk(path)
    else if (ASSET.test(name)) cpSync(path, join(to, path.slice(from.length)))
  }
}

walk(from)
