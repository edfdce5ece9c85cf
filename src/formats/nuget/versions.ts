// NuGet's package id and version rules: ids are case-insensitive (compared lower-cased, shown as first pushed);
// versions are SemVer 2.0 with NuGet's extras (a fourth number, leading zeros), normalized as nuget.org does:
// 1.0 → 1.0.0, 01.2.3 → 1.2.3, 1.0.0.0 → 1.0.0 (a zero fourth part is dropped), build metadata dropped.
import { invalid } from '../../core/errors.ts';

const ID = /^\w+(?:[.-]\w+)*$/;
export const MAX_ID_LENGTH = 100;

/** Throws Invalid unless `id` is a valid NuGet package id; returns it. */
export function checkId(id: string): string {
  if (!id || id.length > MAX_ID_LENGTH || !ID.test(id)) throw invalid(`"${id.slice(0, 120)}" is not a valid package id`);
  return id;
}

export interface NuGetVersion {
  parts: [number, number, number, number];
  /** Prerelease labels, dot-separated, without the dash; '' for a release. */
  release: string;
  /** The normalized form, prerelease case kept. */
  normalized: string;
}

const VERSION = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

/** Parses a NuGet version, or null. */
export function parseVersion(v: string): NuGetVersion | null {
  const m = VERSION.exec(v.trim());
  if (!m || v.length > 128) return null;
  const nums = [m[1], m[2], m[3], m[4]].map((x) => (x === undefined ? 0 : Number(x)));
  if (nums.some((n) => !Number.isSafeInteger(n))) return null;
  const release = m[5] ?? '';
  // SemVer 2: numeric prerelease identifiers carry no leading zeros; NuGet accepts them, and so do we.
  const parts = nums as [number, number, number, number];
  const base = `${parts[0]}.${parts[1]}.${parts[2]}${parts[3] ? `.${parts[3]}` : ''}`;
  return { parts, release, normalized: release ? `${base}-${release}` : base };
}

/** The normalized form of a version; throws Invalid when it is not a NuGet version. */
export function normalizeVersion(v: string): string {
  const p = parseVersion(v);
  if (!p) throw invalid(`"${v.slice(0, 140)}" is not a valid NuGet version`);
  return p.normalized;
}

export const isPrerelease = (v: string) => (parseVersion(v)?.release ?? '') !== '';
/** SemVer 2 packages: a prerelease label with dots, or build metadata (they are hidden from old clients). */
export const isSemVer2 = (original: string) => /\+/.test(original) || (parseVersion(original)?.release.includes('.') ?? false);

/** Orders versions as NuGet does: numbers, then a release above its prereleases, labels compared per SemVer. */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  if (!x || !y) return a.localeCompare(b);
  for (let i = 0; i < 4; i++) if (x.parts[i] !== y.parts[i]) return x.parts[i] - y.parts[i];
  if (!x.release || !y.release) return (x.release ? -1 : 0) + (y.release ? 1 : 0);
  const xs = x.release.split('.');
  const ys = y.release.split('.');
  for (let i = 0; i < Math.max(xs.length, ys.length); i++) {
    if (i >= xs.length) return -1;
    if (i >= ys.length) return 1;
    const xn = /^\d+$/.test(xs[i]);
    const yn = /^\d+$/.test(ys[i]);
    if (xn && yn) {
      const d = Number(xs[i]) - Number(ys[i]);
      if (d) return d;
    } else if (xn !== yn) return xn ? -1 : 1;
    else {
      const d = xs[i].toLowerCase().localeCompare(ys[i].toLowerCase());
      if (d) return d;
    }
  }
  return 0;
}

/** A dependency's version range as the registration documents carry it: a bare version means "at least". */
export function normalizeRange(range: string | undefined): string {
  const r = (range ?? '').trim();
  if (!r) return '(, )';
  if (/^[[(]/.test(r)) return r.replace(/\s+/g, ' ');
  const p = parseVersion(r);
  return p ? `[${p.normalized}, )` : r;
}
