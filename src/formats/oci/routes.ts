// The OCI Distribution API (v1.1) under /v2, with Docker token authentication at /v2/token. A repository
// (OWNER/NAME) is a package of type `container`; each manifest digest is a version; tags point at versions;
// blobs uploaded before their manifest are held by the package until a manifest refers to them.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Actor } from '../../core/auth/actor.ts';
import type { Action } from '../../core/auth/authorize.ts';
import type { Core } from '../../core/core.ts';
import { WharfError, unauthorized } from '../../core/errors.ts';
import type { PackageRow } from '../../core/model/packages.ts';
import type { Package, PackageVersion } from '../../db/tables.ts';
import { baseUrlOf } from '../../http/actor.ts';
import { readSmallBody } from '../../http/body.ts';
import { ociErrorHandler } from './errors.ts';
import { ALL_MANIFEST_TYPES, MEDIA, parseManifest, type Descriptor, type ParsedManifest } from './manifests.ts';
import { checkDigest, checkTag, isDigest, ociError, parseOciName, parseReference, type OciName } from './names.ts';
import { isSignatureManifest, verifyImage } from './signatures.ts';
import { tokenEndpoint } from './token.ts';

const TYPE = 'container';
type Q = Record<string, string | undefined>;

/** Which registry actions an API action needs (the Docker token scope vocabulary). */
const REGISTRY_ACTION: Record<Action, string> = { read: 'pull', write: 'push', delete: 'delete', admin: 'push' };

