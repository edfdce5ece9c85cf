// The audit log's search phrase (GitHub's qualifiers) and its documentation: docs/api.md lists every action.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { AUDIT_ACTIONS, parsePhrase } from './audit.ts';

test('docs/api.md lists exactly the actions the log records', () => {
  const doc = fs.readFileSync(path.join(import.meta.dirname, '../../../docs/api.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Audit log'));
  const listed = [...section.matchAll(/^\| `([a-z_]+(?:\.[a-z_]+)+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual(listed.sort(), Object.keys(AUDIT_ACTIONS).sort());
});

test('phrase: action:, -action:, actor:, user:, repo:, created: with its forms', () => {
  assert.deepEqual(parsePhrase(''), { actions: [], notActions: [] });
  assert.deepEqual(parsePhrase(' action:org.add_member  action:package -action:package.restore actor:alice user:bob repo:acme/app '), {
    actions: ['org.add_member', 'package'], notActions: ['package.restore'], actor: 'alice', user: 'bob', repo: 'acme/app',
  });
  const c = (v: string) => {
    const f = parsePhrase(`created:${v}`);
    return [f.createdFrom, f.createdTo];
  };
  assert.deepEqual(c('2026-01-31'), ['2026-01-31T00:00:00.000Z', '2026-02-01T00:00:00.000Z']);
  assert.deepEqual(c('>=2026-01-31'), ['2026-01-31T00:00:00.000Z', undefined]);
  assert.deepEqual(c('>2026-01-31'), ['2026-02-01T00:00:00.000Z', undefined]);
  assert.deepEqual(c('<2026-01-31'), [undefined, '2026-01-31T00:00:00.000Z']);
  assert.deepEqual(c('<=2026-01-31'), [undefined, '2026-02-01T00:00:00.000Z']);
  assert.deepEqual(c('2026-01-01..2026-01-31'), ['2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z']);
});

test('phrase: anything else is Invalid, never silently ignored', () => {
  for (const bad of ['alice', 'colour:blue', '-actor:alice', 'action:Org.Add', 'action:a.b.c', 'created:yesterday', 'created:2026-13-45', 'created:>=']) {
    assert.throws(() => parsePhrase(bad), (e: any) => e.kind === 'Invalid', bad);
  }
});
