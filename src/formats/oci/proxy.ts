// Container pull-through proxies (core/proxy): a container proxy NAME serves its upstream's repositories under
// /v2/NAME/ as the upstream names them (`/v2/hub/library/alpine` for Docker Hub's `library/alpine`). Each
// repository is a package of the proxy's organization, as a pushed image would be:
//   - a tag (and the tag list) is a mutable document: core/proxy's document(), revalidated after the proxy's TTL and
//     served stale when the upstream is down; the manifest it names is recorded as a version, the tag set on it;
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
import { isWharfError, unauthorized, upstreamError } from '../../core/errors.ts';
import type { PackageRow } from '../../core/model/packages.ts';
import type { ProxyConfig } from '../../core/proxy/proxies.ts';
import type { PackageVersion } from '../../db/tables.ts';
import { sendBlob, sendLive } from '../../http/blob-reply.ts';
import { TYPE } from './access.ts';
import { parseRange } from './handlers/blobs.ts';
import { acceptable } from './handlers/manifests.ts';
import { ociError } from './errors.ts';
import { ALL_MANIFEST_TYPES, parseManifest, uniqueBlobs, type VersionMeta } from './manifests.ts';
import { checkDigest, parseOciName, parseReference } from './names.ts';

const PATHS: { kind: 'manifest' | 'blob' | 'tags'; re: RegExp }[] = [
  { kind: 'manifest', re: /^(.+)\/manifests\/([^/]+)$/ },
  { kind: 'blob', re: /^(.+)\/blobs\/([^/]+)$/ },
  { kind: 'tags', re: /^(.+)\/tags\/list$/ },
];

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
    if (!found) throw ociError('NAME_UNKNOWN', 'a proxy serves manifests, blobs and tag lists');
    const n = parseOciName(found.m![1]);
    const t: Target = { proxy, name: n.name, full: n.full };
    req.ociScope = { name: n.full, actions: 'pull' };
    if (req.method !== 'GET' && req.method !== 'HEAD') throw ociError('DENIED', `${proxy.name} is a pull-through proxy of ${proxy.upstream}: it is read-only`);
    const pkg = await this.allowRead(req, t);
    if (found.kind === 'manifest') await this.manifest(req, reply, t, pkg, found.m![2]);
    else if (found.kind === 'blob') await this.blob(req, reply, t, pkg, found.m![2]);
    else await this.tags(reply, t);
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
      throw upstreamError(`the upstream answered ${res.status} for manifest ${digest}`);
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

  /** The upstream's tag list, as a document (paged lists are not followed: the first page the upstream gives). */
  private async tags(reply: FastifyReply, t: Target) {
    const doc = await this.core.proxyCache.document(t.proxy, {
      key: `tags:${t.name}`, url: this.url(t, 'tags/list'), accept: 'application/json', scope: this.scope(t), maxBytes: 4 * 1024 * 1024,
      check: (bytes) => {
        if (!tagsOf(bytes)) throw upstreamError(`the upstream's tag list of ${t.name} is not a tag list`);
      },
    });
    const tags = tagsOf(await this.core.proxyCache.read(doc.digest)) ?? [];
    return reply.send({ name: t.full, tags });
  }
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
