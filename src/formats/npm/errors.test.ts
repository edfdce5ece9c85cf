import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import Fastify from 'fastify';
import { WharfError, conflict, tooManyRequests, type ErrorKind } from '../../core/errors.ts';
import { NPM_ERRORS, npmError, npmErrorHandler, type NpmErrorName } from './errors.ts';

const app = Fastify();
app.setErrorHandler(npmErrorHandler);
app.get<{ Params: { name: NpmErrorName } }>('/table/:name', async (req) => {
  if (req.params.name === 'UNKNOWN') throw new Error('disk on fire');
  throw npmError(req.params.name);
});
app.get<{ Params: { kind: ErrorKind } }>('/kind/:kind', async (req) => { throw new WharfError(req.params.kind, `a ${req.params.kind}`); });
app.get('/lockout', async () => { throw tooManyRequests('too many failed sign-ins', 42); });
app.get('/foreign', async () => { throw new WharfError('Invalid', 'chunk out of order', 'RANGE'); });
after(() => app.close());

test('every entry of the table → its status and {error, code?} JSON; 401 with the Bearer challenge', async () => {
  for (const [name, e] of Object.entries(NPM_ERRORS)) {
    const r = await app.inject(`/table/${name}`);
    assert.equal(r.statusCode, e.status, name);
    assert.match(r.headers['content-type'] as string, /^application\/json/, name);
    assert.deepEqual(r.json(), { error: e.message, ...('code' in e ? { code: e.code } : {}) }, name);
    assert.equal(r.headers['www-authenticate'], e.status === 401 ? 'Bearer realm="Wharf"' : undefined, name);
  }
});

test("the core's errors by kind → the kind's status with no code; a code npm has → sent", async () => {
  for (const [kind, status] of [['NotFound', 404], ['Unauthorized', 401], ['Forbidden', 403], ['Invalid', 400], ['Conflict', 409], ['TooLarge', 413], ['Unsupported', 415]] as const) {
    const r = await app.inject(`/kind/${kind}`);
    assert.deepEqual([r.statusCode, r.json()], [status, { error: `a ${kind}` }], kind);
  }
  assert.equal(conflict('exists', 'EPUBLISHCONFLICT').status, NPM_ERRORS.EPUBLISHCONFLICT.status);
  // Another protocol's code is not sent to npm.
  const r = await app.inject('/foreign');
  assert.deepEqual([r.statusCode, r.json()], [400, { error: 'chunk out of order' }]);
});

test('GET during a lockout → 429 {code: TOOMANYREQUESTS} with Retry-After', async () => {
  const r = await app.inject('/lockout');
  assert.equal(r.statusCode, 429);
  assert.equal(r.headers['retry-after'], '42');
  assert.deepEqual(r.json(), { error: 'too many failed sign-ins', code: 'TOOMANYREQUESTS' });
});
