// The documents a RubyGems source serves, built from what the model stores about each version (GemVersion):
//   compact index (Bundler ≥ 1.12):  /versions, /info/NAME, /names
//   full index (gem install):        specs.4.8.gz, latest_specs.4.8.gz, prerelease_specs.4.8.gz,
//                                    quick/Marshal.4.8/NAME-VERSION[-PLATFORM].gemspec.rz
//   dependency API (old Bundler):    /api/v1/dependencies?gems=a,b (Marshal) and its .json twin
//   JSON API:                        /api/v1/gems/NAME.json, /api/v1/versions/NAME.json
import { createHash } from 'node:crypto';
import { deflateSync, gzipSync } from 'node:zlib';
import type { GemSpec, Requirement } from './gemspec.ts';
import { dump, RHash, RUserDefined, RUserMarshal, RObject, sym, type RValue } from './marshal.ts';
import { canonicalSegments, compareSegments, compareVersions, isPrerelease, versionKey } from './names.ts';

/** What the model keeps about a version (package_versions.metadata): its spec and the .gem's digest. */
export interface GemVersionMeta extends Omit<GemSpec, 'name'> {
  sha256: string;
  size: number;
}

/** One live version, with what the documents need. */
export interface GemVersion {
  name: string;
  meta: GemVersionMeta;
  createdAt: string;
  downloads?: number;
}

const isDefault = (r: Requirement) => r.length === 1 && r[0][0] === '>=' && r[0][1] === '0';
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

/** Sorts by name, then version (Gem::Version order), then platform with 'ruby' first. */
export function byNameVersionPlatform(a: GemVersion, b: GemVersion): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  const c = compareVersions(a.meta.version, b.meta.version);
  if (c) return c;
  if (a.meta.platform === b.meta.platform) return 0;
  return a.meta.platform === 'ruby' ? -1 : b.meta.platform === 'ruby' ? 1 : a.meta.platform < b.meta.platform ? -1 : 1;
}

// ---- compact index ------------------------------------------------------------------------------------------

/**
 * /info/NAME: `---` then one line per version: `VERSION[-PLATFORM] dep:req&req,dep2:req|checksum:SHA256[,ruby:REQ][,rubygems:REQ]`.
 * Only runtime dependencies are listed; constraints of one dependency are joined by '&'.
 */
export function infoFile(versions: GemVersion[]): Buffer {
  const lines = ['---'];
  for (const v of versions) {
    const m = v.meta;
    const deps = m.dependencies
      .filter((d) => d.type === 'runtime')
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((d) => `${d.name}:${d.requirement.map(([op, x]) => `${op} ${x}`).join('&')}`);
    const reqs = [`checksum:${m.sha256}`];
    if (!isDefault(m.requiredRubyVersion)) reqs.push(`ruby:${m.requiredRubyVersion.map(([op, x]) => `${op} ${x}`).join('&')}`);
    if (!isDefault(m.requiredRubygemsVersion)) reqs.push(`rubygems:${m.requiredRubygemsVersion.map(([op, x]) => `${op} ${x}`).join('&')}`);
    lines.push(`${versionKey(m.version, m.platform)} ${deps.join(',')}|${reqs.join(',')}`);
  }
  return Buffer.from(lines.join('\n') + '\n');
}

export interface VersionsLine {
  name: string;
  /** VERSION[-PLATFORM], oldest first. */
  versions: string[];
  /** MD5 hex of the gem's /info file: Bundler refetches /info/NAME only when its copy's MD5 differs. */
  infoMd5: string;
}

/** /versions: a `created_at:` header, `---`, then `NAME V1,V2 INFO_MD5` per gem. */
export function versionsFile(createdAt: string, lines: VersionsLine[]): Buffer {
  const body = lines.filter((l) => l.versions.length).map((l) => `${l.name} ${l.versions.join(',')} ${l.infoMd5}`);
  return Buffer.from(`created_at: ${createdAt.replace(/\.\d+Z$/, 'Z')}\n---\n${body.map((l) => l + '\n').join('')}`);
}

