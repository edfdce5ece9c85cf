// NuGet pull-through proxies (core/proxy): a NuGet proxy NAME is a v3 source at /nuget/NAME/index.json holding
// every package of its upstream, whose `--upstream` is the upstream's service index (nuget.org:
// https://api.nuget.org/v3/index.json). The proxy's own service index names Wharf's URLs; the upstream's is a
// mutable document read to find its flat container (PackageBaseAddress/3.0.0) and its registrations
// (RegistrationsBaseUrl/3.6.0, the hive with SemVer 2.0.0 versions).
//   - the flat-container version list and the registration index and pages are mutable documents (TTL,
//     conditional requests, stale when the upstream is down); registration documents are rebuilt from them with
//     Wharf's URLs, so a client never talks to the upstream;
//   - a .nupkg is immutable: fetched once, spooled while it is stored, kept only when it is the package the
//     upstream's registration describes: its packageHash when the upstream gives one, else a .nuspec naming
//     that id and version (the length is the one the upstream declared: a short body fails the fetch).
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { finished, Transform } from 'node:stream';
import type { Actor } from '../../core/auth/actor.ts';
import type { Core } from '../../core/core.ts';
import { isWharfError, notFound, unauthorized, upstreamError } from '../../core/errors.ts';
import type { ProxyConfig } from '../../core/proxy/proxies.ts';
import type { NuGetVersionMeta, NuGetVersionRow } from './documents.ts';
import { DEFAULT_NUPKG_LIMITS, readNupkg, versionMeta, type NupkgFacts } from './nupkg.ts';
import { checkId, isSemVer2, parseVersion } from './versions.ts';

const TYPE = 'nuget';
const MAX_INDEX = 1024 * 1024;
const MAX_VERSIONS = 16 * 1024 * 1024;
const MAX_REGISTRATION = 32 * 1024 * 1024;
/** Registration pages followed for one package (nuget.org pages hold 64 versions). */
const MAX_PAGES = 200;

export interface UpstreamIndex {
  flat: string;
  registration: string;
}

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length <= 4096 ? v : undefined);

function json(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw upstreamError(`the upstream's ${what} is not JSON`);
  }
}

/** An upstream URL a document names, only on the upstream's own origin (credentials are sent there). */
function onOrigin(url: unknown, origin: string, what: string): string {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    throw upstreamError(`the upstream's ${what} is not a URL`);
  }
  if (u.origin !== origin) throw upstreamError(`the upstream's ${what} is not on the upstream (${u.origin})`);
  return u.toString();
}

/** The flat container and registration base of an upstream service index. */
export function parseUpstreamServiceIndex(bytes: Buffer, origin: string): UpstreamIndex {
  const resources = obj(json(bytes, 'service index')).resources;
  if (!Array.isArray(resources)) throw upstreamError("the upstream's service index has no resources");
  const find = (...types: string[]) => {
    for (const t of types) {
      const r = resources.find((x) => obj(x)['@type'] === t);
      if (r) return obj(r)['@id'];
    }
    return undefined;
  };
  const flat = find('PackageBaseAddress/3.0.0');
  const registration = find('RegistrationsBaseUrl/3.6.0', 'RegistrationsBaseUrl/Versioned', 'RegistrationsBaseUrl/3.4.0', 'RegistrationsBaseUrl/3.0.0-beta', 'RegistrationsBaseUrl');
  if (flat === undefined || registration === undefined) throw upstreamError("the upstream's service index names no PackageBaseAddress or RegistrationsBaseUrl");
  const slash = (u: string) => (u.endsWith('/') ? u : `${u}/`);
  return { flat: slash(onOrigin(flat, origin, 'PackageBaseAddress')), registration: slash(onOrigin(registration, origin, 'RegistrationsBaseUrl')) };
}

/** The versions of an upstream flat-container `index.json`, normalized and lower-cased. */
export function parseUpstreamVersionList(bytes: Buffer): string[] {
  const versions = obj(json(bytes, 'version list')).versions;
  if (!Array.isArray(versions)) throw upstreamError("the upstream's version list has no versions");
  return versions.map((v) => {
    const p = typeof v === 'string' ? parseVersion(v) : null;
    if (!p) throw upstreamError(`the upstream's version list holds an invalid version ${JSON.stringify(v)?.slice(0, 80)}`);
    return p.normalized.toLowerCase();
  });
}

