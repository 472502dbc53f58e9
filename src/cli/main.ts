#!/usr/bin/env node
import { readFileSync } from 'node:fs'

const HELP = `tollgate — cache, rate limits and cost control in front of expensive calls

Usage: tollgate <command> [options]

Commands:
  (coming next) start    start the OpenAI-compatible gateway

Options:
  -h, --help       show this help
  -v, --version    print the version
`

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

function main(argv: string[]): number {
  const [command] = argv
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(HELP)
    return 0
  }
  if (command === '-v' || command === '--version') {
    process.stdout.write(`tollgate ${version()}\n`)
    return 0
  }
  process.stderr.write(`tollgate: unknown command "${command}"\n\n${HELP}`)
  return 2
}

process.exitCode = main(process.argv.slice(2))
