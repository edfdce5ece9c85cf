// Container pull-through proxies (core/proxy): a container proxy NAME serves its upstream's repositories under
// /v2/NAME/ as the upstream names them (`/v2/hub/library/alpine` for Docker Hub's `library/alpine`). Each
// repository is a package of the proxy's organization, as a pushed image would be:
//   - a tag (and the tag list) is a mutable document: core/proxy's document(), revalidated after the proxy's TTL and
//     served stale when the upstream is down; the manifest it names is recorded as a version, the tag set on it.
//     The tag list is the upstream's whole list, every page followed (bounded: TAG_LIST_LIMITS), paged here for
//     clients as a pushed repository's is;
//   - a manifest's referrers are a mutable document too: the upstream's referrers API, or the referrers tag
//     schema's index (`sha256-<hex>`) when it has none;
//   - a manifest by digest (a platform manifest of an index, a pinned pull) is immutable: fetched once, kept only if
//     its bytes hash to the digest asked for, recorded as a version;
//   - a blob is immutable: streamed into the store (the client that asked first reads along), kept only if its
//     bytes hash to its digest, and added as a file to each cached manifest naming it (so `wharf gc` and
//     retention see it referenced like any pushed layer).
// Read-only: pushes and deletes under a proxy are refused. Access is authorize()'s, on the package's row.
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { systemActor } from '../../core/auth/actor.ts';
import type { StagedBlob } from '../../core/blobs/blob-store.ts';
import type { Core } from '../../core/core.ts';
import { isWharfError, notFound, unauthorized, upstreamError } from '../../core/errors.ts';
import type { PackageRow } from '../../core/model/packages.ts';
import type { ProxyConfig } from '../../core/proxy/proxies.ts';
import { statusError } from '../../core/proxy/proxy-cache.ts';
import type { PackageVersion } from '../../db/tables.ts';
import { sendBlob, sendLive } from '../../http/blob-reply.ts';
import { TYPE } from './access.ts';
import { parseRange } from './handlers/blobs.ts';
import { sendTagPage } from './handlers/tags.ts';
import type { Q } from './handlers/route.ts';
import { acceptable } from './handlers/manifests.ts';
import { ociError } from './errors.ts';
import { ALL_MANIFEST_TYPES, MEDIA, parseManifest, uniqueBlobs, type Descriptor, type VersionMeta } from './manifests.ts';
import { checkDigest, parseOciName, parseReference } from './names.ts';

const PATHS: { kind: 'manifest' | 'blob' | 'tags' | 'referrers'; re: RegExp }[] = [
  { kind: 'manifest', re: /^(.+)\/manifests\/([^/]+)$/ },
  { kind: 'blob', re: /^(.+)\/blobs\/([^/]+)$/ },
  { kind: 'tags', re: /^(.+)\/tags\/list$/ },
  { kind: 'referrers', re: /^(.+)\/referrers\/([^/]+)$/ },
];

/** Bounds on an upstream's tag list, followed page by page: beyond them the list is refused (502), not cut short. */
export const TAG_LIST_LIMITS = { tags: 10_000, pages: 500, pageBytes: 4 * 1024 * 1024 };