export interface UpstreamEntry {
  row: NuGetVersionRow;
  /** base64 SHA-512 of the .nupkg, when the upstream declares it. */
  sha512?: string;
}

/** A catalog entry of a registration page, as the row Wharf's registration documents are built from. */
function entryOf(item: unknown, id: string): UpstreamEntry {
  const e = obj(obj(item).catalogEntry);
  const v = typeof e.version === 'string' ? parseVersion(e.version) : null;
  if (!v) throw upstreamError(`the upstream's registration of ${id} holds an invalid version`);
  if (typeof e.id === 'string' && e.id.toLowerCase() !== id.toLowerCase()) throw upstreamError(`the upstream's registration of ${id} lists ${e.id.slice(0, 80)}`);
  const groups = Array.isArray(e.dependencyGroups) ? e.dependencyGroups : [];
  const meta: NuGetVersionMeta = {
    id: str(e.id) ?? id, version: v.normalized, originalVersion: str(e.version)!, listed: e.listed !== false, semVer2: isSemVer2(str(e.version)!),
    title: str(e.title), authors: Array.isArray(e.authors) ? e.authors.filter((a) => typeof a === 'string').join(', ') : str(e.authors) ?? '',
    description: str(e.description) ?? '', summary: str(e.summary),
    tags: (Array.isArray(e.tags) ? e.tags : (str(e.tags) ?? '').split(/[\s,]+/)).filter((t): t is string => typeof t === 'string' && t !== '').slice(0, 100),
    projectUrl: str(e.projectUrl), iconUrl: str(e.iconUrl), licenseUrl: str(e.licenseUrl), licenseExpression: str(e.licenseExpression) || undefined,
    requireLicenseAcceptance: e.requireLicenseAcceptance === true, minClientVersion: str(e.minClientVersion) || undefined, packageTypes: [],
    dependencyGroups: groups.slice(0, 100).map((g) => {
      const deps = obj(g).dependencies;
      return {
        targetFramework: str(obj(g).targetFramework) ?? '',
        dependencies: (Array.isArray(deps) ? deps : []).slice(0, 1000).flatMap((d) => {
          const did = str(obj(d).id);
          if (!did) return [];
          try {
            checkId(did);
          } catch {
            throw upstreamError(`the upstream's registration of ${id} names an invalid dependency`);
          }
          return [{ id: did, range: str(obj(d).range) ?? '' }];
        }),
      };
    }),
    frameworks: [], sha512: '', size: 0,
  };
  const published = str(e.published);
  const sha512 = str(e.packageHashAlgorithm)?.toUpperCase() === 'SHA512' ? str(e.packageHash) : undefined;
  return { row: { meta, createdAt: published && !Number.isNaN(Date.parse(published)) ? published : new Date(0).toISOString(), downloads: 0 }, sha512 };
}

/** A registration index: its entries when its pages are inlined, and the URLs of the pages that are not. */
export function parseUpstreamRegistration(bytes: Buffer, id: string, origin: string): { entries: UpstreamEntry[]; pages: string[] } {
  const items = obj(json(bytes, `registration of ${id}`)).items;
  if (!Array.isArray(items)) throw upstreamError(`the upstream's registration of ${id} has no items`);
  const entries: UpstreamEntry[] = [];
  const pages: string[] = [];
  for (const p of items) {
    const leaves = obj(p).items;
    if (Array.isArray(leaves)) entries.push(...leaves.map((l) => entryOf(l, id)));
    else pages.push(onOrigin(obj(p)['@id'], origin, `registration page of ${id}`));
  }
  if (pages.length > MAX_PAGES) throw upstreamError(`the upstream's registration of ${id} has more than ${MAX_PAGES} pages`);
  return { entries, pages };
}

/** A linked registration page's entries. */
export function parseUpstreamRegistrationPage(bytes: Buffer, id: string): UpstreamEntry[] {
  const items = obj(json(bytes, `registration page of ${id}`)).items;
  if (!Array.isArray(items)) throw upstreamError(`the upstream's registration page of ${id} has no items`);
  return items.map((l) => entryOf(l, id));
}

/**
 * A pass-through that spools what goes through it to `file`, then reads the .nupkg there. The spool's own errors
 * (a disk that fails, a write cut short when the body fails midway) fail this fetch, never the process.
 */
