import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, killHard, run, spawnServer, waitFor } from './processes.js'
import { RedisServer } from './redis-server.js'

export interface SentinelSetup {
  /** Replicas of the first master (default 0). */
  replicas?: number
  /** Sentinel processes (default 1); the quorum is a majority of them. */
  sentinels?: number
}

/**
 * A master, its replicas and Sentinels monitoring it as `mymaster`, ready when every Sentinel knows
 * the master (and, with replicas, the replicas). Failure detection is quick (1 s) so failover tests
 * stay short.
 */
export class RedisSentinel {
  readonly #dir = mkdtempSync(join(tmpdir(), 'tollgate-sentinel-'))
  readonly #children: ChildProcess[] = []

  private constructor(
    readonly servers: RedisServer[],
    readonly ports: number[],
  ) {}

  static async start(setup: SentinelSetup = {}): Promise<RedisSentinel> {
    const master = await RedisServer.start()
    const servers = [master]
    for (let i = 0; i < (setup.replicas ?? 0); i++) {
      servers.push(await RedisServer.start({ args: ['--replicaof', '127.0.0.1', String(master.port)] }))
    }
    const count = setup.sentinels ?? 1
    const ports: number[] = []
    for (let i = 0; i < count; i++) ports.push(await freePort())
    const sentinel = new RedisSentinel(servers, ports)
    const quorum = Math.floor(count / 2) + 1
    for (const port of ports) {
      // Sentinel rewrites its config file, so each gets a writable one of its own.
      const config = join(sentinel.#dir, `sentinel-${port}.conf`)
      writeFileSync(
        config,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${sentinel.#dir}`,
          `sentinel monitor mymaster 127.0.0.1 ${master.port} ${quorum}`,
          'sentinel down-after-milliseconds mymaster 1000',
          'sentinel failover-timeout mymaster 5000',
          '',
        ].join('\n'),
      )
      sentinel.#children.push(spawnServer('redis-server', [config, '--sentinel'], sentinel.#dir))
    }
    await waitFor('the sentinels to know their master and replicas', async () => {
      for (const port of ports) {
        const out = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'SENTINEL', 'master', 'mymaster'])
        const lines = out.trim().split('\n')
        const field = (name: string) => lines[lines.indexOf(name) + 1]
        if (field('port') !== String(master.port) || Number(field('num-slaves')) < servers.length - 1) return false
        if (count > 1 && Number(field('num-other-sentinels')) < count - 1) return false
      }
      return true
    }, 30_000)
    return sentinel
  }

  get url(): string {
    return `redis+sentinel://${this.ports.map((port) => `127.0.0.1:${port}`).join(',')}/mymaster`
  }

  /** The server Sentinel names as master now. */
  async masterPort(): Promise<number> {
    const out = await this.cli('SENTINEL', 'get-master-addr-by-name', 'mymaster')
    return Number(out.trim().split('\n')[1])
  }

  /** Runs a command on the first Sentinel. */
  cli(...args: string[]): Promise<string> {
    return run('redis-cli', ['-h', '127.0.0.1', '-p', String(this.ports[0]), ...args])
  }

  async stop(): Promise<void> {
    await Promise.all(this.#children.map((child) => killHard(child)))
    rmSync(this.#dir, { recursive: true, force: true })
    await Promise.all(this.servers.map((server) => server.stop()))
  }
}
