import assert from 'node:assert/strict'
import { it } from 'node:test'
import { clientAddressKey, defaultClientKey } from '../../../src/integrations/http/client-key.js'

it('groups IPv6 addresses by /64 whatever their spelling, and maps IPv4-mapped addresses to IPv4', () => {
  assert.equal(clientAddressKey('2001:db8:1:2::1'), '2001:db8:1:2:0:0:0:0/64')
  assert.equal(clientAddressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2:0:0:0:0/64')
  assert.equal(clientAddressKey('2001:DB8:1:2:a::'), '2001:db8:1:2:0:0:0:0/64')
  assert.equal(clientAddressKey('fe80::1%eth0'), 'fe80:0:0:0:0:0:0:0/64')
  assert.equal(clientAddressKey('::1'), '0:0:0:0:0:0:0:0/64')
  assert.equal(clientAddressKey('2001:db8:1:2::1', 48), '2001:db8:1:0:0:0:0:0/48')
  assert.equal(clientAddressKey('2001:db8:1:2::1', 56), '2001:db8:1:0:0:0:0:0/56')
  assert.equal(clientAddressKey('2001:db8:1:2ff::1', 56), '2001:db8:1:200:0:0:0:0/56')
  assert.equal(clientAddressKey('::ffff:192.0.2.33'), '192.0.2.33')
  assert.equal(clientAddressKey('::ffff:c000:221'), '192.0.2.33')
  assert.equal(clientAddressKey('64:ff9b::192.0.2.33'), '64:ff9b:0:0:0:0:0:0/64')
  assert.equal(clientAddressKey('192.0.2.33'), '192.0.2.33')
  assert.equal(clientAddressKey('not an address'), 'not an address')
})

it('keys on an authenticated user id before the address, and never lets the two collide', () => {
  assert.equal(defaultClientKey({ user: { id: 'u1' } }, '192.0.2.1'), 'user:u1')
  assert.equal(defaultClientKey({ user: { id: 42 } }, '192.0.2.1'), 'user:42')
  assert.equal(defaultClientKey({ user: { id: '' } }, '192.0.2.1'), 'ip:192.0.2.1')
  assert.equal(defaultClientKey({ user: { name: 'no id' } }, '192.0.2.1'), 'ip:192.0.2.1')
  assert.equal(defaultClientKey({ user: null }, undefined), 'ip:unknown')
})
