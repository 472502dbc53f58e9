import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, killHard, run, spawnServer, waitFor } from './processes.js'

export interface RedisServerOptions {
  /** Append-only file with fsync on every write, so data survives a kill -9 and restart. */
  aof?: boolean
  /** Extra `--name value` arguments. */
  args?: string[]
}

/**
 * A private redis-server on a free loopback port with its own temp dir. Helpers kill -9, restart on
 * the same port and data dir, and pause/resume it (SIGSTOP/SIGCONT) for fault tests.
 */
export class RedisServer {
  readonly dir = mkdtempSync(join(tmpdir(), 'tollgate-redis-'))
  #child: ChildProcess | undefined
  #port = 0

  private constructor(private readonly options: RedisServerOptions) {}

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(options)
    server.#port = await freePort()
    await server.#spawn()
    return server
  }

  get port(): number {
    return this.#port
  }

  get url(): string {
    return `redis://127.0.0.1:${this.#port}`
  }

  get pid(): number | undefined {
    return this.#child?.pid
  }

  /** Runs a command through redis-cli against this server and returns its raw output. */
  async cli(...args: string[]): Promise<string> {
    return (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(this.#port), ...args])).trim()
  }

  async kill9(): Promise<void> {
    if (this.#child) await killHard(this.#child)
    this.#child = undefined
  }

  async restart(): Promise<void> {
    await this.kill9()
    await this.#spawn()
  }

  pause(): void {
    this.#child?.kill('SIGSTOP')
  }

  resume(): void {
    this.#child?.kill('SIGCONT')
  }

  async stop(): Promise<void> {
    await this.kill9()
    rmSync(this.dir, { recursive: true, force: true })
  }

  async #spawn(): Promise<void> {
    const persistence = this.options.aof ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no', '--save', '']
    this.#child = spawnServer(
      'redis-server',
      [
        '--port',
        String(this.#port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--daemonize',
        'no',
        ...persistence,
        ...(this.options.args ?? []),
      ],
      this.dir,
    )
    const child = this.#child
    let stderr = ''
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    await waitFor(`redis-server on port ${this.#port}${stderr ? ` (${stderr.trim()})` : ''}`, async () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited: ${stderr.trim()}`)
      return (await this.cli('PING')) === 'PONG'
    })
  }
}
