// Typed HTML templates: `html` is a tagged template whose interpolations are escaped unless they are already
// `Html` (the result of another `html` call or of a vetted renderer). Rules the templates in src/web follow:
//   - every attribute value is written in double quotes (escaping both quote kinds keeps any value inside them);
//   - a URL that comes from package data goes through `safeUrl` before it reaches href/src;
//   - no inline <script>, no on* attributes, no style attributes (the CSP forbids them anyway).

/** A string of HTML that is safe to write as is. Only `html`, `raw` and vetted renderers make one. */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export type Child = Html | string | number | bigint | boolean | null | undefined | readonly Child[];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Escapes text for element content and for double- or single-quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"'`]/g, (c) => ESCAPES[c]);
}

function append(out: string[], v: Child): void {
  if (v === null || v === undefined || v === false || v === true) return;
  if (v instanceof Html) out.push(v.value);
  else if (Array.isArray(v)) for (const x of v) append(out, x);
  else out.push(escapeHtml(String(v)));
}

/** The tagged template: `html\`<p title="${t}">${body}</p>\``. */
export function html(strings: TemplateStringsArray, ...values: Child[]): Html {
  const out: string[] = [strings[0]];
  for (let i = 0; i < values.length; i++) {
    append(out, values[i]);
    out.push(strings[i + 1]);
  }
  return new Html(out.join(''));
}

/** Trusted markup (constants written in this folder, vetted renderer output). Never package data. */
export function raw(s: string): Html {
  return new Html(s);
}

/** Joins children with a separator. */
export function join(items: readonly Child[], sep: Child = ''): Html {
  const out: string[] = [];
  items.forEach((it, i) => {
    if (i) append(out, sep);
    append(out, it);
  });
  return new Html(out.join(''));
}

/**
 * A URL from untrusted data, or null when it is not http(s), mailto or a relative reference. Control characters
 * and whitespace are stripped first, as browsers do, so `java\tscript:` and ` javascript:` are caught too.
 */
export function safeUrl(url: string | null | undefined, opts: { allowMailto?: boolean } = {}): string | null {
  if (typeof url !== 'string') return null;
  const s = url.replace(/[\u0000-\u0020\u007f-\u009f]/g, '');
  if (!s) return null;
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(s);
  if (scheme) {
    const sch = scheme[1].toLowerCase();
    if (sch === 'http' || sch === 'https' || (opts.allowMailto && sch === 'mailto')) return url.trim();
    return null;
  }
  // No scheme: relative (path, query or fragment). A leading '//' is protocol-relative: fine (http(s) only).
  // A colon before the first '/', '?' or '#' would make browsers read a scheme: refuse.
  const firstColon = s.indexOf(':');
  const firstSep = s.search(/[/?#]/);
  if (firstColon >= 0 && (firstSep < 0 || firstColon < firstSep)) return null;
  return url.trim();
}

/** One URL path segment. */
export const seg = (s: string) => encodeURIComponent(s);