export function nupkgSpool(file: string, limits: typeof DEFAULT_NUPKG_LIMITS): { through: Transform; result: Promise<NupkgFacts> } {
  let size = 0;
  let flushed = false;
  let failed: Error | null = null;
  let settle!: { resolve: (f: NupkgFacts) => void; reject: (e: Error) => void };
  const result = new Promise<NupkgFacts>((resolve, reject) => (settle = { resolve, reject }));
  // Not a rejection anyone must wait for: the fetch's own error is what its callers see.
  result.catch(() => {});
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const out = fs.createWriteStream(file);
  out.on('error', (e) => (failed ??= e));
  const cleanup = () => fs.promises.rm(file, { force: true }).catch(() => {});
  /** Resolves once the spool takes more; fails if it errs or closes first. */
  const drained = () =>
    new Promise<void>((resolve, reject) => {
      const off = () => {
        out.off('drain', onDrain);
        out.off('error', onError);
        out.off('close', onClose);
      };
      const onDrain = () => (off(), resolve());
      const onError = (e: Error) => (off(), reject(e));
      const onClose = () => (off(), reject(failed ?? new Error('the spool was closed')));
      out.on('drain', onDrain).on('error', onError).on('close', onClose);
    });
  const through = new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (failed || out.destroyed) return done(failed ?? new Error('the spool was closed'));
      size += chunk.length;
      if (out.write(chunk)) return done(null, chunk);
      drained().then(() => done(null, chunk), done);
    },
    flush(done) {
      flushed = true;
      // Settles on the spool's finish, or on its error or early close (which end()'s callback alone may miss).
      finished(out, (err) => {
        const e = failed ?? err;
        if (e) {
          settle.reject(e);
          void cleanup();
          return done(e);
        }
        readNupkg(file, 0, size, limits).then(settle.resolve, settle.reject).finally(cleanup);
        done();
      });
      out.end();
    },
    destroy(err, done) {
      // After a flush the file is being read (and removed once read); before one, the body failed.
      if (!flushed) {
        out.destroy();
        settle.reject(err ?? failed ?? new Error('the body ended early'));
        void cleanup();
      }
      done(err);
    },
  });
  return { through, result };
}

export class NuGetProxy {
  private readonly parsed = new Map<string, unknown>();

  constructor(private readonly core: Core, private readonly spool: string) {}

  /** The proxy owner `owner` is, if it is a NuGet proxy. */
  async proxyOf(owner: string): Promise<ProxyConfig | undefined> {
    const p = await this.core.proxies.byName(owner);
    return p && p.format === TYPE ? p : undefined;
  }

  /** Read access, decided by authorize() on the package's row or the row it will be (see the npm proxy). */
  async allowRead(actor: Actor, proxy: ProxyConfig, id: string): Promise<void> {
    const pkg = await this.core.packages.find(proxy.name, TYPE, id);
    const ref = pkg ?? { id: 0, owner_id: proxy.ownerId, visibility: proxy.visibility, repository_id: null, inherit_access: 0, type: TYPE, name: id };
    const missing = () => (actor.kind === 'anonymous' ? unauthorized('this NuGet source needs credentials') : notFound(`package ${id} not found`));
    await this.core.authz.authorizeFound(actor, 'read', ref, missing);
  }

  /** A kept upstream document, parsed once per content (registrations of big packages are many pages). */
  private async json<T>(proxy: ProxyConfig, key: string, url: string, maxBytes: number, parse: (b: Buffer) => T): Promise<T> {
    const ref = await this.core.proxyCache.document(proxy, { key, url, accept: 'application/json', maxBytes, check: (b) => void parse(b) });
    const cacheKey = `${proxy.ownerId}|${key}|${ref.digest}`;
    let parsed = this.parsed.get(cacheKey) as T | undefined;
    if (parsed === undefined) {
      parsed = parse(await this.core.proxyCache.read(ref.digest));
      if (this.parsed.size >= 1024) this.parsed.delete(this.parsed.keys().next().value!);
      this.parsed.set(cacheKey, parsed);
    }
    return parsed;
  }

  private upstreamIndex(proxy: ProxyConfig): Promise<UpstreamIndex> {
    return this.json(proxy, 'nuget:index', proxy.upstream, MAX_INDEX, (b) => parseUpstreamServiceIndex(b, new URL(proxy.upstream).origin));
  }