export interface VersionMeta {
  mediaType: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  subject?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

export async function ociRoutes(app: FastifyInstance, core: Core): Promise<void> {
  const base = (req: FastifyRequest) => baseUrlOf(core, req);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
  app.setErrorHandler(ociErrorHandler(base));
  app.addHook('onSend', async (_req, reply) => {
    reply.header('docker-distribution-api-version', 'registry/2.0');
  });

  await tokenEndpoint(app, core);

  // GET /v2/: the API version check; anonymous clients are told where to get a token.
  app.get('/', async (req) => {
    if (req.actor.kind === 'anonymous') throw unauthorized('authentication required');
    return {};
  });

  /** A registry token narrows the actor to the actions it granted for this repository. */
  function checkGrant(actor: Actor, n: OciName, action: Action) {
    if (actor.kind === 'anonymous' || !actor.registry) return;
    const need = REGISTRY_ACTION[action];
    const grant = actor.registry.find((a) => a.type === 'repository' && a.name === n.full);
    if (!grant || !(grant.actions.includes(need) || grant.actions.includes('*'))) throw unauthorized(`the registry token does not grant ${need} on ${n.full}`);
  }

  /** The repository's package, if the actor may `action` on it. NAME_UNKNOWN for what the actor may not see. */
  async function repository(req: FastifyRequest, n: OciName, action: Action): Promise<PackageRow> {
    req.ociScope = { name: n.full, actions: action === 'read' ? 'pull' : action === 'delete' ? 'delete' : 'pull,push' };
    const pkg = await core.packages.find(n.owner, TYPE, n.name);
    const unknown = () => (req.actor.kind === 'anonymous' ? unauthorized() : ociError('NotFound', 'NAME_UNKNOWN', `repository ${n.full} not found`));
    if (!pkg) throw unknown();
    try {
      await core.authz.authorize(req.actor, action, pkg);
    } catch (e) {
      if (e instanceof WharfError && e.kind === 'NotFound') throw unknown();
      if (e instanceof WharfError && e.kind === 'Forbidden') throw ociError('Forbidden', 'DENIED', e.message);
      throw e;
    }
    // The person may, but their registry token was issued for less: 401 sends the client for a wider token.
    checkGrant(req.actor, n, action);
    return pkg;
  }

  /** The repository's package for a push, created (private) on the first push if the actor may create it. */
  async function pushTarget(req: FastifyRequest, n: OciName): Promise<PackageRow> {
    req.ociScope = { name: n.full, actions: 'pull,push' };
    const existing = await core.packages.find(n.owner, TYPE, n.name);
    if (existing) {
      try {
        await core.authz.authorize(req.actor, 'write', existing);
      } catch (e) {
        if (e instanceof WharfError && (e.kind === 'NotFound' || e.kind === 'Forbidden')) throw ociError('Forbidden', 'DENIED', `you may not push to ${n.full}`);
        throw e;
      }
      checkGrant(req.actor, n, 'write');
      return existing;
    }
    const owner = await core.identity.findOwner(n.owner);
    if (!owner) throw req.actor.kind === 'anonymous' ? unauthorized() : ociError('NotFound', 'NAME_UNKNOWN', `no user or organization named "${n.owner}"`);
    const actor = req.actor;
    if (actor.kind === 'job') {
      // Whether the image will link to the job's repository is known at its manifest; the owner must match now.
      if (owner.id !== actor.repositoryOwnerId) throw ociError('Forbidden', 'DENIED', `a job token of ${actor.repositoryName} may not push to ${n.owner}`);
    } else {
      try {
        await core.authz.authorizeCreate(actor, owner, null);
      } catch (e) {
        if (e instanceof WharfError && e.kind === 'Forbidden') throw ociError('Forbidden', 'DENIED', e.message);
        throw e;
      }
    }
    checkGrant(actor, n, 'write');
    // A job's new image is tied to its repository (so the job may keep pushing to it) but does not inherit the
    // repository's visibility until its manifest confirms the link: blobs of a refused push stay private.
    await core.publisher.ensurePackage({ ownerId: owner.id, type: TYPE, name: n.name, repositoryId: actor.kind === 'job' ? actor.repositoryId : null, inheritAccess: actor.kind !== 'job', actor });
    return (await core.packages.find(n.owner, TYPE, n.name))!;
  }

  const blobLocation = (n: OciName, digest: string) => `/v2/${n.full}/blobs/${digest}`;
  const uploadLocation = (n: OciName, id: string) => `/v2/${n.full}/blobs/uploads/${id}`;
  const rangeOf = (size: number) => `0-${Math.max(size - 1, 0)}`;
  /** The request body as a stream that an early error does not destroy, so the error response still reaches the client. */
  const body = (req: FastifyRequest) => {
    const raw = req.body as Readable | undefined;
    return raw ? Readable.from(raw.iterator({ destroyOnReturn: false }), { objectMode: false }) : Readable.from([]);
  };
  const hasBody = (req: FastifyRequest) => Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;

  // ---- blobs ------------------------------------------------------------------------------------------------

  async function startUpload(req: FastifyRequest, reply: FastifyReply, n: OciName) {
    const q = req.query as Q;
    const pkg = await pushTarget(req, n);
    if (q.mount) {
      const digest = checkDigest(q.mount);
      // Mount only from a repository the actor may read and that holds the blob; otherwise a normal upload.
      const held = q.from ? await mountable(req.actor, q.from, digest) : undefined;
      if (held) {
        await core.publisher.attachBlob(pkg.id, { digest, size: held.size });
        return reply.code(201).header('location', blobLocation(n, digest)).header('docker-content-digest', digest).header('content-length', 0).send();
      }
    }
    if (q.digest !== undefined) {
      // Monolithic upload: the whole blob in this request.
      const digest = checkDigest(q.digest);
      const staged = await core.blobs.put(body(req), { maxSize: core.config.maxBlobSize });
      if (staged.digest !== digest) {
        await staged.cancel();
        throw ociError('Invalid', 'DIGEST_INVALID', `content digest ${staged.digest} does not match ${digest}`);
      }
      checkLength(req, staged.size);
      await core.publisher.attachBlob(pkg.id, staged);
      return reply.code(201).header('location', blobLocation(n, digest)).header('docker-content-digest', digest).header('content-length', 0).send();
    }
    const { id } = await core.uploads.create(pkg.id);
    if (hasBody(req)) await core.uploads.append(id, pkg.id, body(req), 0);
    return reply
      .code(202)
      .header('location', uploadLocation(n, id))
      .header('docker-upload-uuid', id)
      .header('range', '0-0')
      .header('content-length', 0)
      .send();
  }

  function checkLength(req: FastifyRequest, size: number) {
    const declared = req.headers['content-length'];
    if (declared !== undefined && req.headers['transfer-encoding'] === undefined && Number(declared) !== size) {
      throw ociError('Invalid', 'SIZE_INVALID', `received ${size} bytes, Content-Length said ${declared}`);
    }
  }

  /** The blob (with its size) in repository `fullName`, if the actor may read that repository and it holds the blob. */
  async function mountable(actor: Actor, fullName: string, digest: string): Promise<{ size: number } | undefined> {
    let from: OciName;
    try {
      from = parseOciName(fullName);
    } catch {
      return undefined;
    }
    const pkg = await core.packages.find(from.owner, TYPE, from.name);
    if (!pkg || !(await core.authz.canRead(actor, pkg))) return undefined;
    if (actor.kind !== 'anonymous' && actor.registry) {
      const g = actor.registry.find((a) => a.name === from.full);
      if (!g || !(g.actions.includes('pull') || g.actions.includes('*'))) return undefined;
    }
    return core.packages.heldBlob(pkg.id, digest);
  }

  /** `Content-Range: start-end` of a chunk, or null when absent (a streamed chunk goes at the end). */
  function chunkStart(req: FastifyRequest): number | null {
    const h = req.headers['content-range'];
    if (!h) return null;
    const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/\d+|\/\*)?$/.exec(String(h));
    if (!m || Number(m[2]) < Number(m[1])) throw new WharfError('Invalid', `invalid Content-Range "${h}"`, 'RANGE');
    // The range is inclusive on both ends and must describe exactly the bytes sent.
    const length = req.headers['content-length'];
    if (length !== undefined && Number(length) !== Number(m[2]) - Number(m[1]) + 1) {
      throw new WharfError('Invalid', `Content-Range ${h} does not match Content-Length ${length}`, 'RANGE');
    }
    return Number(m[1]);
  }

