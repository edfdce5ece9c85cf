// The Promote action on a version's page: only the package's admins see the form; a promotion through it is
// recorded and shown; a refusal is shown on the page and records nothing; a forged form is refused.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { systemActor } from '../../src/core/auth/actor.ts';
import { csrfTokenFor, Sessions } from '../../src/core/auth/sessions.ts';
import { publish } from '../helpers/npm-body.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';

interface Who {
  cookie: string;
  csrf: string;
}

describe('web: the Promote action', () => {
  let s: TestServer;
  let alice: Who;
  let bob: Who;
  let versionId: number;
  const page = '/alice/-/packages/npm/hello/1.0.0';

  async function sessionOf(name: string): Promise<Who> {
    const u = await s.core.identity.requireUser(name);
    const { secret } = await new Sessions(s.core.db).create(u.id);
    return { cookie: `wharf_session=${secret}`, csrf: csrfTokenFor(secret) };
  }
  const get = async (path: string, who: Who) => (await fetch(`${s.url}${path}`, { headers: { cookie: who.cookie } })).text();
  const post = (who: Who, fields: Record<string, string>, csrf = who.csrf) =>
    fetch(`${s.url}/alice/-/packages/npm/hello/-/promote`, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: who.cookie },
      body: new URLSearchParams({ ...fields, _csrf: csrf }),
    });

  before(async () => {
    s = await startWharf();
    const token = await s.userWithToken('alice');
    await s.userWithToken('bob');
    await s.core.identity.createOrg(systemActor, 'acme', 'alice');
    assert.equal((await publish(s.url, token, '@alice/hello', '1.0.0')).status, 201);
    const pkg = (await s.core.packages.find('alice', 'npm', 'hello'))!;
    await s.core.publisher.updateSettings(pkg.id, { visibility: 'public' }, systemActor);
    versionId = (await s.core.packages.version(pkg.id, '1.0.0'))!.id;
    alice = await sessionOf('alice');
    bob = await sessionOf('bob');
  });
  after(() => s.stop());

  test('an admin sees the form; a reader does not', async () => {
    assert.match(await get(page, alice), /<h2 id="promote-h">Promote/);
    assert.doesNotMatch(await get(page, bob), /promote-h/);
  });

  test('Promote to owner → 303 back to the version, which now lists where it went', async () => {
    const r = await post(alice, { version: String(versionId), to_owner: 'acme' });
    assert.equal(r.status, 303);
    assert.equal(r.headers.get('location'), `${page}?promoted=1`);
    const html = await get(`${page}?promoted=1`, alice);
    assert.match(html, /Promoted to <code>acme\/hello<\/code>/);
    assert.match(html, /<h2 id="promoted-h">Promoted<\/h2>/);
    assert.ok(await s.core.packages.find('acme', 'npm', 'hello'));
  });

  test('a refusal is shown on the page (409), a reader is refused (403), a forged form is refused; nothing more recorded', async () => {
    const again = await post(alice, { version: String(versionId), to_owner: 'acme' });
    assert.equal(again.status, 409);
    assert.match(await again.text(), /Not promoted: version 1\.0\.0 of acme\/hello already exists/);
    assert.equal((await post(bob, { version: String(versionId), to_owner: 'bob' })).status, 403);
    assert.equal((await post(alice, { version: String(versionId), to_owner: 'alice', name: 'x' }, 'forged')).status, 403);
    assert.equal((await s.core.promotions.list(versionId)).length, 1);
  });
});
