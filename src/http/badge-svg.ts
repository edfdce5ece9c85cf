// Badges as shields.io draws them ("flat" style): a grey label and a coloured message, as SVG, and the same facts
// as a shields.io endpoint document (https://shields.io/badges/endpoint-badge), so a README can use either.
// Every text is XML-escaped: a label or message is a package's name or version, which its publisher chose.

/** shields.io's named colours this module uses, as it draws them. */
export const COLORS = { blue: '#007ec6', brightgreen: '#4c1', lightgrey: '#9f9f9f' } as const;
export type BadgeColor = keyof typeof COLORS;

export interface Badge {
  label: string;
  message: string;
  color: BadgeColor;
}

/** The shields.io endpoint schema (version 1). */
export function endpointJson(b: Badge): { schemaVersion: 1; label: string; message: string; color: BadgeColor } {
  return { schemaVersion: 1, label: b.label, message: b.message, color: b.color };
}

const escapeXml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);

/**
 * Approximate width in pixels of text in 11px Verdana (what shields.io measures exactly): close enough that the
 * text fits its box. Characters outside XML's range are dropped before this (see clean()).
 */
function textWidth(s: string): number {
  let w = 0;
  for (const c of s) {
    if (/[ijlI.,:;|!'`]/.test(c)) w += 3.6;
    else if (/[frt()[\]{} -]/.test(c)) w += 4.8;
    else if (/[mwMW@%]/.test(c)) w += 10.5;
    else if (/[A-Z0-9#$&+=?~<>_^*]/.test(c)) w += 7.6;
    else w += 6.8;
  }
  return Math.ceil(w);
}

/** The text drawn: characters XML 1.0 cannot carry are dropped, and long text is cut (a badge is a glance). */
function clean(s: string, max = 60): string {
  // eslint-disable-next-line no-control-regex
  const t = s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '').replace(/[\ud800-\udfff]/g, '');
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** The badge as a standalone SVG document. */
export function badgeSvg(b: Badge): string {
  const label = clean(b.label);
  const message = clean(b.message);
  const lw = textWidth(label) + 10;
  const mw = textWidth(message) + 10;
  const w = lw + mw;
  const title = escapeXml(`${label}: ${message}`);
  const l = escapeXml(label);
  const m = escapeXml(message);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="20" role="img" aria-label="${title}"><title>${title}</title>` +
    `<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>` +
    `<clipPath id="r"><rect width="${w}" height="20" rx="3" fill="#fff"/></clipPath>` +
    `<g clip-path="url(#r)"><rect width="${lw}" height="20" fill="#555"/><rect x="${lw}" width="${mw}" height="20" fill="${COLORS[b.color]}"/><rect width="${w}" height="20" fill="url(#s)"/></g>` +
    `<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">` +
    `<text x="${lw / 2}" y="15" fill="#010101" fill-opacity=".3">${l}</text><text x="${lw / 2}" y="14">${l}</text>` +
    `<text x="${lw + mw / 2}" y="15" fill="#010101" fill-opacity=".3">${m}</text><text x="${lw + mw / 2}" y="14">${m}</text></g></svg>`;
}

/** A count as shields.io writes it: 999, 1.2k, 34k, 5.6M. */
export function shortCount(n: number): string {
  const units = [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']] as const;
  for (const [size, unit] of units) {
    if (n >= size) {
      const v = n / size;
      return `${v >= 10 ? Math.round(v) : Math.round(v * 10) / 10}${unit}`;
    }
  }
  return String(n);
}