  async function patchUpload(req: FastifyRequest, reply: FastifyReply, n: OciName, id: string) {
    const pkg = await pushTarget(req, n);
    const start = chunkStart(req);
    const size = await core.uploads.append(id, pkg.id, body(req), start);
    return reply.code(202).header('location', uploadLocation(n, id)).header('docker-upload-uuid', id).header('range', rangeOf(size)).header('content-length', 0).send();
  }

  async function finishUpload(req: FastifyRequest, reply: FastifyReply, n: OciName, id: string) {
    const pkg = await pushTarget(req, n);
    const q = req.query as Q;
    const digest = checkDigest(q.digest);
    await core.uploads.get(id, pkg.id).catch(() => {
      throw ociError('NotFound', 'BLOB_UPLOAD_UNKNOWN', 'upload not found');
    });
    if (hasBody(req)) await core.uploads.append(id, pkg.id, body(req), chunkStart(req));
    const staged = await core.uploads.finish(id, pkg.id, digest);
    await core.publisher.attachBlob(pkg.id, staged);
    return reply.code(201).header('location', blobLocation(n, digest)).header('docker-content-digest', digest).header('content-length', 0).send();
  }

  async function uploadStatus(req: FastifyRequest, reply: FastifyReply, n: OciName, id: string) {
    const pkg = await pushTarget(req, n);
    const s = await core.uploads.get(id, pkg.id);
    return reply.code(204).header('location', uploadLocation(n, id)).header('docker-upload-uuid', id).header('range', rangeOf(s.size)).send();
  }

  async function cancelUpload(req: FastifyRequest, reply: FastifyReply, n: OciName, id: string) {
    const pkg = await pushTarget(req, n);
    await core.uploads.cancel(id, pkg.id);
    return reply.code(204).send();
  }

