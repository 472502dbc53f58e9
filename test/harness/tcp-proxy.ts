import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { freePort } from './processes.js'

/**
 * A loopback TCP forwarder whose target can be switched: what a managed Redis endpoint does when it
 * fails over (new connections reach the new primary, existing ones stay where they were). Bytes pass
 * through untouched; the servers behind it are real.
 */
export class TcpProxy {
  readonly #sockets = new Set<Socket>()

  private constructor(
    readonly port: number,
    private readonly server: Server,
    public target: number,
  ) {}

  static async start(target: number): Promise<TcpProxy> {
    const port = await freePort()
    const server = createServer()
    const proxy = new TcpProxy(port, server, target)
    server.on('connection', (client) => proxy.#pipe(client))
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
    return proxy
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    await new Promise((resolve) => this.server.close(resolve))
  }

  #pipe(client: Socket): void {
    const upstream = createConnection({ host: '127.0.0.1', port: this.target })
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket)
      socket.on('close', () => this.#sockets.delete(socket))
      socket.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.pipe(upstream)
    upstream.pipe(client)
  }
}
