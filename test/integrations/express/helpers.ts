import type { Server } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import express5, { type Express } from 'express'

// express4 is express@4 under an npm alias, without types of its own: Express 5's describe it.
const express4 = createRequire(import.meta.url)('express4') as () => Express

/** Every suite runs against both majors. */
export const versions: Array<[name: string, create: () => Express]> = [
  ['Express 5', () => express5()],
  ['Express 4', () => express4()],
]

/** Listens on a loopback port; the returned close() stops it. */
export async function listen(app: Express): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}

export { statuses } from '../http-helpers.js'
