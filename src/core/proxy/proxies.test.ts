import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blockMatches } from './proxies.ts';

test('block patterns match names whatever their case', () => {
  assert.equal(blockMatches('padder', 'Padder'), true);
  assert.equal(blockMatches('@acme', '@ACME/app'), true);
  assert.equal(blockMatches('internal-*', 'Internal-Tools'), true);
  assert.equal(blockMatches('padder', 'padders'), false);
  assert.equal(blockMatches('@acme', '@acme-other/app'), false);
});