  async function getBlob(req: FastifyRequest, reply: FastifyReply, n: OciName, digestParam: string, head: boolean) {
    const pkg = await repository(req, n, 'read');
    const digest = checkDigest(digestParam);
    const held = await core.packages.heldBlob(pkg.id, digest);
    if (!held) throw ociError('NotFound', 'BLOB_UNKNOWN', `blob ${digest} not found in ${n.full}`);
    reply.header('docker-content-digest', digest).header('etag', `"${digest}"`).header('accept-ranges', 'bytes').type('application/octet-stream');
    const range = parseRange(req.headers.range, held.size);
    if (range === 'invalid') return reply.code(416).header('content-range', `bytes */${held.size}`).send();
    if (head) return reply.code(200).header('content-length', held.size).send();
    if (range) {
      const stream = await core.blobs.open(digest, range);
      return reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${held.size}`).header('content-length', range.end - range.start + 1).send(stream);
    }
    return reply.code(200).header('content-length', held.size).send(await core.blobCache.content(digest, held.size));
  }

  async function deleteBlob(req: FastifyRequest, reply: FastifyReply, n: OciName, digestParam: string) {
    const pkg = await repository(req, n, 'delete');
    const digest = checkDigest(digestParam);
    if (!(await core.publisher.detachBlob(pkg.id, digest))) throw ociError('NotFound', 'BLOB_UNKNOWN', `blob ${digest} not found in ${n.full}`);
    return reply.code(202).header('content-length', 0).send();
  }

  // ---- manifests --------------------------------------------------------------------------------------------

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

  async function getManifest(req: FastifyRequest, reply: FastifyReply, n: OciName, ref: string, head: boolean) {
    const pkg = await repository(req, n, 'read');
    const found = await findManifest(pkg, ref);
    if (!found) throw ociError('NotFound', 'MANIFEST_UNKNOWN', `manifest ${ref} not found in ${n.full}`);
    const { version, meta } = found;
    if (!acceptable(req.headers.accept, meta.mediaType)) {
      throw ociError('NotFound', 'MANIFEST_UNKNOWN', `manifest ${ref} is a ${meta.mediaType}, which the Accept header does not allow`);
    }
    await enforceSignaturePolicy(pkg, n, version, meta);
    reply.type(meta.mediaType).header('docker-content-digest', version.version).header('etag', `"${version.version}"`).header('content-length', meta.size);
    if (head) return reply.code(200).send();
    core.downloads.record(version.id);
    return reply.code(200).send(await manifestBytes(version.version));
  }

  /**
   * "Require signed images": a manifest pulls only when a trusted key signed it, or it is a child of a signed
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
    throw ociError('Forbidden', 'DENIED', `${n.full}@${version.version} is not signed by a trusted key (${own.state === 'invalid' ? own.detail : 'unsigned'}); this registry requires signed images`);
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

  async function putManifest(req: FastifyRequest, reply: FastifyReply, n: OciName, ref: string) {
    const pkg = await pushTarget(req, n);
    const reference = parseReference(ref);
    const limit = core.config.maxManifestSize;
    let bytes: Buffer;
    try {
      bytes = await readSmallBody(req.body as Readable, limit);
    } catch (e) {
      if (e instanceof WharfError && e.kind === 'TooLarge') throw ociError('TooLarge', 'SIZE_INVALID', `manifest exceeds ${limit} bytes`);
      throw e;
    }
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if ('digest' in reference && reference.digest !== digest) throw ociError('Invalid', 'DIGEST_INVALID', `manifest digest ${digest} does not match ${reference.digest}`);
    if ('tag' in reference) checkTag(reference.tag);
    const parsed = parseManifest(bytes, req.headers['content-type']);
    for (const b of parsed.blobs) {
      const held = await core.packages.heldBlob(pkg.id, b.digest);
      if (!held) throw ociError('Invalid', 'MANIFEST_BLOB_UNKNOWN', `blob ${b.digest} is not in ${n.full}`);
      if (held.size !== b.size) throw ociError('Invalid', 'MANIFEST_INVALID', `blob ${b.digest} has ${held.size} bytes, not ${b.size}`);
    }
    for (const m of parsed.manifests) {
      if (!(await core.packages.version(pkg.id, m.digest))) throw ociError('Invalid', 'MANIFEST_BLOB_UNKNOWN', `manifest ${m.digest} is not in ${n.full}`);
    }
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
        throw ociError('Forbidden', 'DENIED', `the image's source label names ${source}, but this job token belongs to ${req.actor.repositoryName}`);
      }
      if (repo && pkg.repository_id == null) {
        await core.publisher.updateSettings(pkg.id, { repositoryId: repo.id }, req.actor);
        pkg = (await core.packages.byId(pkg.id))!;
      }
    }
    if (!live.length && req.actor.kind === 'job' && pkg.repository_id === req.actor.repositoryId && !pkg.inherit_access) {
      // The job's first image of this name: now it is linked for good and inherits, as on GitHub.
      await core.publisher.updateSettings(pkg.id, { inheritAccess: true }, req.actor);
      pkg = (await core.packages.byId(pkg.id))!;
    }
    // A job may only push images linked to its repository (or granted to it).
    try {
      await core.authz.authorize(req.actor, 'write', pkg);
    } catch (e) {
      if (e instanceof WharfError && (e.kind === 'NotFound' || e.kind === 'Forbidden')) throw ociError('Forbidden', 'DENIED', `you may not push to ${n.full}`);
      throw e;
    }
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

