// npm pull-through proxies (core/proxy): an npm proxy NAME is a registry at /npm/NAME/ holding every package of
// its upstream, scoped or not (`/npm/NAME/lodash`, `/npm/NAME/@types%2fnode`, tarballs at
// `/npm/NAME/<name>/-/<short>-<version>.tgz`). The default npm proxy also answers at /npm/ itself for every name
// Wharf does not hold — never for a scope that is a Wharf owner (dependency confusion: a public `@acme/app` must
// not shadow the organization acme's), nor for a name an administrator blocked.
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Actor } from '../../core/auth/actor.ts';
import type { Hashed } from '../../core/blobs/blob-store.ts';
import type { Core } from '../../core/core.ts';
import { notFound, unauthorized, upstreamError } from '../../core/errors.ts';
import type { PackageRow } from '../../core/model/packages.ts';
import type { ProxyConfig } from '../../core/proxy/proxies.ts';
import type { FileRequest } from '../../core/proxy/proxy-cache.ts';
import { GenerationCache, scopedGeneration } from '../../db/changes.ts';
import { baseUrlOf } from '../../http/actor.ts';
import { sendBlob, sendLive } from '../../http/blob-reply.ts';
import { PackumentCache } from './cache.ts';
import {
  dependencyNames, expectedDigests, parseUpstreamName, parseUpstreamPackument, proxiedAbbreviatedPackument, proxiedFullPackument, versionOfTarball,
  type UpstreamName, type UpstreamPackument,
} from './proxy-packument.ts';

const TYPE = 'npm';
const CORGI = 'application/vnd.npm.install-v1+json';
/** The largest upstream packument kept (the public registry's largest full documents are tens of MiB). */
const MAX_PACKUMENT = 64 * 1024 * 1024;

interface Target {
  proxy: ProxyConfig;
  name: UpstreamName;
  /** A tarball's file name; none for the packument. */
  file?: string;
  /** Reached through the default proxy at /npm/ (a name that falls through), not at /npm/PROXY/. */
  viaDefault?: boolean;
}

/** `[name]`, `[@scope/name]`, `[@scope, name]`, each optionally followed by `-`, FILE. */
function packagePath(s: string[]): { name: UpstreamName; file?: string } | undefined {
  let rest = s;
  let full: string;
  if (rest[0]?.startsWith('@') && !rest[0].includes('/') && rest.length >= 2 && rest[1] !== '-') {
    full = `${rest[0]}/${rest[1]}`;
    rest = rest.slice(2);
  } else {
    full = rest[0] ?? '';
    rest = rest.slice(1);
  }
  const name = parseUpstreamName(full);
  if (!name) return undefined;
  if (!rest.length) return { name };
  if (rest.length === 2 && rest[0] === '-') return { name, file: rest[1] };
  return undefined;
}

export class NpmProxy {
  private readonly documents = new PackumentCache(64 * 1024 * 1024);
  /** Parsed upstream documents by digest: a packument is parsed once per content, not per request. */
  private readonly parsed = new Map<string, UpstreamPackument>();
  /** Whether a scope is a Wharf owner, asked on every fall-through: cached until something changes. */
  private readonly owners: GenerationCache<boolean>;

  constructor(private readonly core: Core) {
    this.owners = new GenerationCache(scopedGeneration(core.changes, ['owners']), 10_000, 'npm_proxy_scopes');
  }

  /**
   * What the path segments after /npm/ name, when a proxy serves them: `/npm/NAME/...` for a proxy NAME, else the
   * default proxy for a name Wharf does not hold. Undefined: Wharf's own npm routes answer.
   */
  async resolve(segments: string[]): Promise<Target | undefined> {
    const named = segments.length > 1 && !segments[0].startsWith('@') ? await this.core.proxies.byName(segments[0]) : undefined;
    if (named && named.format === TYPE) {
      const p = packagePath(segments.slice(1));
      if (p) return { proxy: named, ...p };
    }
    const p = packagePath(segments);
    if (!p) return undefined;
    const proxy = await this.fallThrough(p.name.full);
    return proxy ? { proxy, ...p, viaDefault: true } : undefined;
  }

  /** The default proxy, if `name` may fall through to it. */
  private async fallThrough(name: string): Promise<ProxyConfig | undefined> {
    const proxy = await this.core.proxies.defaultOf(TYPE);
    if (!proxy) return undefined;
    // A scope that is a Wharf owner is Wharf's, whether or not the package exists here.
    if (name.startsWith('@')) {
      const scope = name.slice(1, name.indexOf('/')).toLowerCase();
      if (await this.owners.get(scope, async () => !!(await this.core.identity.findOwner(scope)))) return undefined;
    }
    if (await this.core.proxies.isBlocked(TYPE, name)) return undefined;
    return proxy;
  }

