// Copies the non-TypeScript files that modules load at run time next to the compiled JavaScript,
// keeping the folder layout: Lua scripts (src/x/y.lua -> <out>/x/y.lua), the dashboard's page, scripts
// and style (plain files served as they are: no build step), and uPlot's browser build from
// node_modules into the dashboard's folder, so the page never needs a CDN.
import { cpSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, sep } from 'node:path'

const [from, to] = process.argv.slice(2)
const LUA = /\.lua$/
const DASHBOARD = join('gateway', 'dashboard')
const DASHBOARD_FILE = /\.(html|css|js|svg)$/
const UPLOT_FILES = ['uPlot.iife.min.js', 'uPlot.min.css']

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    const relative = path.slice(from.length + 1)
    if (statSync(path).isDirectory()) walk(path)
    else if (LUA.test(name) || (dirname(relative) === DASHBOARD && DASHBOARD_FILE.test(name))) copy(path, join(to, relative))
  }
}

function copy(source, target) {
  mkdirSync(dirname(target), { recursive: true })
  cpSync(source, target)
}

walk(from.endsWith(sep) ? from.slice(0, -1) : from)
const uplot = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist')
for (const name of UPLOT_FILES) copy(join(uplot, name), join(to, DASHBOARD, name))
