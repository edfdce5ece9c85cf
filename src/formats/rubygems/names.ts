// Gem names, versions and platforms: the rules they must meet here (they reach URLs, file names and the
// indexes), RubyGems' version ordering (Gem::Version#<=>), and how a gem's full name is spelled.
import { invalid } from '../../core/errors.ts';

/** Letters, digits, '.', '_' and '-', starting with a letter or digit (RubyGems' rule, bounded). */
export function checkGemName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name) || !/[A-Za-z]/.test(name)) {
    throw invalid(`invalid gem name "${name}": use letters, digits, '.', '_' and '-', starting with a letter or digit`);
  }
  return name;
}

/**
 * Gem::Version's syntax, without '-' (RubyGems reads it as ".pre."; here it would make NAME-VERSION-PLATFORM
 * ambiguous), at most 64 characters.
 */
export function checkGemVersion(version: string): string {
  if (version.length > 64 || !/^[0-9]+(\.[0-9A-Za-z]+)*$/.test(version)) throw invalid(`invalid gem version "${version}"`);
  return version;
}

/**
 * A platform other than 'ruby', as RubyGems spells it (x86_64-linux, arm64-darwin-22, java): starting with a letter,
 * as every real one does. That keeps each file name NAME-VERSION[-PLATFORM] one gem's: a version starts with a digit
 * and has no '-', so a platform starting with a digit would let gem `a` 4 (platform `2.1`) claim the file name of
 * gem `a-4` 2.1, and serve its bytes in its place.
 */
export function checkPlatform(platform: string): string {
  if (platform.length > 64 || !/^[A-Za-z][A-Za-z0-9_.-]*$/.test(platform)) throw invalid(`invalid gem platform "${platform}": a platform starts with a letter (x86_64-linux, java)`);
  return platform;
}

/** A version is a prerelease when it has a letter in it (Gem::Version#prerelease?). */
export const isPrerelease = (version: string) => /[A-Za-z]/.test(version);

/** VERSION or VERSION-PLATFORM: the model's version string, and what the compact index lists. */
export const versionKey = (version: string, platform: string) => (platform === 'ruby' ? version : `${version}-${platform}`);

/** NAME-VERSION[-PLATFORM]: the .gem and .gemspec.rz file names. */
export const fullName = (name: string, version: string, platform: string) => `${name}-${versionKey(version, platform)}`;

export type Segment = number | string;

/** Gem::Version#canonical_segments: numbers and letter runs; trailing zeros dropped from release and prerelease parts. */
export function canonicalSegments(version: string): Segment[] {
  const segs: Segment[] = (version.match(/[0-9]+|[A-Za-z]+/g) ?? []).map((s) => (/^[0-9]/.test(s) ? Number(s) : s));
  const firstString = segs.findIndex((s) => typeof s === 'string');
  const release = firstString < 0 ? segs : segs.slice(0, firstString);
  const pre = firstString < 0 ? [] : segs.slice(firstString);
  const trim = (a: Segment[]) => {
    let n = a.length;
    while (n > 0 && a[n - 1] === 0) n -= 1;
    return a.slice(0, n);
  };
  return [...trim(release), ...trim(pre)];
}

/** Gem::Version#<=>: 1.0 == 1.0.0; 1.0.a < 1.0 (a letter segment sorts before any number). */
export function compareVersions(a: string, b: string): number {
  return compareSegments(canonicalSegments(a), canonicalSegments(b));
}

/** compareVersions over precomputed canonical segments (for sorting many versions). */
export function compareSegments(l: Segment[], r: Segment[]): number {
  const n = Math.max(l.length, r.length);
  for (let i = 0; i < n; i++) {
    const x = l[i] ?? 0;
    const y = r[i] ?? 0;
    if (x === y) continue;
    if (typeof x === 'string' && typeof y === 'number') return -1;
    if (typeof x === 'number' && typeof y === 'string') return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}
