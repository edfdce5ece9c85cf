// npm package names as Wharf takes them: scoped (@owner/name), lower-case, URL-safe (npm's validate-npm-package-name rules).
import semver from 'semver';
import { invalid } from '../../core/errors.ts';

export interface NpmName {
  /** The scope without '@' = the owner's name, lower-cased. */
  scope: string;
  /** The name inside the scope. */
  name: string;
  /** `@scope/name` */
  full: string;
}

const PART = /^[a-z0-9][a-z0-9._~-]*$/;

/** Parses `@scope/name` (as decoded from the URL); unscoped or mixed-case names are refused. */
export function parseNpmName(full: string): NpmName {
  const m = /^@([^/]+)\/([^/]+)$/.exec(full);
  if (!m) throw invalid(`package name "${full}" must be scoped: @OWNER/NAME`, 'EINVALIDNAME');
  const [, scope, name] = m;
  if (full.length > 214) throw invalid(`package name "${full}" is longer than 214 characters`, 'EINVALIDNAME');
  if (full !== full.toLowerCase()) throw invalid(`package name "${full}" must be lower-case`, 'EINVALIDNAME');
  if (!/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,38}$/.test(scope)) throw invalid(`invalid scope "@${scope}"`, 'EINVALIDNAME');
  if (!PART.test(name) || name === 'node_modules' || name === 'favicon.ico') throw invalid(`invalid package name "${full}"`, 'EINVALIDNAME');
  return { scope, name, full };
}

/** A version must be valid SemVer 2.0, written in its canonical form. */
export function checkNpmVersion(v: unknown): string {
  if (typeof v !== 'string' || v.length > 256 || semver.valid(v) !== v) throw invalid(`invalid version "${String(v)}": it must be a valid semver version`, 'EINVALIDVERSION');
  return v;
}

/** The tarball file name npm uses for a scoped package: `name-version.tgz` (no scope). */
export function tarballName(n: NpmName, version: string): string {
  return `${n.name}-${version}.tgz`;
}

/** Tags already found valid: parsing `latest` as a semver range on every publish cost 2% of it. */
const goodTags = new Set<string>();

/** Dist-tags must not look like versions or ranges (npm refuses them too), and must be URL-safe. */
export function checkDistTag(tag: string): string {
  if (goodTags.has(tag)) return tag;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(tag) || semver.validRange(tag)) throw invalid(`invalid dist-tag "${tag}"`, 'EINVALIDTAGNAME');
  if (goodTags.size >= 1000) goodTags.clear();
  goodTags.add(tag);
  return tag;
}

/**
 * The name npm knows a package by: `@OWNER/NAME` (the owner is the scope, always lower case), or a proxy's package's
 * upstream name (`lodash`, `@types/node`): a proxy is a registry of its own, not a scope.
 */
export const npmDisplayName = (pkg: { owner_name: string; name: string; proxied?: number }): string =>
  pkg.proxied ? pkg.name : `@${pkg.owner_name.toLowerCase()}/${pkg.name}`;