  /**
   * Answers the request if a proxy serves it (true, once answered); false otherwise (the caller's own route answers).
   * A boolean, not the reply: a FastifyReply is a thenable that resolves to undefined, so `await serve() ?? own()`
   * ran Wharf's own route too after every proxied answer (it failed, and logged the failure as an error).
   */
  async serve(req: FastifyRequest, reply: FastifyReply, segments: string[]): Promise<boolean> {
    const t = await this.resolve(segments);
    if (!t) return false;
    await (t.file === undefined ? this.packument(req, reply, t) : this.tarball(req, reply, t, t.file));
    return true;
  }

  /**
   * Read access to the proxy's package `name`, decided by authorize() on its row, or — before the first fetch made
   * one — on the row it will be (the proxy's owner and visibility), so a private proxy never fetches for strangers.
   */
  private async allowRead(actor: Actor, t: Target): Promise<PackageRow | undefined> {
    const pkg = await this.core.proxyCache.keptPackage(t.proxy, TYPE, t.name.full, true);
    const ref = pkg ?? { id: 0, owner_id: t.proxy.ownerId, visibility: t.proxy.visibility, repository_id: null, inherit_access: 0, type: TYPE, name: t.name.full };
    const missing = () => (actor.kind === 'anonymous' ? unauthorized() : notFound(`package ${t.name.full} not found`));
    await this.core.authz.authorizeFound(actor, 'read', ref, missing);
    return pkg;
  }

  /** The upstream's document; `fresh` when this call fetched it (for the one caller of concurrent ones that did). */
  private async upstreamDocument(t: Target): Promise<{ parsed: UpstreamPackument; digest: string; stale: boolean; fresh: boolean }> {
    const url = `${t.proxy.upstream}/${t.name.full.replace('/', '%2f')}`;
    let fresh = false;
    const ref = await this.core.proxyCache.document(t.proxy, {
      key: t.name.full, url, accept: 'application/json', maxBytes: MAX_PACKUMENT,
      check: (bytes) => {
        const parsed = parseUpstreamPackument(bytes, t.name.full);
        this.parsed.set(createHash('sha256').update(bytes).digest('hex'), parsed);
        fresh = true;
      },
    });
    const hex = ref.digest.slice(7);
    let parsed = this.parsed.get(hex);
    if (!parsed) {
      parsed = parseUpstreamPackument(await this.core.proxyCache.read(ref.digest), t.name.full);
      this.parsed.set(hex, parsed);
    }
    // A small bound on parsed documents kept (the serialized responses are cached by bytes, below).
    if (this.parsed.size > 256) this.parsed.delete(this.parsed.keys().next().value!);
    return { parsed, digest: ref.digest, stale: ref.stale, fresh };
  }

  /**
   * Fetches ahead what a client resolving a tree asks for after this packument (WHARF_NPM_PREFETCH): the
   * packuments of the latest version's dependencies (and theirs, as each arrives), and with `all` the latest
   * version's tarball. npm walks a tree one packument at a time, then fetches the tarballs: the proxy fetches the
   * same documents concurrently meanwhile (at most 8 at once; tarballs once no document waits), so most of its
   * answers come from the cache. Only what a client could reach the same way: a name behind the default proxy
   * must fall through to it.
   */
  private prefetchFrom(t: Target, parsed: UpstreamPackument): void {
    const mode = this.core.config.npmPrefetch;
    if (mode === 'off') return;
    const latest = parsed.doc['dist-tags']?.latest;
    const m = typeof latest === 'string' ? parsed.versions[latest] : undefined;
    if (!m) return;
    const ahead = this.core.proxyCache.ahead;
    if (mode === 'all') {
      ahead.add(`npm|${t.proxy.ownerId}|${t.name.full}@${latest}`, () =>
        this.core.proxyCache.file(t.proxy, this.fileRequest(t, latest, `${t.name.short}-${latest}.tgz`, parsed)), 'then');
    }
    for (const dep of dependencyNames(m)) {
      ahead.add(`npm|${t.proxy.ownerId}|${dep}`, async () => {
        const name = parseUpstreamName(dep)!;
        if (t.viaDefault && (await this.fallThrough(name.full))?.ownerId !== t.proxy.ownerId) return;
        const next = { proxy: t.proxy, name, viaDefault: t.viaDefault };
        const doc = await this.upstreamDocument(next);
        if (doc.fresh) this.prefetchFrom(next, doc.parsed);
      });
    }
  }

  private tarballUrl(base: string, t: Target, version: string): string {
    return `${base}/npm/${t.proxy.name}/${t.name.full}/-/${t.name.short}-${version}.tgz`;
  }

