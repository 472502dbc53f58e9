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
  /** Extra arguments worked out again for every start attempt (ports of their own); they replace `args`. */
  freshArgs?: () => Promise<string[]>
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

  /**
   * Starts on a free port. A port found free can be taken by another test's server before this one
   * binds it (the suites run two files at once): a server that exits at start is tried again on
   * another port, and with `args()` asked again (a Cluster node's bus port can collide the same way).
   */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    for (let attempt = 1; ; attempt++) {
      const server = new RedisServer({ ...options, ...(options.freshArgs ? { args: await options.freshArgs() } : {}) })
      server.#port = await freePort()
      try {
        await server.#spawn()
        return server
      } catch (err) {
        await server.stop()
        if (attempt >= 3 || !/exited/.test(String(err))) throw err
      }
    }
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
    // An exit while it starts (a port taken meanwhile) ends the wait at once, not at waitFor's bound.
    await waitFor(`redis-server on port ${this.#port}`, async () => child.exitCode !== null || (await this.cli('PING')) === 'PONG')
    if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}) on port ${this.#port}: ${stderr.trim() || 'a port taken?'}`)
  }
}
