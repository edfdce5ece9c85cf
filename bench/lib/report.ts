// Formatting the results as a markdown table.

export type Better = 'higher' | 'lower';

export interface Row {
  metric: string;
  wharf?: number;
  verdaccio?: number;
  unit?: string;
  digits?: number;
  /** Print the Wharf/Verdaccio ratio. */
  ratio?: boolean;
  /** For latency and memory: lower is better, and the ratio cell says by how much. */
  better?: Better;
  /** Target: a minimum ratio, or a maximum absolute Wharf value. */
  target?: { minRatio?: number; maxRatio?: number; maxWharf?: number };
  note?: string;
}

const fmt = (v: number | undefined, digits = 0, unit = '') => {
  if (v === undefined || Number.isNaN(v)) return '–';
  const s = v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return unit ? `${s} ${unit}` : s;
};

export function ratioOf(r: Row): number | undefined {
  if (!r.ratio || r.wharf === undefined || r.verdaccio === undefined || !(r.verdaccio > 0)) return undefined;
  return r.wharf / r.verdaccio;
}

export function targetCell(r: Row): string {
  const t = r.target;
  if (!t) return '';
  if (t.minRatio !== undefined) {
    const ratio = ratioOf(r);
    const want = `≥ ${t.minRatio}×`;
    if (ratio === undefined) return `${want} (no peer figure)`;
    return `${want}: ${ratio >= t.minRatio ? 'met' : 'MISSED'}`;
  }
  if (t.maxRatio !== undefined) {
    const ratio = ratioOf(r);
    const want = `≤ ${t.maxRatio}×`;
    if (ratio === undefined) return `${want} (no peer figure)`;
    return `${want}: ${ratio <= t.maxRatio ? 'met' : 'MISSED'}`;
  }
  if (t.maxWharf !== undefined) {
    const want = `< ${t.maxWharf} ${r.unit ?? ''}`.trim();
    if (r.wharf === undefined) return want;
    return `${want}: ${r.wharf < t.maxWharf ? 'met' : 'MISSED'}`;
  }
  return '';
}

/** `peer`: the other column's heading (the `verdaccio` field of each row holds its figures). */
export function table(rows: Row[], peer = 'Verdaccio 6.8.0', peerShort = 'Verdaccio'): string {
  const lines = [`| metric | Wharf | ${peer} | ratio (Wharf/${peerShort}) | target |`, '|---|---:|---:|---:|---|'];
  for (const r of rows) {
    const ratio = ratioOf(r);
    const metric = r.note ? `${r.metric} (${r.note})` : r.metric;
    let cell = ratio === undefined ? '' : `${ratio.toFixed(2)}×`;
    if (ratio !== undefined && r.better === 'lower' && ratio > 0 && ratio < 0.95) cell += ` (${(1 / ratio).toFixed(1)}× lower)`;
    lines.push(`| ${metric} | ${fmt(r.wharf, r.digits, r.unit)} | ${fmt(r.verdaccio, r.digits, r.unit)} | ${cell} | ${targetCell(r)} |`);
  }
  return lines.join('\n');
}

export const MB = 1024 * 1024;
