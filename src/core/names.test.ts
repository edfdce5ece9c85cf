import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkOwnerName, checkRepoName, repoSlugFromUrl } from './names.ts';

test('repository URLs resolve to OWNER/NAME by their last two segments, whatever the scheme and host', () => {
  const cases: [string, string][] = [
    ['https://github.com/alice/hello.git', 'alice/hello'],
    ['git+https://github.com/alice/hello', 'alice/hello'],
    ['git+ssh://git@host/alice/hello', 'alice/hello'],
    ['git@github.com:alice/hello.git', 'alice/hello'],
    ['github:alice/hello', 'alice/hello'],
    ['alice/hello', 'alice/hello'],
    ['https://gitlab.example/group/sub/alice/hello/', 'alice/hello'],
    ['https://github.com/alice/hello#readme', 'alice/hello'],
  ];
  for (const [url, want] of cases) {
    const r = repoSlugFromUrl(url);
    assert.equal(r && `${r.owner}/${r.name}`, want, url);
  }
  for (const bad of ['', 'hello', 'https://github.com/', 'https://github.com/al ice/x', 'https://h/alice/..']) assert.equal(repoSlugFromUrl(bad), null, bad);
});

test('owner and repository names', () => {
  assert.equal(checkOwnerName('my-org'), 'my-org');
  for (const bad of ['-x', 'x-', 'a--b', 'a_b', 'a'.repeat(40), '', '../x']) assert.throws(() => checkOwnerName(bad), bad);
  assert.equal(checkRepoName('hello.js_x-1'), 'hello.js_x-1');
  for (const bad of ['.', '..', 'a/b', 'x.git', '']) assert.throws(() => checkRepoName(bad), bad);
});