/** /names: `---` then every gem name. */
export function namesFile(names: string[]): Buffer {
  return Buffer.from(`---\n${names.map((n) => n + '\n').join('')}`);
}

/** The /versions line of one gem (its info file and MD5 computed once per revision). */
export function compactEntry(name: string, versions: GemVersion[]): { info: Buffer; line: VersionsLine } {
  const info = infoFile(versions);
  return { info, line: { name, versions: versions.map((v) => versionKey(v.meta.version, v.meta.platform)), infoMd5: md5(info) } };
}

// ---- full index ---------------------------------------------------------------------------------------------

const gemVersion = (v: string) => new RUserMarshal('Gem::Version', [v]);
const requirement = (r: Requirement) => new RUserMarshal('Gem::Requirement', [r.map(([op, v]) => [op, gemVersion(v)])]);

/** specs.4.8 tuples `[name, Gem::Version, platform]`, sorted, Marshal-dumped and gzipped. */
export function specsIndex(versions: GemVersion[]): Buffer {
  // Sorted as byNameVersionPlatform, with each version's segments computed once.
  const keyed = versions.map((v) => ({ v, segs: canonicalSegments(v.meta.version) }));
  keyed.sort((a, b) => {
    if (a.v.name !== b.v.name) return a.v.name < b.v.name ? -1 : 1;
    return compareSegments(a.segs, b.segs) || byNameVersionPlatform(a.v, b.v);
  });
  const tuples: RValue[] = keyed.map(({ v }) => [v.name, gemVersion(v.meta.version), v.meta.platform]);
  return gzipSync(dump(tuples));
}

/** The newest release of each name and platform (latest_specs.4.8). */
export function latestReleases(versions: GemVersion[]): GemVersion[] {
  const latest = new Map<string, GemVersion>();
  for (const v of versions) {
    if (isPrerelease(v.meta.version)) continue;
    const key = `${v.name}\0${v.meta.platform}`;
    const cur = latest.get(key);
    if (!cur || compareVersions(v.meta.version, cur.meta.version) > 0) latest.set(key, v);
  }
  return [...latest.values()];
}

/**
 * A Gem::Specification as Marshal.dump writes it: user-defined ('u') with the bytes of Specification#_dump,
 * a Marshal'd array of 19 fields (RubyGems' MARSHAL_FIELDS for specification_version 4).
 */
export function gemspecMarshal(name: string, m: GemVersionMeta): Buffer {
  const dependency = (d: GemSpec['dependencies'][number]) =>
    new RObject('Gem::Dependency', [
      ['name', d.name],
      ['requirement', requirement(d.requirement)],
      ['type', sym(d.type)],
      ['prerelease', false],
      ['version_requirements', requirement(d.requirement)],
    ]);
  const fields: RValue[] = [
    m.rubygemsVersion,
    m.specificationVersion,
    name,
    gemVersion(m.version),
    m.date, // Specification#date= accepts "YYYY-MM-DD"
    m.summary,
    requirement(m.requiredRubyVersion),
    requirement(m.requiredRubygemsVersion),
    m.platform,
    m.dependencies.map(dependency),
    '', // rubyforge_project
    Array.isArray(m.email) ? m.email : m.email,
    m.authors,
    m.description,
    m.homepage,
    true, // has_rdoc
    m.platform, // new_platform: Specification._load keeps it; a String is what `platform` returns for 'ruby' too
    m.licenses,
    new RHash(Object.entries(m.metadata)),
  ];
  return dump(new RUserDefined('Gem::Specification', dump(fields)));
}

/** quick/Marshal.4.8/NAME-VERSION.gemspec.rz: the Marshal'd spec, zlib-deflated. */
export const gemspecRz = (name: string, m: GemVersionMeta) => deflateSync(gemspecMarshal(name, m));

