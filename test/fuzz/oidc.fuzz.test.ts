// Fuzzing the OIDC exchanges (seeded, see property.ts): hostile ID tokens — random text, mangled JWTs, JWTs with
// headers and claims of any shape, signed or not — at npm's exchange and the generic one get a 4xx, never a 500,
// and exchange nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { startIssuer, type TestIssuer } from '../helpers/oidc-issuer.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';
import { assertClientStatus, mutatedText, params } from './property.ts';

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

describe('OIDC exchange fuzz', () => {
  let s: TestServer;
  let issuer: TestIssuer;
  let valid = '';

  before(async () => {
    issuer = await startIssuer();
    s = await startWharf({ env: { WHARF_OIDC_ISSUERS: issuer.url, WHARF_OIDC_CA_FILE: issuer.caFile } });
    await s.userWithToken('alice', 'read:packages,write:packages,admin:org,user');
    await s.core.trustedPublishers.add({ kind: 'system', scopes: new Set(), via: { credential: 'system' } } as never, { kind: 'owner', owner: 'alice', type: 'npm', name: 'x' }, { provider: 'generic', issuer: issuer.url, claims: { sub: 'ci' } });
    valid = await issuer.sign({ sub: 'ci' }, { aud: 'wharf:127.0.0.1', expiresIn: 3600 });
  });
  after(async () => {
    await s?.stop();
    await issuer?.close();
  });

  const post = async (idToken: string, npm: boolean) => {
    const r = npm
      ? await fetch(`${s.url}/-/npm/v1/oidc/token/exchange/package/@alice%2fx`, { method: 'POST', headers: { authorization: `Bearer ${idToken}` } }).catch(() => null)
      : await fetch(`${s.url}/api/v1/oidc/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id_token: idToken }) });
    return r;
  };

  const hostile = () => fc.oneof(
    mutatedText(valid, ['.', '=', '%', '\u0000', 'eyJ']),
    fc.string({ maxLength: 200 }),
    fc.tuple(fc.jsonValue({ maxDepth: 3 }), fc.jsonValue({ maxDepth: 3 }), fc.string({ maxLength: 40 })).map(([h, p, sig]) => `${b64(h)}.${b64(p)}.${b64(sig)}`),
    fc.record({ alg: fc.constantFrom('none', 'HS256', 'RS256', 'ES256', 'x'), kid: fc.oneof(fc.string(), fc.integer()), typ: fc.constant('JWT') }, { requiredKeys: [] })
      .chain((h) => fc.record({ iss: fc.oneof(fc.constant(issuer.url), fc.string()), aud: fc.oneof(fc.constant('wharf:127.0.0.1'), fc.array(fc.string())), sub: fc.constant('ci'), exp: fc.oneof(fc.integer(), fc.string()), jti: fc.oneof(fc.string(), fc.integer()) }, { requiredKeys: [] })
        .map((p) => `${b64(h)}.${b64(p)}.`)),
  );

  test('a hostile ID token → 4xx at either exchange, and no token minted', async (t) => {
    const before = Number((await s.core.db.selectFrom('tokens').select((eb) => eb.fn.countAll().as('n')).where('kind', '=', 'publisher').executeTakeFirstOrThrow()).n);
    await fc.assert(
      fc.asyncProperty(hostile(), fc.boolean(), async (idToken, npm) => {
        if (idToken === valid) return;
        // Header values cannot carry every character: what fetch refuses to send is no request at all.
        const r = await post(idToken, npm);
        if (!r) return;
        assertClientStatus(r.status, await r.text(), `${npm ? 'npm' : 'generic'} exchange of ${JSON.stringify(idToken.slice(0, 80))}`);
      }),
      params(t, 150),
    );
    const now = Number((await s.core.db.selectFrom('tokens').select((eb) => eb.fn.countAll().as('n')).where('kind', '=', 'publisher').executeTakeFirstOrThrow()).n);
    assert.equal(now, before);
  });
});
