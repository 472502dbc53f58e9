// The floors bench:gateway measures tollgate against, each a process of its own that prints its URL:
//   proxy <upstream URL>  a bare forwarding proxy (node:http in, undici out, the JSON parsed both ways):
//                         what any Node gateway pays for a miss before doing anything of its own
//   fastify <reply file>  a bare Fastify route answering a fixed JSON reply to a parsed JSON body:
//                         what a hit served through Fastify costs before the gateway's own work
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import { Pool } from 'undici'

const [kind, arg] = process.argv.slice(2)
if (kind === 'proxy') {
  const upstream = new URL(arg as string)
  const pool = new Pool(upstream.origin, { connections: 64 })
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', async () => {
      const body = JSON.stringify(JSON.parse(Buffer.concat(chunks).toString('utf8')))
      const reply = await pool.request({ path: upstream.pathname, method: 'POST', headers: { 'content-type': 'application/json' }, body })
      const text = JSON.stringify(JSON.parse(await reply.body.text()))
      response.writeHead(reply.statusCode, { 'content-type': 'application/json' })
      response.end(text)
    })
  })
  server.listen(0, '127.0.0.1', () => process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}\n`))
} else if (kind === 'fastify') {
  const reply = readFileSync(arg as string, 'utf8')
  const app = Fastify({ logger: false })
  app.post('/v1/chat/completions', (_request, response) => response.type('application/json; charset=utf-8').send(reply))
  process.stdout.write(`${await app.listen({ port: 0, host: '127.0.0.1' })}\n`)
} else {
  throw new Error('usage: floor-servers proxy <upstream URL> | fastify <reply file>')
}
