// Fuzzing retention input (issue 22) with fast-check (seeded, see property.ts): parseRule over any JSON and
// near-valid rules returns a rule or Invalid, never a crash; a keep pattern it accepts never takes exponential
// time on a hostile version string (the rule runs on the server, on a schedule); over HTTP, PUT a rule and POST a
// protected tag with hostile bodies → 2xx or 4xx, never a 500.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { parseRule } from '../../src/core/retention/plan.ts';
import { dialects } from '../helpers/databases.ts';
import { EVERY_SCOPE, startWharf, type TestServer } from '../helpers/wharf.ts';
import { assertClientStatus, params, returnsOrRefusesSync } from './property.ts';

/** Regular-expression text built from the pieces catastrophic patterns are made of. */
const regexish = fc.array(fc.constantFrom('(', ')', 'a', 'a', '+', '*', '?', '|', '\\d', '.', '{2}', '{1,}', '[a]', '^', '$', '\\1', '(?:', 'b', '\\.', '-', '\\w', '[a-z]'), { maxLength: 12 }).map((p) => p.join(''));
const nearRule = fc.record(
  {
    keep_last: fc.oneof(fc.integer({ min: -5, max: 200_000 }), fc.double(), fc.jsonValue({ maxDepth: 1 })),
    delete_older_than_days: fc.oneof(fc.double(), fc.integer(), fc.string({ maxLength: 5 })),
    delete_untagged_older_than_days: fc.oneof(fc.double(), fc.constantFrom(0, 3, -1, Infinity, NaN)),
    keep_pattern: fc.oneof(regexish, fc.string({ maxLength: 300 }), fc.jsonValue({ maxDepth: 1 })),
    keep_downloaded_within_days: fc.oneof(fc.nat(), fc.jsonValue({ maxDepth: 1 })),
    extra: fc.jsonValue({ maxDepth: 1 }),
  },
  { requiredKeys: [] },
);
const anyRule = fc.oneof(nearRule, fc.jsonValue({ maxDepth: 3 }));

describe('retention rule parser', () => {
  test('parseRule: a rule or Invalid for any input', (t) => {
    fc.assert(fc.property(anyRule, (input) => returnsOrRefusesSync(() => parseRule(input))), params(t, 3000));
  });

  test('an accepted keep pattern matches a hostile version string quickly', (t) => {
    const hostile = ['a'.repeat(30) + '!', 'a.'.repeat(15) + '!', 'a-'.repeat(15) + '!', 'ab'.repeat(15) + '!', '1.'.repeat(15) + 'x', 'a'.repeat(25) + 'b!'];
    fc.assert(
      fc.property(regexish, (p) => {
        let rule;
        try {
          rule = parseRule({ keep_last: 1, keep_pattern: p });
        } catch {
          return;
        }
        const re = new RegExp(rule.keep_pattern!);
        for (const h of hostile) {
          const t0 = performance.now();
          re.test(h);
          assert.ok(performance.now() - t0 < 250, `${p} on ${h} took ${performance.now() - t0} ms`);
        }
      }),
      params(t, 2000),
    );
  });
});

for (const dialect of dialects()) describe(`retention over HTTP with hostile bodies on ${dialect}`, () => {
  let s: TestServer;
  let token: string;
  before(async () => {
    s = await startWharf({ dialect });
    token = await s.userWithToken('alice', EVERY_SCOPE);
  });
  after(async () => s?.stop());
  const send = (method: string, p: string, body: unknown) =>
    fetch(`${s.url}/api/v1${p}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  test('PUT …/retention and POST …/retention/preview with hostile rules → 200 or a 4xx, never a 500', async (t) => {
    await fc.assert(
      fc.asyncProperty(anyRule, fc.constantFrom('/users/alice/retention', '/users/alice/retention/npm', '/users/alice/retention/pypi'), async (rule, p) => {
        for (const [m, path] of [['PUT', p], ['POST', `${p}/preview`]] as const) {
          const r = await send(m, path, rule);
          assertClientStatus(r.status, await r.text(), `${m} ${path} ${JSON.stringify(rule).slice(0, 200)}`, true);
        }
      }),
      params(t, 200),
    );
  });

  test('POST …/protected-tags with hostile bodies → 201 or a 4xx, never a 500', async (t) => {
    const body = fc.oneof(fc.record({ type: fc.oneof(fc.constantFrom('npm', 'container', 'pypi'), fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 1 })), pattern: fc.oneof(fc.string({ maxLength: 200 }), fc.jsonValue({ maxDepth: 1 })) }, { requiredKeys: [] }), fc.jsonValue({ maxDepth: 2 }));
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const r = await send('POST', '/users/alice/protected-tags', b);
        assertClientStatus(r.status, await r.text(), JSON.stringify(b).slice(0, 200), true);
      }),
      params(t, 200),
    );
  });
});
