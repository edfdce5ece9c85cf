import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dependencyNames } from './proxy-packument.ts';

test('dependencyNames: registry names of dependencies, optional and peer ones, aliases by their real name', () => {
  const m = {
    dependencies: { left: '^1.0.0', '@scope/util': '~2', aliased: 'npm:@real/thing@^3', bare: 'npm:plain', tagged: 'latest' },
    optionalDependencies: { fsevents: '*' },
    peerDependencies: { react: '>=18', left: '^1.0.0' },
  };
  assert.deepEqual(dependencyNames(m), ['left', '@scope/util', '@real/thing', 'plain', 'tagged', 'fsevents', 'react']);
});

test('dependencyNames: files, git, URLs, user/repo shorthands and non-names are left out; bounded', () => {
  const m = {
    dependencies: {
      local: 'file:../local', git: 'git+https://example.com/x.git', tarball: 'https://example.com/x.tgz', gh: 'user/repo',
      link: 'link:../x', ws: 'workspace:*', '../evil': '^1.0.0', weird: 42, ok: '1.x',
    },
    devDependencies: { notFetched: '^1' },
  };
  assert.deepEqual(dependencyNames(m), ['ok']);
  assert.deepEqual(dependencyNames({ dependencies: 'nope' }), []);
  const many = { dependencies: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`p${i}`, '^1'])) };
  assert.equal(dependencyNames(many, 10).length, 10);
});
