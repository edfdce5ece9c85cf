import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WharfError } from '../../core/errors.ts';
import { parseGenericPath } from './paths.ts';

const status = (raw: string) => {
  try {
    parseGenericPath(raw);
    return 200;
  } catch (e) {
    assert.ok(e instanceof WharfError, String(e));
    return e.status;
  }
};

test('OWNER/NAME/VERSION/FILE and OWNER/NAME/VERSION parse into typed segments', () => {
  assert.deepEqual(parseGenericPath('alice/tool/v1.2.3+build.5/tool-1.2.3-linux-amd64.tar.gz'), { owner: 'alice', name: 'tool', version: 'v1.2.3+build.5', file: 'tool-1.2.3-linux-amd64.tar.gz' });
  assert.deepEqual(parseGenericPath('alice/tool/2026.12.07'), { owner: 'alice', name: 'tool', version: '2026.12.07' });
  assert.equal(parseGenericPath('alice/tool/1.0/SHA256SUMS').file, 'SHA256SUMS');
  assert.equal(parseGenericPath('alice/tool/1.0/a%7Eb.zip').file, 'a~b.zip');
});

test('traversal, separators and hostile characters are refused with a 4xx', () => {
  for (const raw of ['alice/tool/1.0/..', 'alice/tool/1.0/%2e%2e', 'alice/tool/1.0/a%2Fb', 'alice/tool/1.0/a%5Cb', 'alice/tool/../x', 'alice/../1.0/x',
    'alice/tool/1.0/.hidden', 'alice/tool/1.0/a..b', 'alice/tool/1.0/a%0d%0aSet-Cookie:x', 'alice/tool/1.0/a"b', 'alice/tool/1.0/%E0%A4%A', 'alice/tool/1.0/a%00',
    'alice/tool/1.0/' + 'x'.repeat(201), 'alice/' + 'n'.repeat(101) + '/1.0/f', 'alice/tool/' + '1'.repeat(101) + '/f', 'alice/tool/1.0/x/y', 'alice/tool', 'bad_owner!/tool/1.0/f', '']) {
    const s = status(raw);
    assert.ok(s >= 400 && s < 500, `${raw} → ${s}`);
  }
});
