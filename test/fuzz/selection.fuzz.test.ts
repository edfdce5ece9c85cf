// Fuzzing the selection of a fine-grained token (issue 20) with fast-check (seeded, see property.ts): the text form
// the CLI and the web form take (parseResource), and over HTTP, POST /api/v1/user/tokens with hostile `resources`
// (any JSON, near-valid objects, hostile strings) and the web form's "Limit to" box: a resource or a client error,
// never a crash; a 4xx (or a 201 for what happens to be valid), never a 500. A valid parse round-trips.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { systemActor } from '../../src/core/auth/actor.ts';
import { formatResource, parseResource, REACHES } from '../../src/core/auth/selection.ts';
import { dialects } from '../helpers/databases.ts';
import { EVERY_SCOPE, startWharf, type TestServer } from '../helpers/wharf.ts';
import { assertClientStatus, params, returnsOrRefusesSync } from './property.ts';

const word = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9-]{0,10}$/);
/** Text near the grammar: its pieces in any order, with hostile characters mixed in. */
const nearResource = fc
  .array(fc.oneof(word, fc.constantFrom(':', '/', '=', '@', '..', ' ', '\n', '\u0000', '%2f', 'npm', 'container', 'maven', ...REACHES), fc.string({ maxLength: 4 }), fc.string({ unit: 'grapheme', maxLength: 3 })), { maxLength: 12 })
  .map((parts) => parts.join(''));
const anyText = fc.oneof(nearResource, fc.string({ maxLength: 600 }), fc.string({ unit: 'grapheme', maxLength: 40 }));

describe('selection parser', () => {
  test('parseResource: a resource or Invalid for any text; what it accepts writes back and parses to the same', (t) => {
    fc.assert(
      fc.property(anyText, (text) =>
        returnsOrRefusesSync(() => {
          const r = parseResource(text);
          assert.deepEqual(parseResource(formatResource(r)), r);
        }),
      ),
      params(t, 3000),
    );
  });
});

for (const dialect of dialects()) describe(`selection over HTTP on ${dialect}`, () => {
  let s: TestServer;
  let token: string;
  before(async () => {
    s = await startWharf({ dialect });
    token = await s.userWithToken('alice', EVERY_SCOPE, { password: 'alice-password-1' });
    await s.core.identity.createOrg(systemActor, 'acme', 'alice');
    await s.core.identity.createRepo(systemActor, 'acme', 'app', 'private');
  });
  after(async () => s?.stop());

  const nearObject = fc.record(
    {
      owner: fc.oneof(fc.constantFrom('alice', 'acme', 'nobody', '', 'al\u0000ice'), fc.string({ maxLength: 120 }), fc.jsonValue({ maxDepth: 1 })),
      repository: fc.oneof(fc.constantFrom('app', 'nope', null, '..', 'a\u0000pp'), fc.string({ maxLength: 120 }), fc.jsonValue({ maxDepth: 1 })),
      package: fc.oneof(
        fc.record({ type: fc.oneof(fc.constantFrom('npm', 'container', 'maven', 'nuget', 'rubygems', 'pypi', 'NPM'), fc.string({ maxLength: 40 })), name: fc.oneof(word, fc.string({ maxLength: 320 }), fc.jsonValue({ maxDepth: 1 })) }, { requiredKeys: [] }),
        fc.jsonValue({ maxDepth: 2 }),
      ),
      permission: fc.oneof(fc.constantFrom(...REACHES, 'owner', '', null), fc.jsonValue({ maxDepth: 1 })),
    },
    { requiredKeys: [] },
  );
  const resources = fc.oneof(fc.array(fc.oneof(nearObject, anyText, fc.jsonValue({ maxDepth: 2 })), { maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), fc.array(fc.constant({ owner: 'alice' }), { minLength: 99, maxLength: 102 }));
  const scopes = fc.subarray(['read:packages', 'write:packages', 'delete:packages', 'repo'], { minLength: 1 });

  test('POST /api/v1/user/tokens with hostile resources → 201 or a 4xx, never a 500', async (t) => {
    await fc.assert(
      fc.asyncProperty(resources, scopes, async (res, sc) => {
        const r = await fetch(`${s.url}/api/v1/user/tokens`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ scopes: sc, resources: res }) });
        assertClientStatus(r.status, await r.text(), `resources ${JSON.stringify(res).slice(0, 200)}`, true);
      }),
      params(t, 300),
    );
  });

  test('the web form\'s "Limit to" box with hostile lines → 201 or 400, never a 500', async (t) => {
    // A signed-in session (the form takes no bearer token).
    const login = await fetch(`${s.url}/-/login`, { redirect: 'manual' });
    const anon = /wharf_anon=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')?.[1];
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await login.text())?.[1];
    const signed = await fetch(`${s.url}/-/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `wharf_anon=${anon}` }, body: new URLSearchParams({ _csrf: csrf!, username: 'alice', password: 'alice-password-1' }) });
    const session = /wharf_session=([^;]+)/.exec(signed.headers.get('set-cookie') ?? '')?.[1];
    assert.ok(session, `signed in: ${signed.status}`);
    const page = await (await fetch(`${s.url}/-/settings/tokens`, { headers: { cookie: `wharf_session=${session}` } })).text();
    const formCsrf = /name="_csrf" value="([^"]+)"/.exec(page)![1];
    await fc.assert(
      fc.asyncProperty(fc.array(anyText, { maxLength: 5 }), async (lines) => {
        const r = await fetch(`${s.url}/-/settings/tokens`, {
          method: 'POST', redirect: 'manual',
          headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `wharf_session=${session}` },
          body: new URLSearchParams({ _csrf: formCsrf, name: 'fuzz', scopes: 'read:packages', expires: '7d', resources: lines.join('\n') }),
        });
        assertClientStatus(r.status, await r.text(), `lines ${JSON.stringify(lines).slice(0, 200)}`, true);
      }),
      params(t, 150),
    );
  });
});
