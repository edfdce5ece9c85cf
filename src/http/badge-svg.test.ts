import assert from 'node:assert/strict';
import { test } from 'node:test';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { badgeSvg, endpointJson, shortCount } from './badge-svg.ts';

test('the SVG is well-formed XML whose texts are the label and message, escaped', () => {
  const svg = badgeSvg({ label: 'npm', message: `v1.0.0-<script>alert("x")</script>&'`, color: 'blue' });
  assert.equal(XMLValidator.validate(svg), true);
  assert.ok(!svg.includes('<script>'));
  const doc = new XMLParser({ ignoreAttributes: false }).parse(svg);
  const texts = doc.svg.g[1].text.map((t: Record<string, string>) => t['#text']);
  assert.deepEqual(texts, ['npm', 'npm', `v1.0.0-<script>alert("x")</script>&'`, `v1.0.0-<script>alert("x")</script>&'`]);
  assert.equal(doc.svg.title, `npm: v1.0.0-<script>alert("x")</script>&'`);
});

test('characters XML cannot carry are dropped; long text is cut', () => {
  const svg = badgeSvg({ label: 'a\u0000b\u001b', message: 'x'.repeat(500), color: 'brightgreen' });
  assert.equal(XMLValidator.validate(svg), true);
  assert.ok(svg.length < 3000);
});

test('counts are short; the endpoint document follows shields.io schema 1', () => {
  assert.deepEqual([0, 999, 1000, 1234, 12_345, 5_600_000, 2e9].map(shortCount), ['0', '999', '1k', '1.2k', '12k', '5.6M', '2G']);
  assert.deepEqual(endpointJson({ label: 'downloads', message: '12k', color: 'brightgreen' }), { schemaVersion: 1, label: 'downloads', message: '12k', color: 'brightgreen' });
});
