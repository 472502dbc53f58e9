import { freePort, requireBinary, run, waitFor } from './processes.js'
import { RedisServer } from './redis-server.js'

/** A 3-master Redis Cluster on loopback, no replicas, ready (`cluster_state:ok`) when returned. */
export class RedisCluster {
  private constructor(readonly nodes: RedisServer[]) {}

  static async start(): Promise<RedisCluster> {
    requireBinary('redis-cli')
    const nodes: RedisServer[] = []
    try {
      for (let i = 0; i < 3; i++) {
        // The bus port is given explicitly: the default (port + 10000) may be taken or out of range.
        nodes.push(
          await RedisServer.start({
            freshArgs: async () => ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000', '--cluster-port', String(await freePort())],
          }),
        )
      }
      await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-yes'], 30_000)
      for (const node of nodes) {
        await waitFor(
          `cluster_state:ok on ${node.port}`,
          async () => (await node.cli('CLUSTER', 'INFO')).includes('cluster_state:ok'),
          20_000,
        )
      }
      return new RedisCluster(nodes)
    } catch (err) {
      await Promise.all(nodes.map((node) => node.stop()))
      throw err
    }
  }

  get url(): string {
    return `redis+cluster://${this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()))
  }
}
