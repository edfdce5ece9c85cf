import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AddressPolicy, BLOCKED_MESSAGE, isSpecialAddress, normalizePattern, publicError } from './ssrf.ts';

test('loopback, private, link-local, metadata and mapped addresses are special; public ones are not', () => {
  for (const ip of ['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.169.254', '0.0.0.0', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '100.64.0.1']) {
    assert.ok(isSpecialAddress(ip), ip);
  }
  for (const ip of ['8.8.8.8', '1.1.1.1', '2606:4700::1111', '::ffff:8.8.8.8']) assert.equal(isSpecialAddress(ip), false, ip);
});

test('IPv6 addresses that carry a private IPv4 address are special (mapped in hex, compatible, NAT64, 6to4, Teredo)', () => {
  for (const ip of ['::ffff:7f00:1', '::ffff:a00:5', '::ffff:a9fe:a9fe', '::7f00:1', '::127.0.0.1', '::ffff:0:7f00:1', '64:ff9b::a00:1', '2002:7f00:1::1', '2001:0:4136:e378::1', 'fec0::1', '255.255.255.255']) {
    assert.ok(isSpecialAddress(ip), ip);
  }
  assert.equal(isSpecialAddress('::ffff:808:808'), false, '8.8.8.8, mapped');
});

test('an admin can allow hosts and ranges', () => {
  const p = new AddressPolicy(['127.0.0.1', '10.0.0.0/8', 'hooks.internal', '*.corp.example']);
  assert.ok(p.allows('localhost', '127.0.0.1'));
  assert.ok(p.allows('x', '::ffff:127.0.0.1'), 'the same address, mapped');
  assert.ok(p.allows('x', '10.9.9.9'));
  assert.ok(p.allows('hooks.internal', '192.168.1.5'));
  assert.ok(p.allows('ci.corp.example', '192.168.1.5'));
  assert.equal(p.allows('corp.example', '192.168.1.5'), false, '*.domain is the names under it');
  assert.equal(p.allows('evilcorp.example', '192.168.1.5'), false);
  assert.equal(p.allows('x', '192.168.1.5'), false);
  assert.equal(p.allows('x', '127.0.0.2'), false);
});

/** A resolver for checkTarget that needs no DNS. */
const names: Record<string, string[]> = {
  'metadata.example': ['169.254.169.254'],
  'mixed.example': ['93.184.216.34', '10.0.0.5'],
  'v6only.example': ['fd00::5'],
  'public.example': ['93.184.216.34', '2606:2800:220:1::1'],
};
const resolve = async (host: string) => names[host] ?? null;

test('checkTarget: every spelling of a private address literal is refused, whatever the URL parser made of it', async () => {
  const p = new AddressPolicy([]);
  for (const url of [
    'http://169.254.169.254/latest/meta-data/', 'http://127.0.0.1:8080/', 'http://[::1]/', 'http://10.0.0.5/', 'https://192.168.1.1/', 'http://172.16.0.1/',
    'http://[::ffff:127.0.0.1]/', 'http://[::ffff:a9fe:a9fe]/', 'http://[0:0:0:0:0:ffff:10.0.0.5]/', 'http://[fe80::1]/', 'http://[fd12::1]/', 'http://[::]/',
    'http://2130706433/', 'http://0177.0.0.1/', 'http://0x7f.0.0.1/', 'http://0x7f000001/', 'http://127.1/', 'http://0/', 'http://0251.0376.0251.0376/', 'http://100.64.0.1/',
  ]) {
    assert.equal(await p.checkTarget(new URL(url), { resolve: () => assert.fail('an address literal is not resolved') }), 'refused', url);
  }
  assert.equal(await p.checkTarget(new URL('http://93.184.216.34/'), { resolve }), 'allowed');
  assert.equal(await p.checkTarget(new URL('http://[2606:4700::1111]/'), { resolve }), 'allowed');
});