/** The dependency API: `[{name:, number:, platform:, dependencies: [[name, "req, req"]]}]` in Marshal. */
export function dependenciesList(versions: GemVersion[]) {
  return versions.map((v) => ({
    name: v.name,
    number: v.meta.version,
    platform: v.meta.platform,
    dependencies: v.meta.dependencies.filter((d) => d.type === 'runtime').map((d) => [d.name, d.requirement.map(([op, x]) => `${op} ${x}`).join(', ')] as [string, string]),
  }));
}

export function dependenciesMarshal(versions: GemVersion[]): Buffer {
  return dump(
    dependenciesList(versions).map(
      (d) => new RHash([[sym('name'), d.name], [sym('number'), d.number], [sym('platform'), d.platform], [sym('dependencies'), d.dependencies]]),
    ),
  );
}

// ---- JSON API -----------------------------------------------------------------------------------------------

const depsJson = (m: GemVersionMeta) => ({
  development: m.dependencies.filter((d) => d.type === 'development').map((d) => ({ name: d.name, requirements: d.requirement.map(([op, x]) => `${op} ${x}`).join(', ') })),
  runtime: m.dependencies.filter((d) => d.type === 'runtime').map((d) => ({ name: d.name, requirements: d.requirement.map(([op, x]) => `${op} ${x}`).join(', ') })),
});

/** The newest version to show for a gem: the highest release (ruby platform first), else the highest prerelease. */
export function latestOf(versions: GemVersion[]): GemVersion | undefined {
  const sorted = [...versions].sort(byNameVersionPlatform);
  const releases = sorted.filter((v) => !isPrerelease(v.meta.version));
  const pool = releases.length ? releases : sorted;
  const top = pool[pool.length - 1];
  return top && (pool.find((v) => v.meta.platform === 'ruby' && v.meta.version === top.meta.version) ?? top);
}

/** GET /api/v1/gems/NAME.json, in rubygems.org's shape. */
export function gemJson(v: GemVersion, totalDownloads: number, urls: { project: string; gem: string }) {
  const m = v.meta;
  return {
    name: v.name,
    downloads: totalDownloads,
    version: m.version,
    version_created_at: v.createdAt,
    version_downloads: v.downloads ?? 0,
    platform: m.platform,
    authors: m.authors.join(', '),
    info: m.description ?? m.summary,
    licenses: m.licenses,
    metadata: m.metadata,
    yanked: false,
    sha: m.sha256,
    project_uri: urls.project,
    gem_uri: urls.gem,
    homepage_uri: m.homepage,
    wiki_uri: m.metadata.wiki_uri ?? null,
    documentation_uri: m.metadata.documentation_uri ?? null,
    mailing_list_uri: m.metadata.mailing_list_uri ?? null,
    source_code_uri: m.metadata.source_code_uri ?? null,
    bug_tracker_uri: m.metadata.bug_tracker_uri ?? null,
    changelog_uri: m.metadata.changelog_uri ?? null,
    funding_uri: m.metadata.funding_uri ?? null,
    dependencies: depsJson(m),
  };
}

/** GET /api/v1/versions/NAME.json: every version, newest first. */
export function versionsJson(versions: GemVersion[]) {
  return [...versions].sort(byNameVersionPlatform).reverse().map((v) => ({
    authors: v.meta.authors.join(', '),
    built_at: `${v.meta.date}T00:00:00.000Z`,
    created_at: v.createdAt,
    description: v.meta.description,
    downloads_count: v.downloads ?? 0,
    metadata: v.meta.metadata,
    number: v.meta.version,
    summary: v.meta.summary,
    platform: v.meta.platform,
    rubygems_version: v.meta.requiredRubygemsVersion.map(([op, x]) => `${op} ${x}`).join(', '),
    ruby_version: v.meta.requiredRubyVersion.map(([op, x]) => `${op} ${x}`).join(', '),
    prerelease: isPrerelease(v.meta.version),
    licenses: v.meta.licenses,
    requirements: [],
    sha: v.meta.sha256,
    yanked: false,
  }));
}
