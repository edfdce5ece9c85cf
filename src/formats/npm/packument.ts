// Builds npm's package documents ("packuments") from the model: the full form (npm view, publish, deprecate) and
// the abbreviated install form (application/vnd.npm.install-v1+json), as the public registry serves them.
import semver from 'semver';
import type { PackageVersion } from '../../db/tables.ts';

export interface PackumentInput {
  full: string;
  revision: number;
  createdAt: string;
  updatedAt: string;
  versions: PackageVersion[];
  tags: { name: string; version: string }[];
  /** Tarball URL of a version. */
  tarballUrl: (version: string) => string;
  /** Where a version's attestations are served (`dist.attestations.url`, for a version published with provenance). */
  attestationsUrl?: (version: string) => string;
  /** Registry signatures of a version (`name@version:integrity`), by version. */
  signatures?: Map<string, { keyid: string; sig: string }[]>;
}

/** Fields the abbreviated document keeps for each version (npm's registry API, "abbreviated metadata"). */
export const ABBREVIATED_FIELDS = [
  'name', 'version', 'deprecated', 'dependencies', 'optionalDependencies', 'devDependencies', 'bundleDependencies',
  'bundledDependencies', 'peerDependencies', 'peerDependenciesMeta', 'acceptDependencies', 'bin', 'directories', 'engines',
  'os', 'cpu', 'libc', 'funding', 'license', '_hasShrinkwrap', 'hasInstallScript',
] as const;

/** The couchdb-style revision string npm echoes back in unpublish URLs. */
export const revString = (revision: number) => `${revision}-${revision.toString(16).padStart(8, '0')}`;

/** `dist-tags`, with `latest` falling back to the highest stable version when its version is gone. */
export function distTags(input: Pick<PackumentInput, 'tags' | 'versions'>): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const t of input.tags) tags[t.name] = t.version;
  if (!tags.latest && input.versions.length) {
    const all = input.versions.map((v) => v.version);
    tags.latest = semver.rsort(all.filter((v) => !semver.prerelease(v)))[0] ?? semver.rsort([...all])[0];
  }
  return tags;
}

function versionDoc(v: PackageVersion, input: PackumentInput): Record<string, any> {
  const m = JSON.parse(v.metadata) as Record<string, any>;
  const signatures = input.signatures?.get(v.version);
  // dist.attestations is stored without its URL (the registry's address is the request's): added here, as npmjs has it.
  const attestations = m.dist?.attestations && input.attestationsUrl ? { attestations: { url: input.attestationsUrl(v.version), ...m.dist.attestations } } : {};
  return { ...m, dist: { ...m.dist, tarball: input.tarballUrl(v.version), ...(signatures ? { signatures } : {}), ...attestations } };
}

/**
 * The registry's `maintainers`: the people who published the live versions (each version's `_npmUser`), each
 * once in the order they first published, with the email of their latest publish when it has one — else an empty
 * email, which npm prints as nothing (a missing one it prints as "<undefined>"). A job token's `job:REPO` is not a
 * person and not listed. Empty when no version recorded a publisher.
 */
export function maintainersOf(versions: PackageVersion[]): { name: string; email: string }[] {
  const byName = new Map<string, { name: string; email: string }>();
  for (const v of versions) {
    const u = (JSON.parse(v.metadata) as { _npmUser?: { name?: unknown; email?: unknown } })._npmUser;
    if (!u || typeof u.name !== 'string' || u.name.startsWith('job:') || u.name === 'anonymous') continue;
    const email = typeof u.email === 'string' && u.email ? u.email : byName.get(u.name)?.email;
    byName.set(u.name, { name: u.name, email: email ?? '' });
  }
  return [...byName.values()];
}

/** The full packument. */
export function fullPackument(input: PackumentInput): Record<string, unknown> {
  const tags = distTags(input);
  const versions: Record<string, unknown> = {};
  const time: Record<string, string> = { created: input.createdAt, modified: input.updatedAt };
  let latest: Record<string, any> | undefined;
  for (const v of input.versions) {
    const doc = versionDoc(v, input);
    const { readme: _r, readmeFilename: _f, ...rest } = doc;
    versions[v.version] = rest;
    time[v.version] = v.created_at;
    if (v.version === tags.latest) latest = doc;
  }
  latest ??= input.versions.length ? versionDoc(input.versions[input.versions.length - 1], input) : undefined;
  const out: Record<string, unknown> = {
    _id: input.full,
    _rev: revString(input.revision),
    name: input.full,
    'dist-tags': tags,
    versions,
    time,
  };
  if (latest) {
    for (const k of ['description', 'keywords', 'repository', 'homepage', 'bugs', 'license', 'author', 'maintainers', 'contributors'] as const) {
      if (latest[k] !== undefined) out[k] = latest[k];
    }
    // Who may be asked about the package are the people who published it, not whatever a package.json claims.
    const maintainers = maintainersOf(input.versions);
    if (maintainers.length) out.maintainers = maintainers;
    out.readme = typeof latest.readme === 'string' ? latest.readme : '';
    if (latest.readmeFilename) out.readmeFilename = latest.readmeFilename;
  }
  return out;
}

/** The abbreviated ("corgi") packument npm install asks for. */
export function abbreviatedPackument(input: PackumentInput): Record<string, unknown> {
  const versions: Record<string, unknown> = {};
  for (const v of input.versions) {
    const doc = versionDoc(v, input);
    const slim: Record<string, unknown> = {};
    for (const k of ABBREVIATED_FIELDS) if (doc[k] !== undefined) slim[k] = doc[k];
    slim.dist = doc.dist;
    versions[v.version] = slim;
  }
  return { name: input.full, modified: input.updatedAt, 'dist-tags': distTags(input), versions };
}
