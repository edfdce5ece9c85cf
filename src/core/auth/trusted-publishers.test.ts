// Claim patterns (`*` matches any run of characters, everything else literal), checked by example and against a
// regular-expression reference with fast-check; and ID token verification's key rotation and cache.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { startIssuer, type TestIssuer } from '../../../test/helpers/oidc-issuer.ts';
import { IdTokenVerifier } from './id-tokens.ts';
import { claimMatches } from './trusted-publishers.ts';

test('claimMatches: literal, *, several *, case only where asked', () => {
  assert.ok(claimMatches('acme/app', 'acme/app'));
  assert.ok(!claimMatches('acme/app', 'acme/app2'));
  assert.ok(!claimMatches('acme/app', 'ACME/app'));
  assert.ok(claimMatches('acme/app', 'ACME/App', true));
  assert.ok(claimMatches('acme/*', 'acme/app'));
  assert.ok(claimMatches('acme/*', 'acme/'));
  assert.ok(!claimMatches('acme/*', 'acme'));
  assert.ok(claimMatches('acme/app/.github/workflows/release.yml@refs/tags/v*', 'acme/app/.github/workflows/release.yml@refs/tags/v1.2.3'));
  assert.ok(!claimMatches('acme/app/.github/workflows/release.yml@refs/tags/v*', 'acme/app/.github/workflows/release.yml@refs/heads/main'));
  assert.ok(claimMatches('a*b*c', 'abc'));
  assert.ok(claimMatches('a*b*c', 'a-b-b-c'));
  assert.ok(!claimMatches('a*b*c', 'ac'));
  assert.ok(!claimMatches('ab*ba', 'aba'), 'the prefix and suffix may not overlap');
  // Regular expression characters are literal.
  assert.ok(!claimMatches('acme.app', 'acmeXapp'));
  assert.ok(claimMatches('repo:(x)+', 'repo:(x)+'));
});

test('claimMatches agrees with a regular expression built from the pattern', () => {
  const alphabet = fc.constantFrom('a', 'b', '/', '.', '*', '(', '+', '?');
  fc.assert(
    fc.property(fc.string({ unit: alphabet, maxLength: 12 }), fc.string({ unit: fc.constantFrom('a', 'b', '/', '.', '(', '+', '?'), maxLength: 16 }), (pattern, value) => {
      const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('.*')}$`, 's');
      assert.equal(claimMatches(pattern, value), re.test(value), `${pattern} ~ ${value}`);
    }),
    { seed: 20261207, numRuns: 2000 },
  );
});

let issuer: TestIssuer;
before(async () => {
  issuer = await startIssuer();
});
after(() => issuer.close());

test('keys: fetched once through discovery and cached; a rotated key (unknown kid) is fetched again', async () => {
  const v = new IdTokenVerifier({ issuers: [issuer.url], caFile: issuer.caFile, cooldownMs: 0 });
  const sign = () => issuer.sign({ sub: 'x' }, { aud: 'wharf:test' });
  assert.equal((await v.verify(await sign(), issuer.url, 'wharf:test')).sub, 'x');
  const fetched = issuer.jwksFetches();
  await v.verify(await sign(), issuer.url, 'wharf:test');
  assert.equal(issuer.jwksFetches(), fetched, 'cached');
  await issuer.rotate();
  assert.equal((await v.verify(await sign(), issuer.url, 'wharf:test')).sub, 'x');
  assert.equal(issuer.jwksFetches(), fetched + 1, 'fetched again once for the new kid');
  // A key the issuer does not publish, and an issuer that is not accepted, are refused.
  await assert.rejects(v.verify(await issuer.sign({ sub: 'x' }, { aud: 'wharf:test', key: 'rogue' }), issuer.url, 'wharf:test'), /key the issuer does not publish/);
  assert.throws(() => v.claimedIssuer('a.b.c'), /not a JWT/);
  const foreign = await issuer.sign({ sub: 'x' }, { aud: 'a' });
  assert.throws(() => new IdTokenVerifier({ issuers: ['https://other.example'] }).claimedIssuer(foreign), /unknown issuer/);
});

test('an issuer whose certificate is not trusted is not believed', async () => {
  const v = new IdTokenVerifier({ issuers: [issuer.url] }); // no CA file: the self-signed certificate fails
  await assert.rejects(v.verify(await issuer.sign({ sub: 'x' }, { aud: 'a' }), issuer.url, 'a'), /discovery document could not be read/);
});
