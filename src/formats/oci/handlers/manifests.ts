// Manifests: GET/HEAD by tag or digest (with content negotiation and the signed-images policy), PUT (every
// blob and child manifest it names must be in the repository), DELETE of a tag or of a manifest by digest.
// Each manifest digest is a version of the repository's package; tags point at versions.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { WharfError } from '../../../core/errors.ts';
import type { PackageRow } from '../../../core/model/packages.ts';
import type { Package, PackageVersion } from '../../../db/tables.ts';
import { readSmallBody } from '../../../http/body.ts';
import { TYPE } from '../access.ts';
import { ociError } from '../errors.ts';
import { ALL_MANIFEST_TYPES, MEDIA, parseManifest, uniqueBlobs, type Descriptor, type ParsedManifest, type VersionMeta } from '../manifests.ts';
import { checkTag, parseReference, type OciName } from '../names.ts';
import { isSignatureManifest, verifyImage } from '../signatures.ts';
import type { OciContext, OciResource, Target } from './route.ts';

/** The manifest resource: `<name>/manifests/<reference>`. */
export function manifestResources({ core, access }: OciContext): OciResource[] {
  /** The live version a reference names, with its manifest file. */
  async function findManifest(pkg: Package, ref: string): Promise<{ version: PackageVersion; meta: VersionMeta } | undefined> {
    const r = parseReference(ref);
    let digest: string | undefined;
    if ('digest' in r) digest = r.digest;
    else digest = (await core.packages.tags(pkg.id)).find((t) => t.name === r.tag)?.version;
    if (!digest) return undefined;
    const version = await core.packages.version(pkg.id, digest);
    return version ? { version, meta: JSON.parse(version.metadata) as VersionMeta } : undefined;
  }

  async function getManifest(req: FastifyRequest, reply: FastifyReply, { n, pkg, params: [ref] }: Target) {
    const found = await findManifest(pkg, ref);
    if (!found) throw ociError('MANIFEST_UNKNOWN', `manifest ${ref} not found in ${n.full}`);
    const { version, meta } = found;
    if (!acceptable(req.headers.accept, meta.mediaType)) {
      throw ociError('MANIFEST_UNKNOWN', `manifest ${ref} is a ${meta.mediaType}, which the Accept header does not allow`);
    }
    await enforceSignaturePolicy(pkg, n, version, meta);
    reply.type(meta.mediaType).header('docker-content-digest', version.version).header('etag', `"${version.version}"`).header('content-length', meta.size);
    if (req.method === 'HEAD') return reply.code(200).send();
    core.downloads.record(version.id);
    return reply.code(200).send(await manifestBytes(version.version));
  }

  /**
   * "Require signed images": a manifest pulls only when a trusted key or identity signed it, or it is a child of a signed
   * index, or it is a signature itself. Pushes are never blocked (the signature arrives after the image).
   */
  async function enforceSignaturePolicy(pkg: PackageRow, n: OciName, version: PackageVersion, meta: VersionMeta) {
    if (!(await core.signing.required(pkg.owner_id, pkg.name))) return;
    if (isSignatureManifest(meta)) return;
    const own = await verifyImage(core, pkg, n, version.version);
    if (own.state === 'signed') return;
    for (const parent of await core.packages.versions(pkg.id)) {
      const pm = JSON.parse(parent.metadata) as VersionMeta;
      if (pm.manifests?.some((c) => c.digest === version.version) && (await verifyImage(core, pkg, n, parent.version)).state === 'signed') return;
    }
    throw ociError('DENIED', `${n.full}@${version.version} is not signed by a trusted key or identity (${own.state === 'invalid' ? own.detail : 'unsigned'}); this registry requires signed images`);
  }

  // Manifests are small, immutable (content-addressed) and read on every pull: keep the hot ones in memory.
  const manifestCache = new Map<string, Buffer>();
  let manifestCacheBytes = 0;
  async function manifestBytes(digest: string): Promise<Buffer> {
    const hit = manifestCache.get(digest);
    if (hit) return hit;
    const bytes = await readSmallBody(await core.blobs.open(digest), core.config.maxManifestSize);
    manifestCache.set(digest, bytes);
    manifestCacheBytes += bytes.length;
    for (const [k, v] of manifestCache) {
      if (manifestCacheBytes <= 32 * 1024 * 1024) break;
      manifestCache.delete(k);
      manifestCacheBytes -= v.length;
    }
    return bytes;
  }

  async function putManifest(req: FastifyRequest, reply: FastifyReply, { n, pkg, params: [ref] }: Target) {
    const reference = parseReference(ref);
    const limit = core.config.maxManifestSize;
    let bytes: Buffer;
    try {
      bytes = await readSmallBody(req.body as Readable, limit);
    } catch (e) {
      if (e instanceof WharfError && e.kind === 'TooLarge') throw ociError('TOO_LARGE', `manifest exceeds ${limit} bytes`);
      throw e;
    }
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if ('digest' in reference && reference.digest !== digest) throw ociError('DIGEST_INVALID', `manifest digest ${digest} does not match ${reference.digest}`);
    if ('tag' in reference) checkTag(reference.tag);
    const parsed = parseManifest(bytes, req.headers['content-type']);
    for (const b of parsed.blobs) {
      const held = await core.packages.heldBlob(pkg.id, b.digest);
      if (!held) throw ociError('MANIFEST_BLOB_UNKNOWN', `blob ${b.digest} is not in ${n.full}`);
      if (held.size !== b.size) throw ociError('MANIFEST_INVALID', `blob ${b.digest} has ${held.size} bytes, not ${b.size}`);
    }
    for (const m of parsed.manifests) {
      if (!(await core.packages.version(pkg.id, m.digest))) throw ociError('MANIFEST_BLOB_UNKNOWN', `manifest ${m.digest} is not in ${n.full}`);
    }
    // A push over a protected tag is refused before its manifest is stored (setTag checks again as it moves it).
    if ('tag' in reference) await core.publisher.checkTagMove(pkg.id, reference.tag, digest, req.actor);
    const version = await storeManifest(req, pkg, n, bytes, digest, parsed);
    if ('tag' in reference) await core.publisher.setTag(pkg.id, reference.tag, version.version, req.actor);
    if (parsed.subject) reply.header('oci-subject', parsed.subject.digest);
    return reply.code(201).header('location', `/v2/${n.full}/manifests/${digest}`).header('docker-content-digest', digest).header('content-length', 0).send();
  }

  async function storeManifest(req: FastifyRequest, pkg: PackageRow, n: OciName, bytes: Buffer, digest: string, m: ParsedManifest): Promise<PackageVersion> {
    const existing = await core.packages.version(pkg.id, digest, { includeDeleted: true });
    if (existing) {
      // The same manifest pushed again: bring it back if it was deleted.
      if (existing.deleted_at) await core.publisher.restoreVersion(pkg.id, existing.id, req.actor, true);
      return existing;
    }
    // An image names its source repository in a config label; a new image links to it (as on GitHub). An image
    // a job creates is linked to the job's repository from its first blob; a label naming another one is refused.
    const live = await core.packages.versions(pkg.id);
    if (!live.length && m.config) {
      const source = await sourceLabel(m.config);
      const repo = source ? await core.identity.repoForSourceUrl(pkg.owner_id, source) : undefined;
      if (repo && req.actor.kind === 'job' && repo.id !== req.actor.repositoryId) {
        throw ociError('DENIED', `the image's source label names ${source}, but this job token belongs to ${req.actor.repositoryName}`);
      }
      if (repo && pkg.repository_id == null) {
        await core.publisher.linkBeforeFirstVersion(pkg.id, { repositoryId: repo.id }, req.actor);
        pkg = (await core.packages.byId(pkg.id))!;
      }
    }
    if (!live.length && req.actor.kind === 'job' && pkg.repository_id === req.actor.repositoryId && !pkg.inherit_access) {
      // The job's first image of this name: now it is linked for good and inherits, as on GitHub.
      await core.publisher.linkBeforeFirstVersion(pkg.id, { inheritAccess: true }, req.actor);
      pkg = (await core.packages.byId(pkg.id))!;
    }
    // A job may only push images linked to its repository (or granted to it).
    await access.recheckPush(req.actor, pkg, n);
    const staged = await core.blobs.putBytes(bytes);
    const meta: VersionMeta = {
      mediaType: m.mediaType, size: bytes.length, artifactType: m.artifactType ?? (m.config && m.config.mediaType !== MEDIA.ociConfig && m.config.mediaType !== MEDIA.dockerConfig ? m.config.mediaType : undefined),
      annotations: m.annotations, subject: m.subject?.digest, config: m.config, layers: m.isIndex ? undefined : m.blobs.slice(1), manifests: m.isIndex ? m.manifests : undefined,
    };
    try {
      const { version } = await core.publisher.createVersion({
        ownerId: pkg.owner_id, type: TYPE, name: pkg.name, version: digest, metadata: meta,
        files: [
          { name: 'manifest.json', blob: staged, contentType: m.mediaType, primary: true },
          ...uniqueBlobs(m.blobs).map((b) => ({ name: b.digest, blob: { digest: b.digest, size: b.size }, contentType: b.mediaType })),
        ],
        repositoryId: null, actor: req.actor,
      });
      if (m.subject) await core.publisher.setVersionProperty(version.id, 'oci.subject', m.subject.digest);
      return version;
    } catch (e) {
      await staged.cancel();
      // A concurrent push of the same manifest won: that is the same content, so it is a success here too.
      if (e instanceof WharfError && e.kind === 'Conflict') {
        const v = await core.packages.version(pkg.id, digest);
        if (v) return v;
      }
      throw e;
    }
  }

  /** The `org.opencontainers.image.source` label of an image config, read with a size bound. */
  async function sourceLabel(config: Descriptor): Promise<string | undefined> {
    if (config.size > 1024 * 1024 || (config.mediaType !== MEDIA.ociConfig && config.mediaType !== MEDIA.dockerConfig)) return undefined;
    try {
      const raw = await readSmallBody(await core.blobs.open(config.digest), 1024 * 1024);
      const doc = JSON.parse(raw.toString('utf8'));
      const label = doc?.config?.Labels?.['org.opencontainers.image.source'];
      return typeof label === 'string' ? label : undefined;
    } catch {
      return undefined;
    }
  }

  async function deleteManifest(req: FastifyRequest, reply: FastifyReply, { pkg, params: [ref] }: Target) {
    const r = parseReference(ref);
    if ('tag' in r) {
      // Deleting a tag leaves the manifest (OCI 1.1 allows tag deletion).
      try {
        await core.publisher.removeTag(pkg.id, r.tag, req.actor);
      } catch (e) {
        if (e instanceof WharfError && e.kind === 'Forbidden') throw e; // a protected tag: DENIED
        throw ociError('MANIFEST_UNKNOWN', `tag ${r.tag} not found`);
      }
      return reply.code(202).header('content-length', 0).send();
    }
    const v = await core.packages.version(pkg.id, r.digest);
    if (!v) throw ociError('MANIFEST_UNKNOWN', `manifest ${r.digest} not found`);
    await core.publisher.deleteVersion(pkg.id, v.id, req.actor);
    return reply.code(202).header('content-length', 0).send();
  }

  return [
    {
      path: /^(.+)\/manifests\/([^/]+)$/,
      methods: {
        GET: { access: 'pull', handler: getManifest },
        HEAD: { access: 'pull', handler: getManifest },
        PUT: { access: 'push', creates: true, handler: putManifest },
        DELETE: { access: 'delete', handler: deleteManifest },
      },
    },
  ];
}

/**
 * Content negotiation: a client that lists manifest types in Accept gets only one of those (distribution answers
 * MANIFEST_UNKNOWN rather than a type the client cannot parse). No Accept, a wildcard or plain JSON take anything.
 */
export function acceptable(accept: string | undefined, mediaType: string): boolean {
  if (!accept) return true;
  const types = accept.split(',').map((t) => t.split(';')[0].trim().toLowerCase()).filter(Boolean);
  if (!types.length || types.some((t) => t === '*/*' || t === 'application/json' || t === mediaType)) return true;
  return !types.some((t) => ALL_MANIFEST_TYPES.includes(t));
}