test('checkTarget: a name is refused when any address it resolves to is private; one that does not resolve is left to delivery', async () => {
  const p = new AddressPolicy([]);
  assert.equal(await p.checkTarget(new URL('http://metadata.example/'), { resolve }), 'refused');
  assert.equal(await p.checkTarget(new URL('http://mixed.example/'), { resolve }), 'refused');
  assert.equal(await p.checkTarget(new URL('http://v6only.example/'), { resolve }), 'refused');
  assert.equal(await p.checkTarget(new URL('http://public.example/'), { resolve }), 'allowed');
  assert.equal(await p.checkTarget(new URL('http://nowhere.example/'), { resolve }), 'unresolved');
  // Allowed by name: not even resolved.
  const byName = new AddressPolicy(['metadata.example']);
  assert.equal(await byName.checkTarget(new URL('http://METADATA.example./'), { resolve: () => assert.fail('not resolved') }), 'allowed');
  assert.equal(await new AddressPolicy(['10.0.0.0/8']).checkTarget(new URL('http://mixed.example/'), { resolve }), 'allowed');
});

test('checkTarget: localhost and names under it are loopback, resolved or not (RFC 6761)', async () => {
  for (const url of ['http://localhost:3000/', 'http://LOCALHOST./', 'http://app.localhost/']) {
    assert.equal(await new AddressPolicy([]).checkTarget(new URL(url), { resolve }), 'refused', url);
  }
  assert.equal(await new AddressPolicy(['127.0.0.1', '::1']).checkTarget(new URL('http://localhost/'), { resolve }), 'allowed');
});

test('allow-list patterns: one spelling each; IPv4 shorthands and junk are refused', () => {
  assert.equal(normalizePattern(' Hooks.Internal. '), 'hooks.internal');
  assert.equal(normalizePattern('*.Corp.example'), '*.corp.example');
  assert.equal(normalizePattern('10.0.0.0/08'), '10.0.0.0/8');
  assert.equal(normalizePattern('[fd00::1]'), 'fd00::1');
  assert.equal(normalizePattern('fd00::/8'), 'fd00::/8');
  for (const bad of ['127.1', '0x7f.0.0.1', '2130706433', 'a b', 'http://x/', '10.0.0.0/33', '::1/129', 'x/8', '', '*.', 'a..b']) {
    assert.throws(() => normalizePattern(bad), Error, bad);
  }
});

test('the lookup refuses what the policy does not allow, without saying what the name resolved to', async () => {
  const p = new AddressPolicy([]);
  const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => p.lookup('localhost', {}, (e) => resolve(e)));
  assert.equal(err?.code, 'EWEBHOOKBLOCKED');
  assert.equal(err?.message, BLOCKED_MESSAGE);
  assert.doesNotMatch(err!.message, /127\.0\.0\.1|::1/);
  const allowed = new AddressPolicy(['127.0.0.1', '::1']);
  const addr = await new Promise<string>((resolve, reject) => allowed.lookup('localhost', {}, (e, a) => (e ? reject(e) : resolve(a as string))));
  assert.ok(addr === '127.0.0.1' || addr === '::1');
});

test('delivery errors as the owner reads them name no address', () => {
  const err = (code: string, message: string) => Object.assign(new Error(message), { code });
  const cases: [NodeJS.ErrnoException, string][] = [
    [err('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.5:80'), 'could not connect'],
    [err('EHOSTUNREACH', 'connect EHOSTUNREACH 10.0.0.5:443'), 'could not connect'],
    [err('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames: IP: 10.0.0.5 is not in the cert's list"), 'TLS handshake failed: the certificate is not trusted for this host'],
    [err('ENOTFOUND', 'getaddrinfo ENOTFOUND internal.example'), 'could not resolve the host name'],
    [err('EWEBHOOKBLOCKED', 'anything'), BLOCKED_MESSAGE],
    [new Error('socket hang up 10.0.0.5'), 'could not connect'],
  ];
  for (const [e, want] of cases) assert.equal(publicError(e), want, e.message);
});