  async function deleteManifest(req: FastifyRequest, reply: FastifyReply, n: OciName, ref: string) {
    const pkg = await repository(req, n, 'delete');
    const r = parseReference(ref);
    if ('tag' in r) {
      // Deleting a tag leaves the manifest (OCI 1.1 allows tag deletion).
      try {
        await core.publisher.removeTag(pkg.id, r.tag, req.actor);
      } catch {
        throw ociError('NotFound', 'MANIFEST_UNKNOWN', `tag ${r.tag} not found`);
      }
      return reply.code(202).header('content-length', 0).send();
    }
    const v = await core.packages.version(pkg.id, r.digest);
    if (!v) throw ociError('NotFound', 'MANIFEST_UNKNOWN', `manifest ${r.digest} not found`);
    await core.publisher.deleteVersion(pkg.id, v.id, req.actor);
    return reply.code(202).header('content-length', 0).send();
  }

  // ---- discovery --------------------------------------------------------------------------------------------

  async function listTags(req: FastifyRequest, reply: FastifyReply, n: OciName) {
    const pkg = await repository(req, n, 'read');
    const q = req.query as Q;
    // Lexical order, case-insensitive as the spec words it (ties by bytes, so the order is total for `last`).
    let tags = (await core.packages.tags(pkg.id)).map((t) => t.name).sort(tagOrder);
    if (q.last) tags = tags.filter((t) => tagOrder(t, q.last!) > 0);
    if (q.n !== undefined) {
      const count = Number(q.n);
      if (!Number.isInteger(count) || count < 0) throw ociError('Invalid', 'UNSUPPORTED', 'n must be a non-negative integer');
      if (tags.length > count && count > 0) {
        tags = tags.slice(0, count);
        reply.header('link', `</v2/${n.full}/tags/list?n=${count}&last=${encodeURIComponent(tags[tags.length - 1])}>; rel="next"`);
      } else tags = tags.slice(0, count);
    }
    return reply.send({ name: n.full, tags });
  }