  private async packument(req: FastifyRequest, reply: FastifyReply, t: Target) {
    const pkg = await this.allowRead(req.actor, t);
    const { parsed, digest, fresh } = await this.upstreamDocument(t);
    if (fresh) this.prefetchFrom(t, parsed);
    // A package first seen is recorded while the answer goes out (nothing of it can have been deleted here yet).
    if (!pkg) this.core.proxyCache.ensurePackageSoon(t.proxy, TYPE, t.name.full, true);
    const abbreviated = (req.headers.accept ?? '').includes(CORGI);
    const base = baseUrlOf(this.core, req);
    // The package's revision moves when a version is deleted here: the document is built again without it.
    const key = `${t.proxy.ownerId}|${digest}|${pkg?.revision ?? 'new'}|${abbreviated ? 'a' : 'f'}|${base}`;
    let entry = this.documents.get(key, 0);
    if (!entry) {
      const deleted = new Set(pkg ? (await this.core.packages.versions(pkg.id, { includeDeleted: true })).filter((v) => v.deleted_at).map((v) => v.version) : []);
      const input = { name: t.name, parsed, deleted, tarballUrl: (v: string) => this.tarballUrl(base, t, v) };
      const body = Buffer.from(JSON.stringify(abbreviated ? proxiedAbbreviatedPackument(input) : proxiedFullPackument(input)));
      entry = { revision: 0, body, etag: `"${createHash('sha1').update(body).digest('base64url')}"` };
      this.documents.set(key, entry);
    }
    reply.header('etag', entry.etag).header('cache-control', 'private, max-age=0, must-revalidate');
    if (req.headers['if-none-match'] === entry.etag) return reply.code(304).send();
    return reply.type(abbreviated ? CORGI : 'application/json').send(entry.body);
  }

  private async tarball(req: FastifyRequest, reply: FastifyReply, t: Target, file: string) {
    const version = versionOfTarball(t.name, file);
    if (!version) throw notFound('tarball not found');
    const pkg = await this.allowRead(req.actor, t);
    // Cached: served without asking the upstream anything (it may be down).
    let f = pkg ? await this.core.packages.file(pkg.id, version, file) : undefined;
    if (!f) {
      const { parsed } = await this.upstreamDocument(t);
      const got = await this.core.proxyCache.fileLive(t.proxy, this.fileRequest(t, version, file, parsed), true);
      if ('live' in got && got.live) {
        // The first client reads as the tarball arrives; it is counted once stored.
        void got.result.then((stored) => this.core.downloads.record(stored.version_id), () => {});
        reply.type('application/octet-stream').header('cache-control', 'private, max-age=0, must-revalidate');
        return sendLive(reply, got.live);
      }
      f = 'cached' in got ? got.cached : await got.result;
    }
    this.core.downloads.record(f.version_id);
    reply.type('application/octet-stream').header('etag', `"${f.blob_digest}"`).header('cache-control', 'private, max-age=31536000, immutable');
    return sendBlob(this.core, reply, { digest: f.blob_digest, size: f.size }, { redirect: true });
  }

  /** How the tarball of `version` is fetched, verified against the kept document, and recorded. */
  private fileRequest(t: Target, version: string, file: string, parsed: UpstreamPackument): FileRequest {
    const m = parsed.versions[version];
    if (!m) throw notFound(`version ${version} of ${t.name.full} not found`);
    const expected = expectedDigests(m.dist);
    return {
      type: TYPE, packageName: t.name.full, version, fileName: file, contentType: 'application/octet-stream', url: this.upstreamTarballUrl(t, m.dist.tarball),
      maxSize: this.core.config.npmMaxBody, extraDigests: ['sha1', 'sha512'], exactName: true,
      verify: (staged) => verifyTarball(staged, expected, `${t.name.full}@${version}`),
      metadata: m,
      packageMetadata: {
        ...(typeof parsed.doc.description === 'string' ? { description: parsed.doc.description } : {}),
        ...(Array.isArray(parsed.doc.keywords) ? { keywords: parsed.doc.keywords.filter((k: unknown) => typeof k === 'string') } : {}),
        ...(typeof parsed.doc['dist-tags']?.latest === 'string' ? { latest: parsed.doc['dist-tags'].latest } : {}),
      },
    };
  }

  /**
   * Where the upstream keeps a tarball: its document's URL, only on the upstream's own origin (credentials are
   * sent there, and a hostile document must not make Wharf fetch from anywhere else).
   */
  private upstreamTarballUrl(t: Target, declared: string): string {
    let u: URL;
    try {
      u = new URL(declared);
    } catch {
      throw upstreamError(`the upstream's tarball URL for ${t.name.full} is not a URL`);
    }
    if (u.origin !== new URL(t.proxy.upstream).origin) throw upstreamError(`the upstream's tarball URL for ${t.name.full} is not on the upstream (${u.origin})`);
    return u.toString();
  }
}

/** The tarball is what the kept document declared, or it is refused (and nothing is kept). */
export function verifyTarball(staged: Hashed, expected: { sha512?: string[]; sha1?: string }, what: string): void {
  if (expected.sha512) {
    const got = Buffer.from(staged.extra.sha512!, 'hex').toString('base64');
    if (!expected.sha512.includes(got)) throw upstreamError(`integrity mismatch: the upstream's tarball of ${what} is sha512-${got}, its document says sha512-${expected.sha512[0]}`);
    return;
  }
  if (expected.sha1) {
    if (staged.extra.sha1 !== expected.sha1) throw upstreamError(`shasum mismatch: the upstream's tarball of ${what} is ${staged.extra.sha1}, its document says ${expected.sha1}`);
    return;
  }
  throw upstreamError(`the upstream's document declares no integrity for ${what}: it cannot be verified`);
}
