import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import Fastify from 'fastify';
import { WharfError, tooManyRequests, type ErrorKind } from '../../core/errors.ts';
import { NUGET_ERRORS, nugetError, nugetErrorHandler, odataErrorHandler, type NugetErrorName } from './errors.ts';
import { errorDocument } from './v2-atom.ts';

const app = Fastify();
for (const [prefix, handler] of [['/v3', nugetErrorHandler], ['/v2', odataErrorHandler]] as const) {
  app.register(async (scope) => {
    scope.setErrorHandler(handler);
    scope.get<{ Params: { name: NugetErrorName } }>('/table/:name', async (req) => {
      if (req.params.name === 'UNKNOWN') throw new Error('disk on fire');
      throw nugetError(req.params.name);
    });
    scope.get<{ Params: { kind: ErrorKind } }>('/kind/:kind', async (req) => { throw new WharfError(req.params.kind, `a ${req.params.kind}`, 'EPUBLISHCONFLICT'); });
    scope.get('/lockout', async () => { throw tooManyRequests('too many failed sign-ins', 42); });
  }, { prefix });
}
after(() => app.close());

test('every entry of the table → its status; v3 a plain-text message, v2 the OData error document; 401 with the Basic challenge', async () => {
  for (const [name, e] of Object.entries(NUGET_ERRORS)) {
    const v3 = await app.inject(`/v3/table/${name}`);
    assert.deepEqual([v3.statusCode, v3.headers['content-type'], v3.body], [e.status, 'text/plain; charset=utf-8', `${e.message}\n`], name);
    const v2 = await app.inject(`/v2/table/${name}`);
    assert.deepEqual([v2.statusCode, v2.headers['content-type'], v2.body], [e.status, 'application/xml;charset=utf-8', errorDocument(e.message, e.odataCode)], name);
    for (const r of [v3, v2]) assert.equal(r.headers['www-authenticate'], e.status === 401 ? 'Basic realm="Wharf"' : undefined, name);
  }
});

test("the core's errors → their kind's status; the v2 document's code is the kind", async () => {
  for (const [kind, status] of [['NotFound', 404], ['Unauthorized', 401], ['Forbidden', 403], ['Invalid', 400], ['Conflict', 409], ['TooLarge', 413], ['Unsupported', 415]] as const) {
    const v3 = await app.inject(`/v3/kind/${kind}`);
    assert.deepEqual([v3.statusCode, v3.body], [status, `a ${kind}\n`], kind);
    const v2 = await app.inject(`/v2/kind/${kind}`);
    assert.deepEqual([v2.statusCode, v2.body], [status, errorDocument(`a ${kind}`, kind)], kind);
  }
});

test('GET during a lockout → 429 with Retry-After, on v3 and v2', async () => {
  for (const p of ['/v3', '/v2']) {
    const r = await app.inject(`${p}/lockout`);
    assert.deepEqual([r.statusCode, r.headers['retry-after']], [429, '42'], p);
  }
});
