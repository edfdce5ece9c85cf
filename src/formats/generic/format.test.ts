import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PackageRow } from '../../core/model/packages.ts';
import { genericFormat } from './format.ts';

const pkg = (o: Partial<PackageRow>) => ({ owner_name: 'alice', name: 'tool', visibility: 'private', repository_id: null, inherit_access: 1, ...o }) as PackageRow;

test('describe: one curl line per file; credentials unless the package is public on its own', () => {
  const priv = genericFormat.describe(pkg({}), '1.0', 'https://w.example', [], ['a.tar.gz', 'SHA256SUMS']);
  assert.equal(priv.install, 'curl -fLO -u USERNAME:$WHARF_TOKEN https://w.example/generic/alice/tool/1.0/a.tar.gz\ncurl -fLO -u USERNAME:$WHARF_TOKEN https://w.example/generic/alice/tool/1.0/SHA256SUMS');
  assert.match(priv.setup!, /curl -fT \.\/a\.tar\.gz -u USERNAME:\$WHARF_TOKEN https:\/\/w\.example\/generic\/alice\/tool\/1\.0\/a\.tar\.gz$/);
  assert.equal(genericFormat.describe(pkg({ visibility: 'public' }), '1.0', 'https://w.example', [], ['a.tar.gz']).install, 'curl -fLO https://w.example/generic/alice/tool/1.0/a.tar.gz');
  // Inheriting a repository's visibility: the package's own says nothing, so the command keeps the credentials.
  assert.match(genericFormat.describe(pkg({ visibility: 'public', repository_id: 3 }), '1.0', 'https://w.example').install, /-u USERNAME/);
  assert.equal(genericFormat.describe(pkg({ visibility: 'public' }), null, 'https://w.example').install, 'curl -fLO https://w.example/generic/alice/tool/VERSION/FILE');
});