/** What a request under a proxy names: the proxy, the repository as the upstream names it, and our package. */
interface Target {
  proxy: ProxyConfig;
  /** The upstream's repository name (`library/alpine`): our package's name. */
  name: string;
  /** The repository as clients name it here (`hub/library/alpine`). */
  full: string;
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export class OciProxy {
  constructor(private readonly core: Core) {}

  /**
   * Answers a /v2/ request under a container proxy (true, once answered); false when the path is not under one.
   * A boolean, not the reply: a FastifyReply is a thenable that resolves to undefined, so a caller testing the
   * awaited reply ran the registry's own routes too after every proxied answer.
   */
  async serve(req: FastifyRequest, reply: FastifyReply, path: string): Promise<boolean> {
    const slash = path.indexOf('/');
    if (slash < 1) return false;
    const proxy = await this.core.proxies.byName(path.slice(0, slash));
    if (!proxy || proxy.format !== TYPE) return false;
    const found = PATHS.map((p) => ({ kind: p.kind, m: p.re.exec(path) })).find((x) => x.m);
    if (!found) throw ociError('NAME_UNKNOWN', 'a proxy serves manifests, blobs, tag lists and referrers');
    const n = parseOciName(found.m![1]);
    const t: Target = { proxy, name: n.name, full: n.full };
    req.ociScope = { name: n.full, actions: 'pull' };
    if (req.method !== 'GET' && req.method !== 'HEAD') throw ociError('DENIED', `${proxy.name} is a pull-through proxy of ${proxy.upstream}: it is read-only`);
    const pkg = await this.allowRead(req, t);
    if (found.kind === 'manifest') await this.manifest(req, reply, t, pkg, found.m![2]);
    else if (found.kind === 'blob') await this.blob(req, reply, t, pkg, found.m![2]);
    else if (found.kind === 'referrers') await this.referrers(req, reply, t, found.m![2]);
    else await this.tags(req, reply, t);
    return true;
  }

  /**
   * Read access to the repository, decided by authorize() on its package, or — before the first fetch made one —
   * on the package it will be (the proxy's owner and visibility): a private proxy never fetches for strangers.
   */
  private async allowRead(req: FastifyRequest, t: Target): Promise<PackageRow | undefined> {
    const pkg = await this.core.packages.find(t.proxy.name, TYPE, t.name);
    const ref = pkg ?? { id: 0, owner_id: t.proxy.ownerId, visibility: t.proxy.visibility, repository_id: null, inherit_access: 0, type: TYPE, name: t.name };
    const missing = () => (req.actor.kind === 'anonymous' ? unauthorized() : ociError('NAME_UNKNOWN', `repository ${t.full} not found`));
    try {
      await this.core.authz.authorizeFound(req.actor, 'read', ref, missing);
    } catch (e) {
      if (isWharfError(e) && e.kind === 'Forbidden') throw ociError('DENIED', e.message);
      throw e;
    }
    return pkg;
  }

  private url(t: Target, rest: string): string {
    return `${t.proxy.upstream}/v2/${t.name}/${rest}`;
  }

  private scope(t: Target): string {
    return `repository:${t.name}:pull`;
  }

  private async manifest(req: FastifyRequest, reply: FastifyReply, t: Target, found: PackageRow | undefined, ref: string) {
    const r = parseReference(ref);
    let version: PackageVersion;
    if ('digest' in r) {
      const have = found ? await this.core.packages.version(found.id, r.digest, { includeDeleted: true }) : undefined;
      if (have?.deleted_at) throw ociError('MANIFEST_UNKNOWN', `manifest ${r.digest} was deleted here`);
      version = have ?? (await this.core.proxyCache.coalesce(`oci-manifest|${t.proxy.ownerId}|${t.name}|${r.digest}`, () => this.fetchManifest(t, r.digest)));
    } else {
      version = await this.taggedManifest(t, r.tag);
    }
    const meta = JSON.parse(version.metadata) as VersionMeta;
    if (!acceptable(req.headers.accept, meta.mediaType)) throw ociError('MANIFEST_UNKNOWN', `manifest ${ref} is a ${meta.mediaType}, which the Accept header does not allow`);
    reply.type(meta.mediaType).header('docker-content-digest', version.version).header('etag', `"${version.version}"`).header('content-length', meta.size);
    if (req.method === 'HEAD') return reply.code(200).send();
    this.core.downloads.record(version.id);
    return reply.code(200).send(await this.core.proxyCache.read(version.version));
  }

  /** The manifest a tag names now (as of the TTL), recorded as a version and the tag set on it. */
  private async taggedManifest(t: Target, tag: string): Promise<PackageVersion> {
    const doc = await this.taggedDocument(t, tag).catch((e) => {
      throw isWharfError(e) && e.kind === 'NotFound' ? ociError('MANIFEST_UNKNOWN', `manifest ${tag} is not in ${t.proxy.upstream}/${t.name}`) : e;
    });
    const pkg = await this.core.proxyCache.ensurePackage(t.proxy, TYPE, t.name);
    const have = await this.core.packages.version(pkg.id, doc.digest, { includeDeleted: true });
    if (have?.deleted_at) throw ociError('MANIFEST_UNKNOWN', `manifest ${t.full}:${tag} (${doc.digest}) was deleted here`);
    const version = have ?? (await this.record(t, await this.core.proxyCache.read(doc.digest), doc.digest));
    // The tag follows the upstream (shown on the package's page; the document above is what serves it).
    const current = (await this.core.packages.tags(pkg.id)).find((x) => x.name === tag);
    if (current?.version !== version.version) await this.core.publisher.setTag(pkg.id, tag, version.version, systemActor);
    return version;
  }

  /** The tag's manifest as a document of the proxy (kept only if it parses as a manifest Wharf can serve). */
  private taggedDocument(t: Target, tag: string) {
    return this.core.proxyCache.document(t.proxy, {
      key: `manifest:${t.name}:${tag}`, url: this.url(t, `manifests/${tag}`), accept: ALL_MANIFEST_TYPES.join(', '), scope: this.scope(t),
      maxBytes: this.core.config.maxManifestSize,
      check: (bytes) => {
        try {
          parseManifest(bytes, undefined);
        } catch (e) {
          throw upstreamError(`the upstream's manifest ${t.name}:${tag} is not one Wharf can serve: ${(e as Error).message}`);
        }
      },
    });
  }

  /** A manifest by digest: fetched, kept only if its bytes are that digest, recorded. */
  private async fetchManifest(t: Target, digest: string): Promise<PackageVersion> {
    const { res, abort } = await this.core.proxyCache.request(t.proxy, this.url(t, `manifests/${digest}`), { accept: ALL_MANIFEST_TYPES.join(', ') }, this.scope(t));
    if (res.status === 404) {
      await res.body?.cancel().catch(() => {});
      throw ociError('MANIFEST_UNKNOWN', `manifest ${digest} is not in ${t.proxy.upstream}/${t.name}`);
    }
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      throw statusError(res.status, `manifest ${digest}`);
    }
    const max = this.core.config.maxManifestSize;
    if (Number(res.headers.get('content-length') ?? 0) > max) {
      abort.abort();
      throw upstreamError(`the upstream's manifest ${digest} is larger than ${max} bytes`);
    }
    // Read with a bound: a missing or lying Content-Length must not make Wharf buffer an endless body.
    const chunks: Buffer[] = [];
    let n = 0;
    // A manifest is small: the whole body within the proxy's timeout.
    const timer = setTimeout(() => abort.abort(new Error(`not read within ${t.proxy.timeoutMs} ms`)), t.proxy.timeoutMs);
    try {
      for await (const c of res.body ?? []) {
        n += c.length;
        if (n > max) {
          abort.abort();
          throw new Error(`larger than ${max} bytes`);
        }
        chunks.push(Buffer.from(c));
      }
    } catch (e) {
      throw upstreamError(`reading manifest ${digest} from the upstream failed: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    const bytes = Buffer.concat(chunks);
    const got = sha256(bytes);
    if (got !== digest) throw upstreamError(`digest mismatch: the upstream's manifest ${digest} hashes to ${got}`);
    return this.record(t, bytes, digest);
  }

  /** Records a verified manifest as a version of the repository's package (the blobs join it as they are fetched). */
  private async record(t: Target, bytes: Buffer, digest: string): Promise<PackageVersion> {
    let m;
    try {
      m = parseManifest(bytes, undefined);
    } catch (e) {
      throw upstreamError(`the upstream's manifest ${digest} is not one Wharf can serve: ${(e as Error).message}`);
    }
    const pkg = await this.core.proxyCache.ensurePackage(t.proxy, TYPE, t.name);
    const staged = await this.core.blobs.putBytes(bytes);
    const meta: VersionMeta = {
      mediaType: m.mediaType, size: bytes.length, artifactType: m.artifactType, annotations: m.annotations, subject: m.subject?.digest,
      config: m.config, layers: m.isIndex ? undefined : m.blobs.slice(1), manifests: m.isIndex ? m.manifests : undefined,
    };
    // Blobs this repository already holds (another tag's layers) are named at once.
    const held = [];
    for (const b of uniqueBlobs(m.blobs)) if (await this.core.packages.heldBlob(pkg.id, b.digest)) held.push(b);
    try {
      await this.core.publisher.createVersion({
        ownerId: t.proxy.ownerId, type: TYPE, name: t.name, version: digest, metadata: meta,
        files: [{ name: 'manifest.json', blob: staged, contentType: m.mediaType, primary: true }, ...held.map((b) => ({ name: b.digest, blob: { digest: b.digest, size: b.size }, contentType: b.mediaType }))],
        repositoryId: null, actor: systemActor,
      });
    } catch (e) {
      await staged.cancel();
      if (!(isWharfError(e) && e.kind === 'Conflict')) throw e;
    }
    const v = await this.core.packages.version(pkg.id, digest);
    if (!v) throw ociError('MANIFEST_UNKNOWN', `manifest ${digest} was deleted here`);
    return v;
  }

  private async blob(req: FastifyRequest, reply: FastifyReply, t: Target, found: PackageRow | undefined, digestParam: string) {
    const digest = checkDigest(digestParam);
    const pkg = found ?? (await this.core.proxyCache.ensurePackage(t.proxy, TYPE, t.name));
    reply.header('docker-content-digest', digest).header('etag', `"${digest}"`).header('accept-ranges', 'bytes').type('application/octet-stream');
    let held = await this.core.packages.heldBlob(pkg.id, digest);
    if (!held) {
      // Only a plain GET reads along; a HEAD or a range waits until the blob is stored.
      const live = req.method === 'GET' && !req.headers.range;
      const got = await this.core.proxyCache.fetchBlob(t.proxy, {
        key: `oci-blob|${pkg.id}|${digest}`, url: this.url(t, `blobs/${digest}`), accept: '*/*', scope: this.scope(t),
        existing: () => this.core.packages.heldBlob(pkg.id, digest),
        maxSize: this.core.config.maxBlobSize, extraDigests: [], what: `blob ${digest}`, redirects: true,
        verify: (staged) => {
          if (staged.digest !== digest) throw upstreamError(`digest mismatch: the upstream's blob ${digest} hashes to ${staged.digest}`);
        },
        record: (staged) => this.recordBlob(pkg, staged),
      }, live);
      if (got.live) return sendLive(reply, got.live);
      held = await got.result;
    }
    const range = parseRange(req.headers.range, held.size);
    if (range === 'invalid') return reply.code(416).header('content-range', `bytes */${held.size}`).send();
    if (req.method === 'HEAD') return reply.code(200).header('content-length', held.size).send();
    return sendBlob(this.core, reply, { digest, size: held.size }, { range, redirect: true });
  }

  /**
   * Adds a verified blob to every cached manifest of the repository naming it; held by the package alone (for the
   * grace period) when none does yet — a client fetching a blob before its manifest.
   */
  private async recordBlob(pkg: PackageRow, staged: StagedBlob): Promise<{ size: number }> {
    const naming = (await this.core.packages.versions(pkg.id)).filter((v) => {
      const m = JSON.parse(v.metadata) as VersionMeta;
      return m.config?.digest === staged.digest || m.layers?.some((l) => l.digest === staged.digest);
    });
    if (!naming.length) {
      await this.core.publisher.attachBlob(pkg.id, staged);
      return { size: staged.size };
    }
    let blob: StagedBlob | { digest: string; size: number } = staged;
    for (const v of naming) {
      const m = JSON.parse(v.metadata) as VersionMeta;
      const type = m.config?.digest === staged.digest ? m.config.mediaType : m.layers!.find((l) => l.digest === staged.digest)!.mediaType;
      try {
        await this.core.publisher.addFiles(pkg.id, v.id, [{ name: staged.digest, blob, contentType: type }], [], systemActor);
      } catch (e) {
        // Added meanwhile (another node, another manifest's fetch): the same content.
        if (!(isWharfError(e) && (e.kind === 'Conflict' || e.kind === 'NotFound'))) throw e;
      }
      blob = { digest: staged.digest, size: staged.size };
    }
    return { size: staged.size };
  }

  /**
   * The upstream's tag list, as a document: every page of it (the upstream's `Link: <…>; rel="next"`, OCI
   * distribution 1.1), within TAG_LIST_LIMITS; a client's `n` and `last` are answered from it as for a pushed
   * repository.
   */
  private async tags(req: FastifyRequest, reply: FastifyReply, t: Target) {
    const doc = await this.core.proxyCache.document(t.proxy, {
      key: `tags:${t.name}`, url: this.url(t, 'tags/list'), accept: 'application/json', scope: this.scope(t), maxBytes: TAG_LIST_LIMITS.pageBytes,
      load: () => this.loadTags(t),
      check: (bytes) => {
        if (!tagsOf(bytes)) throw upstreamError(`the upstream's tag list of ${t.name} is not a tag list`);
      },
    });
    const tags = tagsOf(await this.core.proxyCache.read(doc.digest)) ?? [];
    return sendTagPage(reply, t.full, tags, req.query as Q);
  }

  /** Fetches every page of the upstream's tag list; the whole list as one tag list document. */
  private async loadTags(t: Target): Promise<Buffer> {
    const origin = new URL(t.proxy.upstream).origin;
    const all = new Set<string>();
    const asked = new Set<string>();
    let url: string | undefined = this.url(t, 'tags/list');
    for (let page = 0; url; page++) {
      if (page >= TAG_LIST_LIMITS.pages) throw upstreamError(`the upstream's tag list of ${t.name} has more than ${TAG_LIST_LIMITS.pages} pages: refused`);
      if (asked.has(url)) throw upstreamError(`the upstream's tag list of ${t.name} links back to a page already read (${new URL(url).search})`);
      asked.add(url);
      const { res, abort } = await this.core.proxyCache.request(t.proxy, url, { accept: 'application/json' }, this.scope(t));
      if (res.status === 404 || res.status === 410) {
        await res.body?.cancel().catch(() => {});
        // A repository that vanished between pages is an upstream failure, not an empty repository.
        if (page === 0) throw notFound(`${t.name} is not in the upstream registry`);
        throw upstreamError(`the upstream's tag list of ${t.name} ended with ${res.status} on page ${page + 1}`);
      }
      if (res.status !== 200) {
        await res.body?.cancel().catch(() => {});
        throw statusError(res.status, `the tag list of ${t.name}`);
      }
      const tags = tagsOf(await this.core.proxyCache.readBody(t.proxy, res, abort, TAG_LIST_LIMITS.pageBytes));
      if (!tags) throw upstreamError(`the upstream's tag list of ${t.name} is not a tag list (page ${page + 1})`);
      for (const tag of tags) all.add(tag);
      if (all.size > TAG_LIST_LIMITS.tags) throw upstreamError(`the upstream's tag list of ${t.name} has more than ${TAG_LIST_LIMITS.tags} tags: refused`);
      const next = nextLink(res.headers.get('link'));
      url = undefined;
      if (next) {
        // The next page is asked of the upstream itself, with its credentials: a link elsewhere is refused.
        let u: URL;
        try {
          u = new URL(next, origin);
        } catch {
          throw upstreamError(`the upstream's tag list of ${t.name} links to an invalid URL`);
        }
        if (u.origin !== origin) throw upstreamError(`the upstream's tag list of ${t.name} links to another origin (${u.origin})`);
        url = u.toString();
      }
    }
    return Buffer.from(JSON.stringify({ name: t.name, tags: [...all] }));
  }

  /**
   * The referrers of a manifest (OCI distribution 1.1): the upstream's referrers API, or, when it has none (a 404,
   * as distribution 2.8 answers), the referrers tag schema's index (`sha256-<hex>`); kept as a document of the
   * proxy (revalidated after the TTL), filtered here by `artifactType`.
   */
  private async referrers(req: FastifyRequest, reply: FastifyReply, t: Target, digestParam: string) {
    const digest = checkDigest(digestParam);
    const doc = await this.core.proxyCache.document(t.proxy, {
      key: `referrers:${t.name}:${digest}`, url: this.url(t, `referrers/${digest}`), accept: MEDIA.ociIndex, scope: this.scope(t), maxBytes: this.core.config.maxManifestSize,
      load: () => this.loadReferrers(t, digest),
      check: (bytes) => {
        if (!referrersOf(bytes)) throw upstreamError(`the upstream's referrers of ${t.name}@${digest} are not an image index`);
      },
    });
    let manifests = referrersOf(await this.core.proxyCache.read(doc.digest)) ?? [];
    const artifactType = (req.query as Q).artifactType;
    if (artifactType) {
      manifests = manifests.filter((m) => m.artifactType === artifactType);
      reply.header('oci-filters-applied', 'artifactType');
    }
    // Serialized here so the Content-Type carries no charset parameter (the spec names the exact type).
    return reply.header('content-type', MEDIA.ociIndex).send(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests })));
  }

  private async loadReferrers(t: Target, digest: string): Promise<Buffer> {
    const max = this.core.config.maxManifestSize;
    const get = async (rest: string, what: string): Promise<Buffer | undefined> => {
      const { res, abort } = await this.core.proxyCache.request(t.proxy, this.url(t, rest), { accept: MEDIA.ociIndex }, this.scope(t));
      if (res.status === 404) {
        await res.body?.cancel().catch(() => {});
        return undefined;
      }
      if (res.status !== 200) {
        await res.body?.cancel().catch(() => {});
        throw statusError(res.status, what);
      }
      return this.core.proxyCache.readBody(t.proxy, res, abort, max);
    };
    // A registry with the referrers API answers 200 (an empty index at least); a 404 means it has none.
    const api = await get(`referrers/${digest}`, `the referrers of ${digest}`);
    if (api && referrersOf(api)) return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: referrersOf(api) }));
    if (api) throw upstreamError(`the upstream's referrers of ${t.name}@${digest} are not an image index`);
    const tag = digest.replace(':', '-').slice(0, 128);
    const fallback = await get(`manifests/${tag}`, `the referrers tag ${tag}`);
    return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: (fallback && referrersOf(fallback)) ?? [] }));
  }
}