  async function referrers(req: FastifyRequest, reply: FastifyReply, n: OciName, digestParam: string) {
    const digest = checkDigest(digestParam);
    const pkg = await repository(req, n, 'read');
    const artifactType = (req.query as Q).artifactType;
    const manifests: Descriptor[] = [];
    for (const v of await core.packages.versionsWithProperty(pkg.id, 'oci.subject', digest)) {
      const meta = JSON.parse(v.metadata) as VersionMeta;
      // An image manifest without artifactType is typed by its config; an index without one has none.
      const type = meta.artifactType ?? meta.config?.mediaType;
      if (artifactType && type !== artifactType) continue;
      manifests.push({ mediaType: meta.mediaType, digest: v.version, size: meta.size, ...(type ? { artifactType: type } : {}), ...(meta.annotations ? { annotations: meta.annotations } : {}) });
    }
    if (artifactType) reply.header('oci-filters-applied', 'artifactType');
    // Serialized here so the Content-Type carries no charset parameter (the spec names the exact type).
    return reply.header('content-type', MEDIA.ociIndex).send(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests })));
  }

  // ---- routing: names contain slashes, so the path is matched from its end ------------------------------------

  const ROUTES: [RegExp, string[], (req: FastifyRequest, reply: FastifyReply, n: OciName, m: RegExpExecArray) => Promise<unknown>][] = [
    [/^(.+)\/blobs\/uploads\/?$/, ['POST'], (req, reply, n) => startUpload(req, reply, n)],
    [/^(.+)\/blobs\/uploads\/([^/]+)$/, ['PATCH', 'PUT', 'GET', 'DELETE'], (req, reply, n, m) => {
      const id = m[2];
      if (!/^[0-9a-f-]{36}$/.test(id)) throw ociError('NotFound', 'BLOB_UPLOAD_UNKNOWN', 'upload not found');
      const run = { PATCH: patchUpload, PUT: finishUpload, GET: uploadStatus, DELETE: cancelUpload }[req.method as 'PATCH']!;
      return run(req, reply, n, id).catch((e) => {
        if (e instanceof WharfError && e.kind === 'NotFound' && !e.code) throw ociError('NotFound', 'BLOB_UPLOAD_UNKNOWN', 'upload not found');
        throw e;
      });
    }],
    [/^(.+)\/blobs\/([^/]+)$/, ['GET', 'HEAD', 'DELETE'], (req, reply, n, m) =>
      req.method === 'DELETE' ? deleteBlob(req, reply, n, m[2]) : getBlob(req, reply, n, m[2], req.method === 'HEAD')],
    [/^(.+)\/manifests\/([^/]+)$/, ['GET', 'HEAD', 'PUT', 'DELETE'], (req, reply, n, m) =>
      req.method === 'PUT' ? putManifest(req, reply, n, m[2]) : req.method === 'DELETE' ? deleteManifest(req, reply, n, m[2]) : getManifest(req, reply, n, m[2], req.method === 'HEAD')],
    [/^(.+)\/tags\/list$/, ['GET'], (req, reply, n) => listTags(req, reply, n)],
    [/^(.+)\/referrers\/([^/]+)$/, ['GET'], (req, reply, n, m) => referrers(req, reply, n, m[2])],
  ];

  app.route({
    method: ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'],
    url: '/*',
    exposeHeadRoute: false,
    handler: async (req, reply) => {
      const path = (req.params as { '*': string })['*'];
      for (const [re, methods, run] of ROUTES) {
        const m = re.exec(path);
        if (!m) continue;
        if (!methods.includes(req.method)) throw ociError('Unsupported', 'UNSUPPORTED', `${req.method} is not supported here`);
        return run(req, reply, parseOciName(m[1]), m);
      }
      throw ociError('NotFound', 'NAME_UNKNOWN', 'not found');
    },
  });
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

/**
 * The blobs a manifest refers to, each digest once: a version's files are named by digest, and a manifest may
 * name one blob twice (the OCI empty descriptor as config and layer; an image repeating a layer).
 */
export function uniqueBlobs(blobs: Descriptor[]): Descriptor[] {
  const seen = new Set<string>();
  return blobs.filter((b) => !seen.has(b.digest) && !!seen.add(b.digest));
}

/** Case-insensitive lexical order of tags, ties broken by bytes. */
export function tagOrder(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  if (x !== y) return x < y ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `Range: bytes=a-b` → inclusive range; null when absent; 'invalid' when unsatisfiable. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | 'invalid' {
  if (!header) return null;
  // RFC 9110: a range unit we do not know, or several ranges, may be ignored (the whole blob is sent).
  if (!/^bytes=/i.test(header.trim()) || header.includes(',')) return null;
  const m = /^bytes=(\d*)-(\d*)$/i.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'invalid';
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    start = Math.max(size - suffix, 0);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) return 'invalid';
  return { start, end };
}

export { ALL_MANIFEST_TYPES, isDigest };
