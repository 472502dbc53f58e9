#!/usr/bin/env node
import { existsSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { ConfigError, defaultConfig, type GatewayConfig, loadConfigFile } from '../gateway/config.js'
import { createGateway } from '../gateway/server.js'
import { version } from '../gateway/version.js'
import { maskUrl } from '../stores/url.js'
import { CHECK_CONFIG_HELP, effectiveConfig } from './check-config.js'
import { CliError } from './cli-error.js'
import { demo } from './demo/demo.js'
import { invalidate } from './invalidate.js'
import { keys } from './keys.js'
import { stats } from './stats.js'

const HELP = `tollgate — cache, rate limits and cost control in front of expensive calls

Usage: tollgate <command> [options]

Commands:
  start [--config tollgate.yaml] [--port 8080] [--host 127.0.0.1]
                   start the OpenAI-compatible gateway. Without a config file (--config,
                   TOLLGATE_CONFIG or ./tollgate.yaml) it runs on the embedded default: memory store
                   (or REDIS_URL), upstream OPENAI_BASE_URL with OPENAI_API_KEY, no gateway keys.
  demo [--exit] [--port 8080]
                   offline: a fake upstream, a gateway in front of it and a built-in workload,
                   then a table of what the cache and the limits saved; the dashboard stays up
  stats [--url http://127.0.0.1:8080] [--json]
                   a running gateway's figures (admin token from TOLLGATE_ADMIN_TOKEN)
  invalidate --tag T | --key K | --namespace N | --clear [--tenant T | --all-tenants]
                   drop cache entries on every instance (admin token from TOLLGATE_ADMIN_TOKEN)
  check-config [file]
                   validate the config and print it as it takes effect, secrets masked
  keys create      print a new random gateway key and its sha256 form
  keys hash        read a key from stdin, print its sha256 form (for the keys: section)

Options:
  -h, --help       show this help (tollgate <command> --help: that command's)
  -v, --version    print the version
`

const START_HELP = `Usage: tollgate start [--config tollgate.yaml] [--port 8080] [--host 127.0.0.1]

Starts the OpenAI-compatible gateway. Without a config file (--config, TOLLGATE_CONFIG or
./tollgate.yaml) it runs on the embedded default: memory store (or REDIS_URL), upstream
OPENAI_BASE_URL with OPENAI_API_KEY, no gateway keys. SIGTERM, SIGINT or SIGHUP finish in-flight
requests (up to server.shutdownTimeout), then close; a second signal exits at once.

Options:
  --config FILE    the YAML config
  --port N         listen on this port (0: any free one)
  --host HOST      listen on this address
  -h, --help       show this help
`

function loadConfig(file: string | undefined): { config: GatewayConfig; source: string } {
  const path = file ?? process.env.TOLLGATE_CONFIG ?? (existsSync('tollgate.yaml') ? 'tollgate.yaml' : undefined)
  return path ? { config: loadConfigFile(path), source: path } : { config: defaultConfig(), source: 'embedded default' }
}

async function start(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true })
  if (values.help) {
    process.stdout.write(START_HELP)
    return 0
  }
  if (values.port !== undefined && (!/^\d{1,5}$/.test(values.port) || Number(values.port) > 65535)) throw new CliError(`--port: expected a port number, got "${values.port}"`, 2)
  const { config, source } = loadConfig(values.config)
  if (values.port !== undefined) config.server.port = Number(values.port)
  if (values.host !== undefined) config.server.host = values.host
  const gateway = createGateway(config, { logger: true })
  const log = gateway.app.log
  if (config.auth === 'none') {
    log.warn('auth: none — every request is accepted without a gateway key. Fine on 127.0.0.1 for local use; configure keys before exposing this port.')
  }
  const url = await gateway.listen()
  // Said at any configured level: it is the one line that tells where the gateway is.
  log.child({}, { level: 'info' }).info({ config: source, store: gateway.store.name, limitsStore: gateway.limitsStore.name, upstreams: config.upstreams.map((u) => `${u.name} ${maskUrl(u.baseUrl)}`) }, `tollgate gateway listening on ${url}`)
  let stopping = false
  const stop = (signal: string) => {
    // A second signal is an operator (or a supervisor) that will not wait: exit now, the access
    // log's buffered lines written first, as the default action of the signal would not.
    if (stopping) {
      log.warn(`${signal} while closing: exiting now, requests in flight are cut`)
      gateway.flushLogsSync()
      process.exit(1)
    }
    stopping = true
    log.info(`${signal}: finishing in-flight requests (up to ${config.server.shutdownTimeout} ms), then closing`)
    gateway.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  // SIGHUP (the terminal closed) stops the gateway as SIGTERM does, rather than killing it with its lines unwritten.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => stop(signal))
  return 0
}

function checkConfig(args: string[]): number {
  const { values, positionals } = parseArgs({ args, options: { help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true })
  if (values.help) {
    process.stdout.write(CHECK_CONFIG_HELP)
    return 0
  }
  if (positionals.length > 1) throw new CliError(`check-config takes one file at most, got "${positionals.join(' ')}" (tollgate check-config --help)`, 2)
  const { config, source } = loadConfig(positionals[0])
  process.stdout.write(effectiveConfig(config, source))
  return 0
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(HELP)
    return 0
  }
  if (command === '-v' || command === '--version') {
    process.stdout.write(`tollgate ${version()}\n`)
    return 0
  }
  if (command === 'start') return start(rest)
  if (command === 'demo') return demo(rest, (text) => process.stdout.write(text), process.stderr)
  if (command === 'stats') return stats(rest, process.env, (text) => process.stdout.write(text))
  if (command === 'invalidate') return invalidate(rest, process.env, (text) => process.stdout.write(text))
  if (command === 'check-config') return checkConfig(rest)
  if (command === 'keys') return keys(rest, process.stdin, (text) => process.stdout.write(text))
  throw new CliError(`unknown command "${command}" (tollgate --help lists them)`, 2)
}

// `tollgate demo | head -2`: the reader is gone and the rest has nowhere to go, which is no error to
// report. Any other failure to write the output is said in one line.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') process.stderr.write(`tollgate: cannot write the output (${err.code ?? err.message})\n`)
  process.exit(err.code === 'EPIPE' ? 0 : 1)
})

const argv = process.argv.slice(2)
main(argv).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    // Mistakes in the input or the environment are told in one line; anything else is a bug, with its stack.
    if (String((err as { code?: string }).code).startsWith('ERR_PARSE_ARGS_')) {
      // Its first sentence: the rest is Node's advice on positionals starting with '-', not ours.
      process.stderr.write(`tollgate: ${(err as Error).message.split('. ')[0]} (tollgate ${argv[0]} --help)\n`)
      process.exitCode = 2
      return
    }
    const told = err instanceof ConfigError || err instanceof CliError
    process.stderr.write(`tollgate: ${told ? (err as Error).message : String((err as Error).stack ?? err)}\n`)
    process.exitCode = err instanceof CliError ? err.exitCode : 1
  },
)
