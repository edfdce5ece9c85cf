import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ACCOUNT_POLICY, ADDRESS_POLICY, addressKey, lockMs } from './throttle.ts';

test('lockMs: nothing before the threshold, then 15 s doubling per failure, capped at 15 min', () => {
  assert.deepEqual([1, 4, 5, 6, 7, 10, 11, 12, 1000].map((n) => lockMs(ACCOUNT_POLICY, n) / 1000), [0, 0, 15, 30, 60, 480, 900, 900, 900]);
  assert.equal(lockMs(ADDRESS_POLICY, 29), 0);
  assert.equal(lockMs(ADDRESS_POLICY, 30), 15_000);
});

test('addressKey: IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 by its /64', () => {
  assert.equal(addressKey('192.0.2.7'), 'a:192.0.2.7');
  assert.equal(addressKey('::ffff:192.0.2.7'), 'a:192.0.2.7');
  assert.equal(addressKey('2001:db8:1:2:aaaa::1'), 'a:2001:db8:1:2::/64');
  assert.equal(addressKey('2001:0db8:0001:0002:ffff:1:2:3'), 'a:2001:db8:1:2::/64');
  assert.equal(addressKey('2001:db8::1'), 'a:2001:db8:0:0::/64');
  assert.equal(addressKey('::1'), 'a:0:0:0:0::/64');
  assert.equal(addressKey('fe80::1%eth0'), 'a:fe80:0:0:0::/64');
});
