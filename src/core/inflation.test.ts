import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkInflation, INFLATION_FLOOR, inflationAllowance } from './inflation.ts';

const limits = { maxUnpacked: 1024 ** 3, maxRatio: 100 };

test('allowance: the floor for small archives, 100× past it, never over the cap', () => {
  assert.equal(inflationAllowance(1000, limits), INFLATION_FLOOR);
  assert.equal(inflationAllowance(1024 * 1024, limits), 100 * 1024 * 1024);
  assert.equal(inflationAllowance(1024 ** 3, limits), 1024 ** 3);
});

test('1 MB that inflates to 1 GiB is a bomb (TooLarge); 1 MB to 50 MB is not', () => {
  assert.throws(() => checkInflation(1024 ** 3, 1024 * 1024, limits, 'the tarball'), (e: any) => e.kind === 'TooLarge' && /compression bomb/.test(e.message));
  checkInflation(50 * 1024 * 1024, 1024 * 1024, limits, 'the tarball');
  assert.throws(() => checkInflation(1024 ** 3 + 1, 1024 ** 3, limits, 'x'), /inflates to more than/);
});
