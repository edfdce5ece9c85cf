// An upstream registry's packuments, as a proxy takes them: hostile input (a compromised or broken upstream), so
// parsed once, checked, and only then kept; served rewritten so that every tarball URL points at Wharf, where the
// tarball is verified against the `dist.integrity` of the document Wharf kept (never against the tarball's own say).
import semver from 'semver';
import { upstreamError } from '../../core/errors.ts';
import { checkJsonDepth } from '../../http/body.ts';
import { ABBREVIATED_FIELDS } from './packument.ts';

/** npm names as a public registry has them: unscoped ones too, and legacy capitals (`JSONStream`). */
const NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[A-Za-z0-9][A-Za-z0-9._~-]*$/;

export interface UpstreamName {
  /** `lodash`, `@types/node` */
  full: string;
  /** The tarball's file name prefix: the name without its scope. */
  short: string;
}

/** A package name as the upstream spells it, or undefined (a path that is not one). */
export function parseUpstreamName(full: string): UpstreamName | undefined {
  if (full.length > 214 || !NAME.test(full) || full.endsWith('node_modules') || full === 'favicon.ico') return undefined;
  return { full, short: full.startsWith('@') ? full.slice(full.indexOf('/') + 1) : full };
}

/** The version a tarball file name names (`name-1.2.3.tgz`), if it is one. */
export function versionOfTarball(n: UpstreamName, file: string): string | undefined {
  if (!file.startsWith(`${n.short}-`) || !file.endsWith('.tgz')) return undefined;
  const v = file.slice(n.short.length + 1, -4);
  return semver.valid(v) === v ? v : undefined;
}

export interface UpstreamPackument {
  doc: Record<string, any>;
  versions: Record<string, Record<string, any>>;
}

const isObject = (v: unknown): v is Record<string, any> => !!v && typeof v === 'object' && !Array.isArray(v);

/**
 * Parses and checks an upstream packument for `name`: a JSON object naming that package, whose versions are
 * objects with a valid version and a `dist` with a tarball URL and an integrity (sha512) or shasum. Versions that
 * fail are left out (they could not be verified); a document that fails is refused (Upstream, a 502).
 */
export function parseUpstreamPackument(bytes: Buffer, name: string): UpstreamPackument {
  const text = bytes.toString('utf8');
  let doc: unknown;
  try {
    checkJsonDepth(text, 64, 'the upstream packument');
    doc = JSON.parse(text);
  } catch {
    throw upstreamError(`the upstream's document for ${name} is not valid JSON`);
  }
  if (!isObject(doc)) throw upstreamError(`the upstream's document for ${name} is not a JSON object`);
  if (doc.name !== undefined && doc.name !== name) throw upstreamError(`the upstream's document names ${String(doc.name).slice(0, 100)}, not ${name}`);
  if (!isObject(doc.versions)) throw upstreamError(`the upstream's document for ${name} has no versions`);
  const versions: Record<string, Record<string, any>> = {};
  for (const [v, m] of Object.entries(doc.versions)) {
    if (semver.valid(v) !== v || !isObject(m) || (m.version !== undefined && m.version !== v) || !isObject(m.dist)) continue;
    const { tarball, integrity, shasum } = m.dist;
    if (typeof tarball !== 'string' || !(typeof integrity === 'string' || typeof shasum === 'string')) continue;
    versions[v] = m;
  }
  if (doc['dist-tags'] !== undefined && !isObject(doc['dist-tags'])) throw upstreamError(`the upstream's dist-tags for ${name} are not an object`);
  return { doc, versions };
}

/** The hashes a tarball must have, from the version's `dist`: sha512 (base64) when given, else sha1 (hex). */
export function expectedDigests(dist: Record<string, any>): { sha512?: string[]; sha1?: string } {
  const sha512 = typeof dist.integrity === 'string'
    ? dist.integrity.split(/\s+/).filter((h: string) => h.startsWith('sha512-')).map((h: string) => h.slice(7).replace(/\?.*$/, ''))
    : [];
  if (sha512.length) return { sha512 };
  return typeof dist.shasum === 'string' && /^[0-9a-f]{40}$/i.test(dist.shasum) ? { sha1: dist.shasum.toLowerCase() } : {};
}

