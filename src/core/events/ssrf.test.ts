import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AddressPolicy, isSpecialAddress } from './ssrf.ts';

test('loopback, private, link-local, metadata and mapped addresses are special; public ones are not', () => {
  for (const ip of ['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.169.254', '0.0.0.0', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '100.64.0.1']) {
    assert.ok(isSpecialAddress(ip), ip);
  }
  for (const ip of ['8.8.8.8', '1.1.1.1', '2606:4700::1111', '::ffff:8.8.8.8']) assert.equal(isSpecialAddress(ip), false, ip);
});

test('an admin can allow hosts and ranges', () => {
  const p = new AddressPolicy(['127.0.0.1', '10.0.0.0/8', 'hooks.internal']);
  assert.ok(p.allows('localhost', '127.0.0.1'));
  assert.ok(p.allows('x', '10.9.9.9'));
  assert.ok(p.allows('hooks.internal', '192.168.1.5'));
  assert.equal(p.allows('x', '192.168.1.5'), false);
  assert.equal(p.allows('x', '127.0.0.2'), false);
});

test('the lookup refuses what the policy does not allow', async () => {
  const p = new AddressPolicy([]);
  const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => p.lookup('localhost', {}, (e) => resolve(e)));
  assert.equal(err?.code, 'EWEBHOOKBLOCKED');
  const allowed = new AddressPolicy(['127.0.0.1', '::1']);
  const addr = await new Promise<string>((resolve, reject) => allowed.lookup('localhost', {}, (e, a) => (e ? reject(e) : resolve(a as string))));
  assert.ok(addr === '127.0.0.1' || addr === '::1');
});
