import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import Fastify from 'fastify';
import { WharfError, tooManyRequests, type ErrorKind } from '../../core/errors.ts';
import { RUBYGEMS_ERRORS, rubygemsError, rubygemsErrorHandler, type RubygemsErrorName } from './errors.ts';

const app = Fastify();
app.setErrorHandler(rubygemsErrorHandler);
app.get<{ Params: { name: RubygemsErrorName } }>('/table/:name', async (req) => {
  if (req.params.name === 'UNKNOWN') throw new Error('disk on fire');
  throw rubygemsError(req.params.name);
});
app.get<{ Params: { kind: ErrorKind } }>('/kind/:kind', async (req) => { throw new WharfError(req.params.kind, `a ${req.params.kind}`, 'EPUBLISHCONFLICT'); });
app.get('/lockout', async () => { throw tooManyRequests('too many failed sign-ins', 42); });
after(() => app.close());

test('every entry of the table → its status and a plain-text message; 401 with the Basic challenge', async () => {
  for (const [name, e] of Object.entries(RUBYGEMS_ERRORS)) {
    const r = await app.inject(`/table/${name}`);
    assert.equal(r.statusCode, e.status, name);
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8', name);
    assert.equal(r.body, `${e.message}\n`, name);
    assert.equal(r.headers['www-authenticate'], e.status === 401 ? 'Basic realm="Wharf RubyGems"' : undefined, name);
  }
});

test("the core's errors → their kind's status and their message, whatever code they carry", async () => {
  for (const [kind, status] of [['NotFound', 404], ['Unauthorized', 401], ['Forbidden', 403], ['Invalid', 400], ['Conflict', 409], ['TooLarge', 413], ['Unsupported', 415]] as const) {
    const r = await app.inject(`/kind/${kind}`);
    assert.deepEqual([r.statusCode, r.body], [status, `a ${kind}\n`], kind);
  }
});

test('GET during a lockout → 429 with Retry-After', async () => {
  const r = await app.inject('/lockout');
  assert.deepEqual([r.statusCode, r.headers['retry-after'], r.body], [429, '42', 'too many failed sign-ins\n']);
});