  /** The upstream's flat-container version list of `id`. */
  async versions(actor: Actor, proxy: ProxyConfig, id: string): Promise<string[]> {
    checkId(id);
    await this.allowRead(actor, proxy, id);
    const lid = id.toLowerCase();
    const { flat } = await this.upstreamIndex(proxy);
    return this.json(proxy, `nuget:flat:${lid}`, `${flat}${lid}/index.json`, MAX_VERSIONS, parseUpstreamVersionList);
  }

  /** Every version the upstream's registration lists for `id`, as rows for Wharf's registration documents. */
  async entries(actor: Actor, proxy: ProxyConfig, id: string): Promise<{ name: string; entries: UpstreamEntry[] }> {
    checkId(id);
    await this.allowRead(actor, proxy, id);
    const lid = id.toLowerCase();
    const origin = new URL(proxy.upstream).origin;
    const { registration } = await this.upstreamIndex(proxy);
    const index = await this.json(proxy, `nuget:reg:${lid}`, `${registration}${lid}/index.json`, MAX_REGISTRATION, (b) => parseUpstreamRegistration(b, id, origin));
    const entries = [...index.entries];
    for (const page of index.pages) entries.push(...(await this.json(proxy, `nuget:regpage:${lid}:${page}`, page, MAX_REGISTRATION, (b) => parseUpstreamRegistrationPage(b, id))));
    return { name: entries[0]?.row.meta.id ?? id, entries };
  }

  /** Makes sure `id` `version`'s .nupkg is kept (fetched and verified when missing), for Wharf's own route to serve. */
  async ensureNupkg(actor: Actor, proxy: ProxyConfig, id: string, version: string): Promise<void> {
    checkId(id);
    const v = parseVersion(version);
    if (!v) throw notFound(`version ${version} not found`);
    await this.allowRead(actor, proxy, id);
    const lid = id.toLowerCase();
    const lv = v.normalized.toLowerCase();
    const fileName = `${lid}.${lv}.nupkg`;
    const pkg = await this.core.packages.find(proxy.name, TYPE, id);
    if (pkg && (await this.core.packages.file(pkg.id, v.normalized, fileName))) return;
    let listed: UpstreamEntry | undefined;
    let name = id;
    try {
      const r = await this.entries(actor, proxy, id);
      name = pkg?.name ?? r.name;
      listed = r.entries.find((e) => e.row.meta.version.toLowerCase() === lv);
    } catch (e) {
      if (!(isWharfError(e) && e.kind === 'NotFound')) throw e;
    }
    if (!listed) throw notFound(`${id} ${version} is not in the upstream's registration`);
    const { flat } = await this.upstreamIndex(proxy);
    const limits = { ...DEFAULT_NUPKG_LIMITS, ...this.core.config.inflation };
    await this.core.proxyCache.file(proxy, {
      type: TYPE, packageName: name, version: listed.row.meta.version, fileName, contentType: 'application/octet-stream',
      url: `${flat}${lid}/${lv}/${fileName}`, maxSize: this.core.config.maxBlobSize, extraDigests: ['sha512'],
      verify: (staged) => {
        if (!listed.sha512) return;
        const got = Buffer.from(staged.extra.sha512 ?? '', 'hex').toString('base64');
        if (got !== listed.sha512) throw upstreamError(`hash mismatch: the upstream's ${fileName} has SHA-512 ${got}, its registration says ${listed.sha512}`);
      },
      inspect: () => nupkgSpool(path.join(this.spool, `${randomUUID()}.proxy`), limits),
      describe: (found, staged) => {
        const facts = found as NupkgFacts;
        const spec = facts.nuspec;
        const sv = parseVersion(spec.version);
        if (spec.id.toLowerCase() !== lid || sv?.normalized.toLowerCase() !== lv) {
          throw upstreamError(`the upstream's ${fileName} holds ${spec.id} ${spec.version}, not ${id} ${v.normalized}`);
        }
        const meta = versionMeta(facts, { id: name, version: sv.normalized, listed: listed.row.meta.listed, blob: staged });
        return { metadata: meta, packageMetadata: sv.release ? undefined : { description: spec.description, latest: sv.normalized } };
      },
      metadata: {},
    });
  }
}
