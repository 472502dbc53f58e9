import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import type { LoadResult } from './load.js'

export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  let redis = 'unknown'
  try {
    redis = execFileSync('redis-server', ['--version']).toString().match(/v=(\S+)/)?.[1] ?? redis
  } catch {}
  return `${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, Redis ${redis}`
}

export function table(results: LoadResult[], baseline?: string): string {
  const base = results.find((r) => r.name === baseline)
  const rows = results.map((r) => {
    const ratio = base ? ` | ${(r.opsPerSec / base.opsPerSec).toFixed(2)}×` : ''
    return `| ${r.name} | ${Math.round(r.opsPerSec).toLocaleString('en-US')} | ${r.p50Ms.toFixed(3)} | ${r.p99Ms.toFixed(3)}${ratio} |`
  })
  const head = `| | ops/s | p50 ms | p99 ms${base ? ` | vs ${baseline}` : ''} |\n| --- | ---: | ---: | ---:${base ? ' | ---:' : ''} |`
  return [head, ...rows].join('\n')
}

/** Replaces the section between `<!-- name:start -->` and `<!-- name:end -->` in docs/benchmarks.md. */
export function writeSection(name: string, body: string): void {
  const file = new URL('../../../docs/benchmarks.md', import.meta.url)
  const start = `<!-- ${name}:start -->`
  const end = `<!-- ${name}:end -->`
  const doc = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n'
  const section = `${start}\n${body.trim()}\n${end}`
  const from = doc.indexOf(start)
  const to = doc.indexOf(end)
  writeFileSync(file, from >= 0 && to > from ? doc.slice(0, from) + section + doc.slice(to + end.length) : `${doc.trimEnd()}\n\n${section}\n`)
}
