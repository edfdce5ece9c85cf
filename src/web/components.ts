// Small pieces shared by the pages: badges, the type icon, dates, sizes, copyable code, the generic view of
// format facts, and the downloads chart (inline SVG drawn on the server).
import type { Visibility } from '../db/tables.ts';
import { formatOf } from '../formats/index.ts';
import { html, join, raw, seg, type Child, type Html } from './html.ts';

/** A package's name as its clients spell it (npm: `@alice/hello`), or `OWNER/NAME`: the one name the UI shows. */
export function packageName(p: { owner_name: string; type: string; name: string; proxied?: number }): string {
  return formatOf(p.type)?.displayName?.(p) ?? `${p.owner_name}/${p.name}`;
}

/** The name a package's own pages put in their heading, under the owner's crumb: NAME, or the format's spelling. */
export function headingName(p: { owner_name: string; type: string; name: string; proxied?: number }): string {
  const full = packageName(p);
  return full === `${p.owner_name}/${p.name}` ? p.name : full;
}

/** The web path of a package (what the REST API advertises as html_url), optionally of one version. */
export function packagePath(p: { owner_name: string; type: string; name: string }, version?: string): string {
  return `/${seg(p.owner_name)}/-/packages/${seg(p.type)}/${seg(p.name)}${version !== undefined ? `/${seg(version)}` : ''}`;
}

/** A long version string (a digest) shortened for lists; the full value in a title. */
export function versionLabel(v: string): Html {
  if (/^[a-z0-9]+:[a-f0-9]{32,}$/.test(v)) return html`<code title="${v}">${v.slice(0, v.indexOf(':') + 13)}…</code>`;
  return html`${v}`;
}

/**
 * A type icon: the same glyph for every format, tinted by a hue derived from the type's name, with the name as
 * its label. Formats are not listed here: a new one gets its icon without a change to the web UI.
 */
export function typeIcon(type: string): Html {
  let h = 0;
  for (const c of type) h = (h * 31 + c.charCodeAt(0)) % 360;
  return html`<span class="type type-h${Math.round(h / 30) % 12}" title="${type} package"><svg aria-hidden="true" width="14" height="14" viewBox="0 0 16 16"><path fill="currentColor" d="M8 .8 1.5 4v8L8 15.2 14.5 12V4L8 .8Zm0 1.7L12.7 4.8 8 7.1 3.3 4.8 8 2.5ZM3 6.2l4.2 2.1v5L3 11.2v-5Zm5.8 7.1v-5L13 6.2v5l-4.2 2.1Z"/></svg>${type}</span>`;
}

export function visibilityBadge(v: Visibility): Html {
  return html`<span class="badge vis-${v}">${v === 'public' ? 'Public' : v === 'private' ? 'Private' : 'Internal'}</span>`;
}

const units = ['B', 'kB', 'MB', 'GB', 'TB'];
/** 1234567 → "1.2 MB". */
export function bytes(n: number): string {
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i ? v.toFixed(v < 10 ? 1 : 0) : v} ${units[i]}`;
}

/** 12345 → "12,345". */
export const count = (n: number) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** A count with its noun: "1 download", "12,345 downloads" (`many` for irregular plurals). */
export const plural = (n: number, one: string, many = `${one}s`) => `${count(n)} ${n === 1 ? one : many}`;

/** An ISO timestamp as a <time> with a short relative text and the full date as its title. */
export function when(iso: string | null | undefined, now = Date.now()): Html {
  if (!iso) return html`<span class="muted">—</span>`;
  const t = Date.parse(iso);
  const s = Math.round((now - t) / 1000);
  let text: string;
  if (s < 60) text = 'just now';
  else if (s < 3600) text = `${Math.floor(s / 60)} min ago`;
  else if (s < 86400) text = `${Math.floor(s / 3600)} h ago`;
  else if (s < 86400 * 30) text = `${plural(Math.floor(s / 86400), 'day')} ago`;
  else text = iso.slice(0, 10);
  return html`<time datetime="${iso}" title="${iso.replace('T', ' ').slice(0, 16)} UTC">${text}</time>`;
}

/** A block of code with a copy button (the button appears only with JavaScript). */
export function copyBlock(id: string, label: string, text: string): Html {
  return html`<div class="copyblock">
  <div class="copyhead"><span id="${id}-label">${label}</span><button type="button" class="copy" data-copy="${id}" aria-describedby="${id}-label" hidden>Copy</button></div>
  <pre id="${id}" tabindex="0" aria-labelledby="${id}-label"><code>${text}</code></pre>
