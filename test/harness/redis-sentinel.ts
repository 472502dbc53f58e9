import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, killHard, run, spawnServer, waitFor } from './processes.js'
import { RedisServer } from './redis-server.js'

/** A master and one Sentinel monitoring it as `mymaster`, ready when the Sentinel knows the master. */
export class RedisSentinel {
  readonly #dir = mkdtempSync(join(tmpdir(), 'tollgate-sentinel-'))
  #child: ChildProcess | undefined

  private constructor(
    readonly master: RedisServer,
    readonly port: number,
  ) {}

  static async start(): Promise<RedisSentinel> {
    const master = await RedisServer.start()
    const sentinel = new RedisSentinel(master, await freePort())
    // Sentinel rewrites its config file, so it gets a writable one of its own.
    const config = join(sentinel.#dir, 'sentinel.conf')
    writeFileSync(config, [`port ${sentinel.port}`, 'bind 127.0.0.1', `dir ${sentinel.#dir}`, `sentinel monitor mymaster 127.0.0.1 ${master.port} 1`, ''].join('\n'))
    sentinel.#child = spawnServer('redis-server', [config, '--sentinel'], sentinel.#dir)
    await waitFor('the sentinel to know its master', async () => {
      const out = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(sentinel.port), 'SENTINEL', 'get-master-addr-by-name', 'mymaster'])
      return out.includes(String(master.port))
    })
    return sentinel
  }

  get url(): string {
    return `redis+sentinel://127.0.0.1:${this.port}/mymaster`
  }

  async stop(): Promise<void> {
    if (this.#child) await killHard(this.#child)
    rmSync(this.#dir, { recursive: true, force: true })
    await this.master.stop()
  }
}
