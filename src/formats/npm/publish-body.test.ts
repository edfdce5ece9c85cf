import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { text } from 'node:stream/consumers';
import type { Readable } from 'node:stream';
import { LARGE_STRING_PLACEHOLDER, parsePublishBody } from './publish-body.ts';

/** Splits a buffer into chunks of `size` to exercise every boundary. */
function* chunks(buf: Buffer, size: number) {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}
const opts = { maxBody: 1e9, maxDocument: 1e6, largeString: 64 };
const collect = async (s: Readable) => Buffer.concat(await s.toArray());

test('a small document parses like JSON.parse, at any chunking', async () => {
  const doc = { name: '@a/b', s: 'q"uo\\te\\"', u: 'é\u2028', nested: [1, { x: null }], e: '' };
  const buf = Buffer.from(JSON.stringify(doc));
  for (const size of [1, 2, 3, 7, 1000]) {
    const r = await parsePublishBody(chunks(buf, size), opts, async () => assert.fail('no large string'));
    assert.deepEqual(r.doc, doc);
    assert.equal(r.large, null);
  }
});

test('the one large string is streamed out, decoded from base64, and replaced by the placeholder', async () => {
  const tarball = randomBytes(5000);
  const b64 = tarball.toString('base64').replace(/\//g, '\\/'); // escaped slashes are legal JSON
  const body = Buffer.from(`{"name":"@a/b","_attachments":{"b-1.0.0.tgz":{"data":"${b64}","length":5000}},"z":"after"}`);
  for (const size of [1, 5, 64, 65536]) {
    const r = await parsePublishBody(chunks(body, size), opts, collect);
    assert.deepEqual(r.large, tarball, `chunk size ${size}`);
    assert.equal((r.doc as any)._attachments['b-1.0.0.tgz'].data, LARGE_STRING_PLACEHOLDER);
    assert.equal((r.doc as any).z, 'after');
  }
});

test('a second large string is refused (only the tarball may be large)', async () => {
  const big = 'A'.repeat(200);
  const body = Buffer.from(`{"a":"${big}","b":"${big}"}`);
  await assert.rejects(parsePublishBody(chunks(body, 50), opts, collect), /only the tarball/);
});

test('bad base64, truncated JSON and oversize bodies are refused', async () => {
  await assert.rejects(parsePublishBody([Buffer.from(`{"a":"${'A'.repeat(100)}!!"}`)], opts, collect), /base64/);
  await assert.rejects(parsePublishBody([Buffer.from(`{"a":"${'A'.repeat(100)}"`)], opts, collect), /base64|JSON/);
  await assert.rejects(parsePublishBody([Buffer.from('{"a":"abc')], opts, collect), /truncated/);
  await assert.rejects(parsePublishBody([Buffer.from('{"a":1,}')], opts, collect), /not valid JSON/);
  await assert.rejects(parsePublishBody([Buffer.alloc(100, 32)], { ...opts, maxBody: 50 }, collect), (e: any) => e.kind === 'TooLarge');
  await assert.rejects(parsePublishBody([Buffer.from(`{"a":"${'x'.repeat(50)}"}`)], { ...opts, maxDocument: 20 }, collect), (e: any) => e.kind === 'TooLarge');
});

test('a consumer that fails stops the scan with its error', async () => {
  const body = Buffer.from(`{"a":"${'A'.repeat(100000)}"}`);
  await assert.rejects(
    parsePublishBody(chunks(body, 1000), opts, async (s) => {
      await text(s).catch(() => {});
      throw new Error('consumer failed');
    }),
    /consumer failed|base64/,
  );
});