</div>`;
}

const looksLikeDigest = (s: string) => /^[a-z0-9]+:[a-f0-9]{32,}$/.test(s);
const humanKey = (k: string) => {
  const t = k.replace(/[_-]+/g, ' ').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return t.charAt(0).toUpperCase() + t.slice(1);
};

function scalar(key: string, v: unknown): Html {
  if (v === null || v === undefined || v === '') return html`<span class="muted">—</span>`;
  if (typeof v === 'number' && /size/i.test(key)) return html`<span title="${count(v)} bytes">${bytes(v)}</span>`;
  if (typeof v === 'boolean') return html`${v ? 'yes' : 'no'}`;
  const s = String(v);
  if (looksLikeDigest(s)) return html`<code class="digest" title="${s}">${s}</code>`;
  return html`${s}`;
}

/**
 * Format facts (Format.versionMetadata and versionFacts) shown without knowing the format: scalars as a
 * definition list, lists of objects as tables, nested objects as nested sections.
 */
export function factsView(facts: Record<string, unknown>, depth = 0): Html {
  const scalars: Html[] = [];
  const blocks: Html[] = [];
  for (const [k, v] of Object.entries(facts)) {
    if (Array.isArray(v)) {
      if (!v.length) continue;
      if (v.every((x) => x && typeof x === 'object' && !Array.isArray(x))) {
        const cols = [...new Set(v.flatMap((x) => Object.keys(x as object)))];
        blocks.push(html`<div class="facts-table"><h4>${humanKey(k)} <span class="muted">(${v.length})</span></h4>
<div class="scroll"><table><thead><tr>${cols.map((c) => html`<th scope="col">${humanKey(c)}</th>`)}</tr></thead>
<tbody>${v.map((row) => html`<tr>${cols.map((c) => {
          const cell = (row as Record<string, unknown>)[c];
          return html`<td>${cell && typeof cell === 'object' ? JSON.stringify(cell) : scalar(c, cell)}</td>`;
        })}</tr>`)}</tbody></table></div></div>`);
      } else {
        scalars.push(html`<dt>${humanKey(k)}</dt><dd>${join(v.map((x) => (x && typeof x === 'object' ? JSON.stringify(x) : scalar(k, x))), ', ')}</dd>`);
      }
    } else if (v && typeof v === 'object') {
      const inner = factsView(v as Record<string, unknown>, depth + 1);
      if (inner.value) blocks.push(html`<section class="facts-group"><h4>${humanKey(k)}</h4>${inner}</section>`);
    } else {
      scalars.push(html`<dt>${humanKey(k)}</dt><dd>${scalar(k, v)}</dd>`);
    }
  }
  if (!scalars.length && !blocks.length) return raw('');
  return html`${scalars.length ? html`<dl class="facts">${scalars}</dl>` : ''}${blocks}`;
}

/**
 * Daily downloads over the last `days` days as an inline SVG bar chart, with a text summary for screen readers
 * and the numbers in a table behind a disclosure.
 */
export function downloadsChart(rows: { day: string; count: number }[], days: number, now = Date.now()): Html {
  const byDay = new Map(rows.map((r) => [r.day, r.count]));
  const series: { day: string; count: number }[] = [];
  for (let i = days - 1; i >= 0; i--) {
    const day = new Date(now - i * 864e5).toISOString().slice(0, 10);
    series.push({ day, count: byDay.get(day) ?? 0 });
  }
  const total = series.reduce((n, s) => n + s.count, 0);
  const max = Math.max(1, ...series.map((s) => s.count));
  const W = 600;
  const H = 120;
  const pad = 20;
  const bw = W / series.length;
  const bars = series.map((s, i) => {
    const h = s.count ? Math.max(2, ((H - pad) * s.count) / max) : 0;
    return html`<rect x="${(i * bw + 0.5).toFixed(1)}" y="${(H - h).toFixed(1)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${h.toFixed(1)}"><title>${s.day}: ${count(s.count)}</title></rect>`;
  });
  return html`<figure class="chart">
<p class="chart-max" aria-hidden="true">${count(total ? max : 0)} a day at most</p>
<svg viewBox="0 0 ${W} ${H + 1}" role="img" aria-label="${plural(total, 'download')} in the last ${plural(days, 'day')}, at most ${count(total ? max : 0)} a day" preserveAspectRatio="none">
<g class="bars">${bars}</g>
<line class="axis" x1="0" y1="${H + 0.5}" x2="${W}" y2="${H + 0.5}"/>
</svg>
<p class="chart-days" aria-hidden="true"><span>${series[0].day}</span><span>${series.at(-1)!.day}</span></p>
<figcaption>${plural(total, 'download')} in the last ${plural(days, 'day')}</figcaption>
<details><summary>Show as table</summary><div class="scroll"><table class="compact"><thead><tr><th scope="col">Day</th><th scope="col">Downloads</th></tr></thead>
<tbody>${series.filter((s) => s.count).map((s) => html`<tr><td>${s.day}</td><td>${count(s.count)}</td></tr>`)}${total ? '' : html`<tr><td colspan="2">No downloads yet</td></tr>`}</tbody></table></div></details>
</figure>`;
}

/** A notice or error banner (role=status / alert). */
export function banner(kind: 'notice' | 'error', text: Child): Html {
  return html`<div class="banner ${kind}" role="${kind === 'error' ? 'alert' : 'status'}">${text}</div>`;
}