export interface RewriteInput {
  name: UpstreamName;
  parsed: UpstreamPackument;
  /** The tarball URL Wharf serves a version at. */
  tarballUrl: (version: string) => string;
  /** Versions deleted in Wharf: left out (and the dist-tags naming them), though the upstream still lists them. */
  deleted?: ReadonlySet<string>;
}

/** The upstream's versions less those deleted here. */
const liveVersions = (input: RewriteInput) => Object.entries(input.parsed.versions).filter(([v]) => !input.deleted?.has(v));

/** The upstream's dist-tags less those naming a version deleted here. */
function liveTags(input: RewriteInput): Record<string, unknown> {
  const tags = input.parsed.doc['dist-tags'];
  if (!isObject(tags)) return {};
  return Object.fromEntries(Object.entries(tags).filter(([, v]) => !(typeof v === 'string' && input.deleted?.has(v))));
}

const dropped = new Set(['_attachments', '_uplinks', '_distfiles', 'users', '_rev']);

function rewriteVersion(m: Record<string, any>, url: string): Record<string, any> {
  return { ...m, dist: { ...m.dist, tarball: url } };
}

/** The full packument Wharf serves for an upstream package. */
export function proxiedFullPackument(input: RewriteInput): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input.parsed.doc)) if (!dropped.has(k) && k !== 'versions') out[k] = v;
  const versions: Record<string, unknown> = {};
  for (const [v, m] of liveVersions(input)) versions[v] = rewriteVersion(m, input.tarballUrl(v));
  if (input.deleted?.size) {
    out['dist-tags'] = liveTags(input);
    if (isObject(out.time)) out.time = Object.fromEntries(Object.entries(out.time).filter(([v]) => !input.deleted!.has(v)));
  }
  out._id = input.name.full;
  out.name = input.name.full;
  out.versions = versions;
  return out;
}

/** The abbreviated ("corgi") packument Wharf serves for an upstream package. */
export function proxiedAbbreviatedPackument(input: RewriteInput): Record<string, unknown> {
  const versions: Record<string, unknown> = {};
  for (const [v, m] of liveVersions(input)) {
    const slim: Record<string, unknown> = {};
    for (const k of ABBREVIATED_FIELDS) if (m[k] !== undefined) slim[k] = m[k];
    slim.dist = rewriteVersion(m, input.tarballUrl(v)).dist;
    versions[v] = slim;
  }
  const doc = input.parsed.doc;
  const modified = isObject(doc.time) && typeof doc.time.modified === 'string' ? doc.time.modified : undefined;
  return { name: input.name.full, ...(modified ? { modified } : {}), 'dist-tags': liveTags(input), versions };
}

/**
 * The registry names a version depends on (dependencies, optional and peer ones; an alias `npm:name@range` names
 * `name`), as npm resolving a tree would ask for them next. Specs that are not registry ranges (files, git,
 * URLs, `user/repo`) and names that are not names are left out; at most `max`.
 */
export function dependencyNames(m: Record<string, any>, max = 1000): string[] {
  const out = new Set<string>();
  for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies']) {
    const deps = m[field];
    if (!isObject(deps)) continue;
    for (const [name, spec] of Object.entries(deps)) {
      if (out.size >= max) return [...out];
      if (typeof spec !== 'string') continue;
      let real = name;
      if (spec.startsWith('npm:')) {
        const at = spec.indexOf('@', spec.startsWith('npm:@') ? 5 : 4);
        real = at < 0 ? spec.slice(4) : spec.slice(4, at);
      } else if (spec.includes(':') || (spec.includes('/') && !spec.startsWith('@'))) continue;
      if (parseUpstreamName(real)) out.add(real);
    }
  }
  return [...out];
}
