// What the CLI prints from the database: control characters and bidirectional overrides never reach the terminal raw.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { printable, table } from './args.ts';

test('printable: escape sequences and bidi overrides are written as \\uXXXX; ordinary text (non-ASCII too) is kept', () => {
  assert.equal(printable('name\u001b]0;pwned\u0007\u001b[2J'), 'name\\u001b]0;pwned\\u0007\\u001b[2J');
  assert.equal(printable('a\u202eb\u0085c\u007f'), 'a\\u202eb\\u0085c\\u007f');
  assert.equal(printable('café — ok'), 'café — ok');
  assert.deepEqual(table(['NAME'], [['tok\u001b[31m']]), ['NAME', 'tok\\u001b[31m']);
});
