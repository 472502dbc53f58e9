import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, killHard, spawnServer, waitFor } from './processes.js'

/** A private memcached on a free loopback port (TCP only, 64 MB). */
export class MemcachedServer {
  readonly #dir = mkdtempSync(join(tmpdir(), 'tollgate-memcached-'))
  #child: ChildProcess | undefined

  private constructor(readonly port: number) {}

  static async start(): Promise<MemcachedServer> {
    const server = new MemcachedServer(await freePort())
    await server.#spawn()
    return server
  }

  get url(): string {
    return `memcached://127.0.0.1:${this.port}`
  }

  async kill9(): Promise<void> {
    if (this.#child) await killHard(this.#child)
    this.#child = undefined
  }

  pause(): void {
    this.#child?.kill('SIGSTOP')
  }

  resume(): void {
    this.#child?.kill('SIGCONT')
  }

  async stop(): Promise<void> {
    await this.kill9()
    rmSync(this.#dir, { recursive: true, force: true })
  }

  async #spawn(): Promise<void> {
    // memcached refuses to run as root unless told which user to run as.
    const user = process.getuid?.() === 0 ? ['-u', 'root'] : []
    this.#child = spawnServer('memcached', ['-l', '127.0.0.1', '-p', String(this.port), '-U', '0', '-m', '64', ...user], this.#dir)
    await waitFor(`memcached on port ${this.port}`, () => canConnect(this.port))
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}
