/**
 * Preloaded into a CLI child (`node --import <this file>`): every TCP connection to a host other than
 * loopback fails, and says so on stderr (`offline: blocked ...`). A test that runs a command this way
 * and finds no such line knows the command needed no network.
 */
import net from 'node:net'

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])
const connect = net.Socket.prototype.connect

function hostOf(args: unknown[]): { host: string | undefined; path: string | undefined } {
  // Node's own net.connect hands the socket its normalized arguments: an array whose first item is the options.
  const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0]
  if (first !== null && typeof first === 'object') {
    const options = first as { host?: string; path?: string }
    return { host: options.host, path: options.path }
  }
  if (typeof first === 'string' && !/^\d+$/.test(first)) return { host: undefined, path: first }
  return { host: typeof args[1] === 'string' ? args[1] : undefined, path: undefined }
}

net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
  const { host, path } = hostOf(args)
  if (path === undefined && !LOOPBACK.has(host ?? 'localhost')) {
    process.stderr.write(`offline: blocked a connection to ${host}\n`)
    process.nextTick(() => this.destroy(new Error(`offline: no connection to ${host} allowed`)))
    return this
  }
  return (connect as (...a: unknown[]) => net.Socket).apply(this, args)
} as typeof connect
