import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeHtml, html, safeUrl } from './html.ts';
import { isAllowedHtml, renderMarkdown } from './markdown.ts';

test('html escapes every interpolation unless it is Html already', () => {
  const name = `"><script>alert(1)</script>'`;
  assert.equal(html`<a title="${name}">${name}</a>`.value, `<a title="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&#39;">&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&#39;</a>`);
  assert.equal(html`<p>${html`<b>${'<i>'}</b>`}${[1, null, false, 'x']}</p>`.value, '<p><b>&lt;i&gt;</b>1x</p>');
  assert.equal(escapeHtml('`&'), '&#96;&amp;');
});

test('safeUrl keeps http(s) and relative URLs, refuses other schemes however they are disguised', () => {
  for (const ok of ['https://x.com/a?b=1', 'http://x', '/docs', './a.md', '#usage', '?q=1', '//cdn.example/x.png', 'a/b:c']) assert.equal(safeUrl(ok), ok);
  for (const bad of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', ' javascript:x', 'java\tscript:x', 'java\nscript:x', '\u0000javascript:x', 'data:text/html,x', 'vbscript:x', 'mailto:a@b', 'file:///etc/passwd']) assert.equal(safeUrl(bad), null, bad);
  assert.equal(safeUrl('mailto:a@b', { allowMailto: true }), 'mailto:a@b');
});

test('Markdown: raw HTML is escaped, unsafe link and image URLs dropped, headings moved down a level', () => {
  const out = renderMarkdown('# T\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[a](javascript:alert(3)) ![b](javascript:alert(4)) [c](https://ok.example)').value;
  assert.ok(!/<script|<img|onerror=|javascript:/i.test(out.replace(/&lt;[^&]*&gt;/g, '').replace(/&lt;script&gt;alert\(1\)&lt;\/script&gt;/g, '')), out);
  assert.ok(out.includes('<h2>T</h2>'));
  assert.ok(out.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(out.includes('<a href="https://ok.example" rel="nofollow noopener noreferrer">c</a>'));
  assert.ok(!out.includes('href="javascript'));
});

test('the allowlist check refuses anything marked should never produce', () => {
  assert.equal(isAllowedHtml('<p>ok <a href="https://x" rel="nofollow">x</a></p>'), true);
  assert.equal(isAllowedHtml('<p onclick="x">x</p>'), false);
  assert.equal(isAllowedHtml('<script>x</script>'), false);
  assert.equal(isAllowedHtml('<a href="javascript:x">x</a>'), false);
  assert.equal(isAllowedHtml('<a href="&#106;avascript:x">x</a>'), false);
  assert.equal(isAllowedHtml('<img src="x" alt="a" onerror="y">'), false);
  assert.equal(isAllowedHtml('<input type="text">'), false);
  assert.equal(isAllowedHtml('a < b'), false);
});

test('Markdown as a document page (docs/*.md): headings keep their level, raw HTML is escaped all the same', () => {
  const out = renderMarkdown('# REST API\n\n## Scopes\n\n<script>alert(1)</script>', { document: true }).value;
  assert.match(out, /^<h1>REST API<\/h1>\n<h2>Scopes<\/h2>/);
  assert.ok(!out.includes('<script'));
  assert.match(renderMarkdown('# REST API').value, /^<h2>REST API<\/h2>/, 'a README still moves down');
});