/** The URL of a `Link` header's rel="next", if any. */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (m && /;\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?\s*(;|$)/i.test(m[2])) return m[1];
  }
  return undefined;
}

/** The descriptors of an image index (a referrers answer, or a referrers tag schema index), or undefined when it is not one. */
export function referrersOf(bytes: Buffer): Descriptor[] | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  const list = (doc as { manifests?: unknown })?.manifests;
  if (list === null || list === undefined) return (doc as { schemaVersion?: unknown })?.schemaVersion === 2 ? [] : undefined;
  if (!Array.isArray(list)) return undefined;
  const out: Descriptor[] = [];
  for (const d of list as Record<string, unknown>[]) {
    if (!d || typeof d !== 'object' || typeof d.mediaType !== 'string' || typeof d.digest !== 'string' || !/^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$/.test(d.digest) || !Number.isSafeInteger(d.size) || (d.size as number) < 0) return undefined;
    if (d.artifactType !== undefined && typeof d.artifactType !== 'string') return undefined;
    const annotations = d.annotations && typeof d.annotations === 'object' && Object.values(d.annotations).every((v) => typeof v === 'string') ? (d.annotations as Record<string, string>) : undefined;
    out.push({ mediaType: d.mediaType, digest: d.digest, size: d.size as number, ...(d.artifactType ? { artifactType: d.artifactType as string } : {}), ...(annotations ? { annotations } : {}) });
  }
  return out;
}

/** The tags of a tag list document, or undefined when it is not one. */
export function tagsOf(bytes: Buffer): string[] | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  const tags = (doc as { tags?: unknown })?.tags;
  if (tags === null) return [];
  if (!Array.isArray(tags) || !tags.every((x) => typeof x === 'string' && /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/.test(x))) return undefined;
  return tags;
}
