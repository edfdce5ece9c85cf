// README and description rendering: Markdown through marked with raw HTML escaped (a package's <script>, <svg>,
// <img onerror> show as text, they are never markup), link and image URLs limited to http(s), mailto and relative
// ones, and then a check of the produced HTML against a strict allowlist of tags and attributes: should a future
// marked version emit anything else, the README is shown as plain text instead. The page's CSP is a third layer.
import { Marked, type Tokens } from 'marked';
import { escapeHtml, Html, safeUrl } from './html.ts';

/** A renderer whose headings move `shift` levels down (a README's sit below the page's own h1). */
const build = (shift: number) => new Marked({
  gfm: true,
  async: false,
  renderer: {
    html({ text }: Tokens.HTML | Tokens.Tag) {
      return escapeHtml(text);
    },
    text(token: Tokens.Text | Tokens.Escape) {
      if ('tokens' in token && token.tokens) return this.parser.parseInline(token.tokens);
      // Text inside a raw block (after an escaped <script> tag) arrives unescaped: escape it like any other.
      if ('escaped' in token && token.escaped) return escapeHtml(token.text);
      return false;
    },
    heading({ tokens, depth }: Tokens.Heading) {
      const d = Math.min(6, depth + shift);
      return `<h${d}>${this.parser.parseInline(tokens)}</h${d}>\n`;
    },
    link({ href, title, tokens }: Tokens.Link) {
      const inner = this.parser.parseInline(tokens);
      const url = safeUrl(href, { allowMailto: true });
      if (url === null) return inner;
      return `<a href="${escapeHtml(url)}"${title ? ` title="${escapeHtml(title)}"` : ''} rel="nofollow noopener noreferrer">${inner}</a>`;
    },
    image({ href, title, text }: Tokens.Image) {
      const url = safeUrl(href);
      if (url === null) return escapeHtml(text);
      return `<img src="${escapeHtml(url)}" alt="${escapeHtml(text)}"${title ? ` title="${escapeHtml(title)}"` : ''} loading="lazy" referrerpolicy="no-referrer">`;
    },
  },
});
// A package page has its own h1 (the package name): a README's headings move one level down. A page of Wharf's
// own documentation keeps the document's headings (its first one is the page's h1).
const readmeMd = build(1);
const docMd = build(0);

const TAGS = new Set([
  'p', 'br', 'hr', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'em', 'strong', 'del', 'code', 'pre', 'blockquote',
  'ul', 'ol', 'li', 'a', 'img', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'input',
]);
const ATTRS: Record<string, Set<string>> = {
  a: new Set(['href', 'title', 'rel']),
  img: new Set(['src', 'alt', 'title', 'loading', 'referrerpolicy']),
  code: new Set(['class']),
  ol: new Set(['start']),
  th: new Set(['align']),
  td: new Set(['align']),
  input: new Set(['type', 'checked', 'disabled']),
};
const TAG_RE = /<(\/?)([a-z][a-z0-9]*)((?:\s+[a-z-]+(?:="[^"<>]*")?)*)\s*\/?>/y;
const ATTR_RE = /\s+([a-z-]+)(?:="([^"<>]*)")?/g;

/** True when every tag and attribute of `out` is on the allowlist and every URL is safe. */
export function isAllowedHtml(out: string): boolean {
  for (let i = out.indexOf('<'); i >= 0; i = out.indexOf('<', i + 1)) {
    TAG_RE.lastIndex = i;
    const m = TAG_RE.exec(out);
    if (!m || !TAGS.has(m[2])) return false;
    for (const a of m[3].matchAll(ATTR_RE)) {
      const name = a[1];
      if (!ATTRS[m[2]]?.has(name)) return false;
      // Only the entities an escaper writes: anything else (&#106;avascript:) could hide a scheme from the check.
      const rawValue = a[2] ?? '';
      if (/&(?!amp;|quot;|#39;|#96;|lt;|gt;)/.test(rawValue)) return false;
      const value = rawValue.replace(/&(amp|quot|#39|#96|lt|gt);/g, (_, e: string) => ({ amp: '&', quot: '"', '#39': "'", '#96': '`', lt: '<', gt: '>' })[e]!);
      if ((name === 'href' || name === 'src') && safeUrl(value, { allowMailto: name === 'href' }) === null) return false;
      if (m[2] === 'input' && name === 'type' && value !== 'checkbox') return false;
    }
  }
  return true;
}

/** Markdown → safe HTML (empty input → empty). `document`: headings kept at their level (see above). */
export function renderMarkdown(source: string, opts: { document?: boolean } = {}): Html {
  if (!source.trim()) return new Html('');
  let out: string;
  try {
    out = (opts.document ? docMd : readmeMd).parse(source) as string;
  } catch {
    out = '';
  }
  if (!out || !isAllowedHtml(out)) return new Html(`<pre class="plain">${escapeHtml(source)}</pre>`);
  return new Html(out);
}
