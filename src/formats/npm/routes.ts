// The npm registry API under /npm: packuments, tarballs, publish, dist-tags, deprecate, unpublish, search,
// whoami and legacy login, as the npm CLI (and pnpm, yarn) speak it. Scoped names arrive as @scope%2fname.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import semver from 'semver';
import { actorName, type Actor } from '../../core/auth/actor.ts';
import { jobElsewhere, type Action } from '../../core/auth/authorize.ts';
import type { StagedBlob } from '../../core/blobs/blob-store.ts';
import type { Core } from '../../core/core.ts';
import { conflict, forbidden, invalid, notFound, unauthorized, WharfError } from '../../core/errors.ts';
import type { PackageRow } from '../../core/model/packages.ts';
import type { PackageVersion } from '../../db/tables.ts';
import { baseUrlOf, withRetryAfter } from '../../http/actor.ts';
import { sendBlob } from '../../http/blob-reply.ts';
import { readJson, readSmallBody, refuseDeclaredLength } from '../../http/body.ts';
import { checkProvenance, npmPurl, PROVENANCE_MEDIA_TYPE } from '../../core/signing/provenance.ts';
import { MAX_BUNDLE_BYTES } from '../../core/signing/sigstore.ts';
import { npmErrorHandler } from './errors.ts';
import { checkDistTag, checkNpmVersion, npmDisplayName, parseNpmName, tarballName, type NpmName } from './names.ts';
import { abbreviatedPackument, fullPackument, revString, type PackumentInput } from './packument.ts';
import { checkAttachmentKey, LARGE_STRING_PLACEHOLDER, parsePublishBody } from './publish-body.ts';
import { DEFAULT_LIMITS, inspectTarball, TarballInspector, type TarballFacts } from './tarball.ts';
import { PackumentCache } from './cache.ts';
import { NpmSigner } from './signatures.ts';
import { NpmProxy } from './proxy.ts';
import { npmOidcRoutes } from './oidc.ts';

const TYPE = 'npm';
/** The stored provenance bundle of a version: a file beside its tarball. */
export const provenanceName = (n: Pick<NpmName, 'name'>, version: string) => `${n.name}-${version}.sigstore`;
const CORGI = 'application/vnd.npm.install-v1+json';
const MAX_DOCUMENT = 32 * 1024 * 1024;

type Params = Record<string, string>;

/**
 * Base64, checked without a regular expression over the whole string: Node's decoder skips characters outside
 * the alphabet and stops at padding, so any such character, or padding anywhere but the end, makes the decoded
 * length differ from what the text's length says (the URL-safe alphabet decodes too; the integrity check that
 * follows is what guarantees the bytes).
 */
function decodeBase64(data: unknown): Buffer {
  if (typeof data !== 'string' || data.length % 4) throw invalid('attachment data is not valid base64');
  const pad = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  const bytes = Buffer.from(data, 'base64');
  if (bytes.length !== (data.length / 4) * 3 - pad) throw invalid('attachment data is not valid base64');
  return bytes;
}

export async function npmRoutes(app: FastifyInstance, core: Core): Promise<void> {
  const cache = new PackumentCache(64 * 1024 * 1024);
  const signer = new NpmSigner(core.db);
  const proxy = new NpmProxy(core);

  // Bodies stay streams here: publish bodies can be huge and are parsed as they arrive.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
  app.setErrorHandler(npmErrorHandler);
  app.addHook('onRequest', refuseDeclaredLength(() => core.config.npmMaxBody));
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: 'not found' }));

  /** The package `full` names, if the actor may `action` on it; anonymous misses look like private packages. */
  async function loadPackage(actor: Actor, n: NpmName, action: Action): Promise<PackageRow> {
    const missing = () => (actor.kind === 'anonymous' ? unauthorized() : notFound(`package ${n.full} not found`));
    return core.authz.authorizeFound(actor, action, await core.packages.find(n.scope, TYPE, n.name), missing);
  }

  /** `@scope%2fname` in one segment, or `@scope` + `name` in two. */
  const nameOf = (p: Params): NpmName => parseNpmName(p.scope !== undefined ? `${p.scope}/${p.name}` : p.pkg);

  async function packumentInput(req: FastifyRequest, pkg: PackageRow, n: NpmName): Promise<PackumentInput> {
    const base = baseUrlOf(core, req);
    const [versions, tags] = await Promise.all([core.packages.versions(pkg.id), core.packages.tags(pkg.id)]);
    const signatures = new Map<string, { keyid: string; sig: string }[]>();
    for (const v of versions) {
      const integrity = (JSON.parse(v.metadata) as { dist?: { integrity?: string } }).dist?.integrity;
      if (integrity) signatures.set(v.version, await signer.signatures(`${n.full}@${v.version}`, integrity));
    }
    return {
      full: n.full, revision: pkg.revision, createdAt: pkg.created_at, updatedAt: pkg.updated_at, versions, tags, signatures,
      tarballUrl: (v) => `${base}/npm/${n.full}/-/${tarballName(n, v)}`,
      attestationsUrl: (v) => `${base}/npm/-/npm/v1/attestations/${n.full}@${v}`,
    };
  }

  // ---- reading ----------------------------------------------------------------------------------------------

  async function getPackument(req: FastifyRequest, reply: FastifyReply, n: NpmName) {
    const pkg = await loadPackage(req.actor, n, 'read');
    const abbreviated = (req.headers.accept ?? '').includes(CORGI) && !(req.query as Params).write;
    const base = baseUrlOf(core, req);
    const key = `${pkg.id}|${abbreviated ? 'a' : 'f'}|${base}`;
    let entry = cache.get(key, pkg.revision);
    if (!entry) {
      const input = await packumentInput(req, pkg, n);
      const doc = abbreviated ? abbreviatedPackument(input) : fullPackument(input);
      const body = Buffer.from(JSON.stringify(doc));
      entry = { revision: pkg.revision, body, etag: `"${createHash('sha1').update(body).digest('base64url')}"` };
      cache.set(key, entry);
    }
    reply.header('etag', entry.etag).header('cache-control', 'private, max-age=0, must-revalidate');
    if (req.headers['if-none-match'] === entry.etag) return reply.code(304).send();
    return reply.type(abbreviated ? CORGI : 'application/json').send(entry.body);
  }

  async function getTarball(req: FastifyRequest, reply: FastifyReply, n: NpmName, file: string) {
    const pkg = await loadPackage(req.actor, n, 'read');
    const prefix = `${n.name}-`;
    if (!file.startsWith(prefix) || !file.endsWith('.tgz')) throw notFound('tarball not found');
    const version = file.slice(prefix.length, -4);
    const f = await core.packages.file(pkg.id, version, file);
    if (!f) throw notFound('tarball not found');
    core.downloads.record(f.version_id);
    const visibility = await core.authz.effectiveVisibility(pkg);
    reply
      .type('application/octet-stream')
      .header('etag', `"${f.blob_digest}"`)
      .header('cache-control', visibility === 'public' ? 'public, max-age=31536000, immutable' : 'private, max-age=31536000, immutable');
    // npm, pnpm and yarn follow redirects (and drop their credentials when the host changes).
    return sendBlob(core, reply, { digest: f.blob_digest, size: f.size }, { redirect: true });
  }

  // One segment (@scope%2fname) and two (@scope/name) forms, for every route that names a package.
  app.get('/-/ping', async () => ({}));
  // A proxy's registry (/npm/PROXY/...) and names that fall through to the default proxy are answered by
  // NpmProxy (proxy.ts) first; everything else is Wharf's own.
  app.get('/:pkg', async (req, reply) => ((await proxy.serve(req, reply, [(req.params as Params).pkg])) ? reply : getPackument(req, reply, nameOf(req.params as Params))));
  app.get('/:scope/:name', async (req, reply) => {
    const p = req.params as Params;
    if (await proxy.serve(req, reply, [p.scope, p.name])) return reply;
    // `@scope%2fname/1.0.0` decodes to a scope holding a slash: a request for one version's document.
    if (p.scope.includes('/')) return getVersionDoc(req, reply, parseNpmName(p.scope), p.name);
    return getPackument(req, reply, nameOf(p));
  });
  app.get('/:pkg/-/:file', async (req, reply) => {
    const p = req.params as Params;
    return (await proxy.serve(req, reply, [p.pkg, '-', p.file])) ? reply : getTarball(req, reply, nameOf(p), p.file);
  });
  app.get('/:scope/:name/-/:file', async (req, reply) => {
    const p = req.params as Params;
    return (await proxy.serve(req, reply, [p.scope, p.name, '-', p.file])) ? reply : getTarball(req, reply, nameOf(p), p.file);
  });
  // Only a proxy's registry has these: a scoped package under /npm/PROXY/, and its tarballs.
  const proxyOnly = async (req: FastifyRequest, reply: FastifyReply, segments: string[]) => (await proxy.serve(req, reply, segments)) ? reply : reply.code(404).send({ error: 'not found' });
  app.get('/:owner/:scope/:name', (req, reply) => {
    const p = req.params as Params;
    return proxyOnly(req, reply, [p.owner, p.scope, p.name]);
  });
  app.get('/:owner/:scope/:name/-/:file', (req, reply) => {
    const p = req.params as Params;
    return proxyOnly(req, reply, [p.owner, p.scope, p.name, '-', p.file]);
  });

  async function getVersionDoc(req: FastifyRequest, reply: FastifyReply, n: NpmName, spec: string) {
    const pkg = await loadPackage(req.actor, n, 'read');
    const doc = fullPackument(await packumentInput(req, pkg, n)) as { versions: Record<string, unknown>; 'dist-tags': Record<string, string> };
    const version = doc['dist-tags'][spec] ?? spec;
    const v = doc.versions[version];
    if (!v) throw notFound(`version ${spec} of ${n.full} not found`);
    return reply.send(v);
  }

  // ---- publishing and updating ------------------------------------------------------------------------------

  /** Streams the tarball through the inspector into the blob store. */
  async function storeTarball(bytes: Readable): Promise<{ staged: StagedBlob; facts: TarballFacts }> {
    const inspector = new TarballInspector({ ...DEFAULT_LIMITS, ...core.config.inflation });
    bytes.on('error', (e) => inspector.destroy(e));
    bytes.pipe(inspector);
    const staged = await core.blobs.put(inspector, { extraDigests: ['sha1', 'sha512'], maxSize: core.config.npmMaxBody });
    try {
      return { staged, facts: await inspector.facts };
    } catch (e) {
      await staged.cancel();
      throw e;
    }
  }

  /** A tarball already in memory (the usual attachment): checked first, then stored. */
  async function storeTarballBytes(bytes: Buffer): Promise<{ staged: StagedBlob; facts: TarballFacts }> {
    const facts = await inspectTarball(bytes, { ...DEFAULT_LIMITS, ...core.config.inflation });
    return { staged: await core.blobs.putBytes(bytes, { extraDigests: ['sha1', 'sha512'], maxSize: core.config.npmMaxBody }), facts };
  }

  async function putPackage(req: FastifyRequest, reply: FastifyReply, n: NpmName, urlRev: string | null) {
    const actor = req.actor;
    if (actor.kind === 'anonymous') throw unauthorized('you must be logged in to publish packages');
    // Check what we can before accepting a body that may be hundreds of megabytes.
    const existing = await core.packages.find(n.scope, TYPE, n.name);
    // A package's row names its owner: a second lookup only for a new package.
    const owner = existing ? { id: existing.owner_id, kind: existing.owner_kind, name: existing.owner_name } : await core.identity.findOwner(n.scope);
    if (!owner) throw notFound(`no user or organization named "${n.scope}": the scope must be a Wharf owner`);
    if (existing) await core.authz.authorizePublish(actor, owner, existing, null);
    else if (actor.kind === 'job') {
      if (owner.id !== actor.repositoryOwnerId) throw jobElsewhere(actor.repositoryName, owner.name);
    } else await core.authz.authorizeCreate(actor, owner, null);
    // A new package over the owner's package quota is refused before the body is read; storage is decided exactly
    // when the version is created (the body's length is not the tarball's: it is base64 inside JSON).
    if (!existing) await core.publisher.checkQuota(owner.id, { packages: 1 });

    let tarball: { staged: StagedBlob; facts: TarballFacts } | null = null;
    try {
      // Not destroyed on an early error: the error response must reach the client before the connection closes.
      const body = (req.body as Readable).iterator({ destroyOnReturn: false });
      const { doc, large } = await parsePublishBody(body, { maxBody: core.config.npmMaxBody, maxDocument: MAX_DOCUMENT }, storeTarball);
      tarball = large;
      if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw invalid('the package document must be a JSON object');
      const d = doc as Record<string, any>;
      if (d.name !== undefined && d.name !== n.full) throw invalid(`the document's name "${d.name}" does not match the URL's "${n.full}"`);
      const attachments = d._attachments && typeof d._attachments === 'object' ? Object.entries(d._attachments as Record<string, any>) : [];
      if (attachments.length) {
        const result = await publishVersion(req, n, owner, d, attachments, tarball, existing);
        tarball = null; // committed, or cancelled by publishVersion
        return reply.code(201).send(result);
      }
      if (tarball) throw invalid('a large string outside _attachments');
      if (!existing) throw notFound(`package ${n.full} not found`);
      await updatePackage(actor, existing, d, urlRev);
      return reply.code(200).send({ ok: true, id: n.full });
    } finally {
      if (tarball) await tarball.staged.cancel();
    }
  }

  /** `live`: the package as putPackage found and authorized it before reading the body, if it existed. */
  async function publishVersion(req: FastifyRequest, n: NpmName, owner: { id: number; kind: 'user' | 'org'; name: string }, d: Record<string, any>, attachments: [string, any][], large: { staged: StagedBlob; facts: TarballFacts } | null, live: PackageRow | undefined) {
    const actor = req.actor;
    const versionKeys = Object.keys(d.versions ?? {});
    // npm publish --provenance adds `NAME-VERSION.sigstore` (the Sigstore bundle, as JSON text) beside the tarball.
    const provenanceKey = `${n.full}-${versionKeys[0]}.sigstore`;
    const provenanceAtt = attachments.find(([k]) => k === provenanceKey)?.[1];
    const tarballs = attachments.filter(([k]) => k !== provenanceKey);
    if (versionKeys.length !== 1 || tarballs.length !== 1) throw invalid('a publish must carry exactly one version and one tarball');
    const version = checkNpmVersion(versionKeys[0]);
    const manifest = d.versions[version] as Record<string, any>;
    if (!manifest || typeof manifest !== 'object') throw invalid('the version document must be an object');
    if (manifest.name !== n.full) throw invalid(`versions["${version}"].name must be "${n.full}"`);
    if (manifest.version !== version) throw invalid(`versions["${version}"].version must be "${version}"`);
    const [[key, att]] = tarballs;
    checkAttachmentKey(key, n.full, version);
    if (provenanceAtt !== undefined && (!provenanceAtt || typeof provenanceAtt !== 'object' || typeof provenanceAtt.data !== 'string')) throw invalid('the provenance attachment must carry the Sigstore bundle as JSON text');
    if (!att || typeof att !== 'object') throw invalid('the attachment must be an object');

    let stored = large;
    if (att.data === LARGE_STRING_PLACEHOLDER) {
      if (!stored) throw invalid('attachment data is missing');
    } else {
      if (stored) throw invalid('a large string outside the attachment data');
      stored = await storeTarballBytes(decodeBase64(att.data));
    }
    const { staged, facts } = stored;
    let provenanceBlob: StagedBlob | null = null;
    try {
      if (att.length !== undefined && Number(att.length) !== staged.size) throw invalid(`attachment length ${att.length} does not match its ${staged.size} bytes`);
      // The client declared what it sent: the bytes must be exactly those.
      const integrity = `sha512-${Buffer.from(staged.extra.sha512!, 'hex').toString('base64')}`;
      const dist = (manifest.dist ?? {}) as Record<string, unknown>;
      if (typeof dist.integrity === 'string' && dist.integrity.split(/\s+/).some((h) => h.startsWith('sha512-')) && !dist.integrity.split(/\s+/).includes(integrity)) {
        throw invalid(`integrity mismatch: the tarball's ${integrity} is not the declared ${dist.integrity}`, 'EINTEGRITY');
      }
      if (typeof dist.shasum === 'string' && dist.shasum !== staged.extra.sha1) throw invalid(`shasum mismatch: the tarball's sha1 is ${staged.extra.sha1}, not the declared ${dist.shasum}`, 'EINTEGRITY');
      if (facts.manifest.name !== n.full || facts.manifest.version !== version) {
        throw invalid(`the tarball's package.json says ${String(facts.manifest.name)}@${String(facts.manifest.version)}, not ${n.full}@${version}`);
      }
      const tags = Object.entries((d['dist-tags'] ?? {}) as Record<string, unknown>);
      for (const [tag, v] of tags) {
        checkDistTag(tag);
        if (v !== version) throw invalid(`dist-tag ${tag} must point at the published version ${version}`);
      }
      const tagNames = tags.length ? tags.map(([t]) => t) : ['latest'];
      // Provenance must be about this very tarball; whether it verifies is decided when it is shown.
      const provenance = provenanceAtt ? checkProvenance(provenanceAtt.data, npmPurl(n.full, version), staged.extra.sha512!) : undefined;

      // A package that was live is not looked up and authorized twice (the transaction reads its row again anyway);
      // one that was missing may have been created meanwhile, or is a deleted one that this publish revives.
      const existing = live ?? (await core.packages.find(n.scope, TYPE, n.name, { includeDeleted: true }));
      // Only a new package links to a repository (two lookups, not made for every version of an existing one).
      const repoUrl = typeof manifest.repository === 'string' ? manifest.repository : manifest.repository?.url;
      const repo = existing ? undefined : await core.identity.repoForSourceUrl(owner.id, repoUrl);
      if (!existing || existing.deleted_at) {
        if (existing) await core.authz.authorize(actor, 'write', { ...existing, deleted_at: null } as PackageRow);
        else await core.authz.authorizeCreate(actor, owner, repo?.id ?? null);
      } else if (!live) await core.authz.authorize(actor, 'write', existing);

      const { _attachments: _a, ...clean } = manifest;
      for (const k of Object.keys(clean)) if (k.startsWith('_') && !['_nodeVersion', '_npmVersion', '_hasShrinkwrap'].includes(k)) delete clean[k];
      const readme = typeof manifest.readme === 'string' ? manifest.readme : typeof d.readme === 'string' ? d.readme : undefined;
      const metadata = {
        ...clean,
        _id: `${n.full}@${version}`,
        ...(readme !== undefined ? { readme } : {}),
        _npmUser: await npmUser(actor),
        dist: {
          integrity, shasum: staged.extra.sha1, fileCount: facts.fileCount, unpackedSize: facts.unpackedSize,
          ...(provenance ? { attestations: { provenance: { predicateType: provenance.predicateType } } } : {}),
        },
      };
      if (provenance) provenanceBlob = await core.blobs.putBytes(Buffer.from(provenanceAtt.data));
      const packageMetadata = tagNames.includes('latest')
        ? { description: typeof manifest.description === 'string' ? manifest.description : '', keywords: Array.isArray(manifest.keywords) ? manifest.keywords : [], latest: version }
        : undefined;
      const { pkg } = await core.publisher.createVersion({
        ownerId: owner.id, type: TYPE, name: n.name, version, metadata, packageMetadata,
        files: [
          { name: tarballName(n, version), blob: staged, contentType: 'application/octet-stream', primary: true },
          ...(provenanceBlob ? [{ name: provenanceName(n, version), blob: provenanceBlob, contentType: PROVENANCE_MEDIA_TYPE }] : []),
        ],
        tags: tagNames, repositoryId: repo?.id ?? null, actor,
      });
      return { ok: true, id: n.full, rev: revString(pkg.revision), success: true };
    } catch (e) {
      await staged.cancel();
      await provenanceBlob?.cancel();
      if (e instanceof WharfError && e.kind === 'Conflict') throw conflict(`cannot publish over the previously published versions: ${version}`, 'EPUBLISHCONFLICT');
      throw e;
    }
  }

  /**
   * The publisher as the registry records it (`npm view` prints "published … by NAME <EMAIL>"): the person's email
   * when they have one; no email key otherwise (never the text "undefined"). A job publishes as `job:REPO`.
   */
  /** `_npmUser`: an empty email when the user has none (npm view prints a missing one as "<undefined>"). */
  async function npmUser(actor: Actor): Promise<{ name: string; email: string }> {
    // A job publishes as `job:OWNER/REPO`, a trusted publisher as `github:OWNER/REPO` (npmjs shows its own "GitHub Actions").
    if (actor.kind === 'job' || actor.kind === 'publisher') return { name: actorName(actor)!, email: '' };
    if (actor.kind !== 'user') return { name: 'anonymous', email: '' };
    const email = actor.user.email !== undefined ? actor.user.email : (await core.identity.ownerById(actor.user.id))?.email;
    return { name: actor.user.name, email: email ?? '' };
  }

  /**
   * A PUT without a tarball: npm deprecate (changed `deprecated` fields), unpublish of a version (versions
   * missing from the document) and dist-tag edits. Each change is authorized for what it is.
   */
  async function updatePackage(actor: Actor, pkg: PackageRow, d: Record<string, any>, urlRev: string | null) {
    const current = revString(pkg.revision);
    const rev = urlRev ?? (typeof d._rev === 'string' ? d._rev : null);
    if (rev && rev !== current) throw conflict('document update conflict: the package changed, fetch it and retry');
    if (!d.versions || typeof d.versions !== 'object') throw invalid('the document has no versions');
    const live = await core.packages.versions(pkg.id);
    const byVersion = new Map<string, PackageVersion>(live.map((v) => [v.version, v]));
    for (const key of Object.keys(d.versions)) if (!byVersion.has(key)) throw invalid(`version ${key} cannot be added without its tarball`);
    const removed = live.filter((v) => !(v.version in d.versions));
    const changed: { v: PackageVersion; meta: Record<string, unknown> }[] = [];
    for (const [key, doc] of Object.entries(d.versions as Record<string, any>)) {
      const v = byVersion.get(key)!;
      const meta = JSON.parse(v.metadata) as Record<string, unknown>;
      const want = typeof doc?.deprecated === 'string' && doc.deprecated !== '' ? doc.deprecated : undefined;
      if (want === meta.deprecated) continue;
      if (want === undefined) delete meta.deprecated;
      else meta.deprecated = want;
      changed.push({ v, meta });
    }
    if (removed.length) await core.authz.authorize(actor, 'delete', pkg);
    if (changed.length) await core.authz.authorize(actor, 'write', pkg);
    for (const { v, meta } of changed) await core.publisher.updateVersionMetadata(pkg.id, v.id, meta, actor);
    for (const v of removed) await core.publisher.deleteVersion(pkg.id, v.id, actor);
    if (d['dist-tags'] && typeof d['dist-tags'] === 'object') {
      const tags = await core.packages.tags(pkg.id);
      const want = d['dist-tags'] as Record<string, unknown>;
      for (const t of tags) {
        if (!(t.name in want) && t.name !== 'latest') {
          await core.authz.authorize(actor, 'write', pkg);
          await core.publisher.removeTag(pkg.id, t.name, actor);
        }
      }
      for (const [name, version] of Object.entries(want)) {
        if (typeof version !== 'string' || tags.some((t) => t.name === name && t.version === version)) continue;
        if (!byVersion.has(version) || removed.some((r) => r.version === version)) continue;
        await core.authz.authorize(actor, 'write', pkg);
        await core.publisher.setTag(pkg.id, checkDistTag(name), version, actor);
      }
    }
  }

  app.put('/:pkg', (req, reply) => putPackage(req, reply, nameOf(req.params as Params), null));
  app.put('/:pkg/-rev/:rev', (req, reply) => putPackage(req, reply, nameOf(req.params as Params), (req.params as Params).rev));

  // npm unpublish --force: the whole package.
  app.delete('/:pkg/-rev/:rev', async (req) => {
    const n = nameOf(req.params as Params);
    const pkg = await loadPackage(req.actor, n, 'delete');
    await core.publisher.deletePackage(pkg.id, req.actor);
    return { ok: true };
  });

  // The last step of unpublishing one version: its tarball.
  async function deleteTarball(req: FastifyRequest, n: NpmName, file: string) {
    const pkg = await loadPackage(req.actor, n, 'delete');
    const prefix = `${n.name}-`;
    if (!file.startsWith(prefix) || !file.endsWith('.tgz')) throw notFound('tarball not found');
    const v = await core.packages.version(pkg.id, file.slice(prefix.length, -4), { includeDeleted: true });
    if (!v) throw notFound('tarball not found');
    if (!v.deleted_at) await core.publisher.deleteVersion(pkg.id, v.id, req.actor);
    return { ok: true };
  }
  app.delete('/:pkg/-/:file/-rev/:rev', (req) => deleteTarball(req, nameOf(req.params as Params), (req.params as Params).file));
  app.delete('/:scope/:name/-/:file/-rev/:rev', (req) => deleteTarball(req, nameOf(req.params as Params), (req.params as Params).file));

  // ---- dist-tags --------------------------------------------------------------------------------------------

  const tagsOf = async (pkg: PackageRow) => Object.fromEntries((await core.packages.tags(pkg.id)).map((t) => [t.name, t.version]));
  app.get('/-/package/:pkg/dist-tags', async (req) => tagsOf(await loadPackage(req.actor, nameOf(req.params as Params), 'read')));
  app.put('/-/package/:pkg/dist-tags/:tag', async (req, reply) => {
    const pkg = await loadPackage(req.actor, nameOf(req.params as Params), 'write');
    const tag = checkDistTag((req.params as Params).tag);
    const version = await readJson(req.body as Readable, 4096);
    if (typeof version !== 'string') throw invalid('the body must be a JSON string naming a version');
    await core.publisher.setTag(pkg.id, tag, version, req.actor);
    return reply.code(201).send({ ok: true, ...(await tagsOf(pkg)) });
  });
  app.delete('/-/package/:pkg/dist-tags/:tag', async (req) => {
    const pkg = await loadPackage(req.actor, nameOf(req.params as Params), 'write');
    const tag = (req.params as Params).tag;
    if (tag === 'latest') throw invalid('the latest tag cannot be removed');
    await core.publisher.removeTag(pkg.id, tag, req.actor);
    return { ok: true, ...(await tagsOf(pkg)) };
  });

  // ---- users, tokens, search --------------------------------------------------------------------------------

  app.get('/-/whoami', async (req) => {
    const a = req.actor;
    if (a.kind === 'anonymous') throw unauthorized('you are not logged in');
    return { username: actorName(a) };
  });

  // npm 11 tries web login first; a 404 sends it to the legacy username/password prompts below.
  app.post('/-/v1/login', async (_req, reply) => reply.code(404).send({ error: 'web login is not available: use npm login --auth-type=legacy' }));

  // Legacy login (npm login / adduser): a password buys a token with the packages scopes. No sign-up here.
  app.put('/-/user/:id', async (req, reply) => {
    const id = (req.params as Params).id;
    const m = /^org\.couchdb\.user:(.+)$/.exec(id);
    if (!m) throw notFound();
    const body = (await readJson(req.body as Readable, 64 * 1024)) as Record<string, unknown>;
    const name = typeof body?.name === 'string' ? body.name : m[1];
    if (typeof body?.password !== 'string' || !body.password) throw unauthorized('a password is required');
    const actor = await withRetryAfter(reply, () => core.authn.password(name, body.password as string, req.ip));
    if (actor.kind !== 'user') throw unauthorized();
    const { token } = await core.tokens.createPersonal(actor, actor.user.name, { scopes: 'read:packages,write:packages,delete:packages', name: 'npm login' });
    return reply.code(201).send({ ok: true, id, rev: '_we_dont_use_revs_any_more', token });
  });

  // npm logout revokes the token it was using.
  app.delete('/-/user/token/:token', async (req) => {
    const a = req.actor;
    if (a.kind !== 'user') throw unauthorized();
    await core.tokens.revoke(a, (req.params as Params).token, a.user.id);
    return { ok: true };
  });

  // Trusted publishing: npm exchanges a CI job's ID token for a publish token (also answered at the root: oidc.ts).
  await npmOidcRoutes(app, core);

  // The public keys `npm audit signatures` verifies dist.signatures with.
  app.get('/-/npm/v1/keys', async () => ({ keys: await signer.keys() }));

  // A version's attestations, as registry.npmjs.org serves them (`npm audit signatures` fetches dist.attestations.url):
  // `NAME@VERSION`, the name scoped and its slash raw or %2f-encoded.
  app.get('/-/npm/v1/attestations/*', async (req, reply) => {
    let spec: string;
    try {
      spec = decodeURIComponent((req.params as Params)['*']);
    } catch {
      throw notFound('attestations not found');
    }
    const at = spec.lastIndexOf('@');
    if (at <= 0) throw notFound('attestations not found');
    const n = parseNpmName(spec.slice(0, at));
    const version = spec.slice(at + 1);
    const pkg = await loadPackage(req.actor, n, 'read');
    const v = await core.packages.version(pkg.id, version);
    const predicateType = v ? (JSON.parse(v.metadata) as { dist?: { attestations?: { provenance?: { predicateType?: string } } } }).dist?.attestations?.provenance?.predicateType : undefined;
    const f = predicateType ? await core.packages.file(pkg.id, version, provenanceName(n, version)) : undefined;
    if (!f || !predicateType) throw notFound(`no attestations for ${n.full}@${version}`);
    const bundle = JSON.parse((await readSmallBody(await core.blobs.open(f.blob_digest), MAX_BUNDLE_BYTES)).toString('utf8'));
    return reply.type('application/json').send({ attestations: [{ predicateType, bundle }] });
  });

  // npm audit is not a registry feature here: report no advisories instead of failing installs.
  app.post('/-/npm/v1/security/advisories/bulk', async () => ({}));
  app.post('/-/npm/v1/security/audits/quick', async () => ({ advisories: {}, metadata: { vulnerabilities: {} } }));

  app.get('/-/v1/search', async (req) => {
    const q = req.query as Params;
    const size = Math.min(Math.max(Number(q.size) || 20, 1), 250);
    const from = Math.max(Number(q.from) || 0, 0);
    const text = String(q.text ?? '').split(/\s+/).filter((w) => w && !w.includes(':')).join(' ');
    const base = baseUrlOf(core, req);
    const objects = [];
    let offset = 0;
    let readable = 0;
    // Filter by access in pages, so a user sees exactly the packages they may read; `total` counts them (the
    // matches after the page are counted up to SEARCH_COUNT_LIMIT candidates, past which it is a lower bound).
    for (;;) {
      if (objects.length >= size && offset >= SEARCH_COUNT_LIMIT) break;
      const page = await core.packages.search(TYPE, text, 200, offset);
      if (!page.length) break;
      offset += page.length;
      for (const pkg of page) {
        if (!(await core.authz.canRead(req.actor, pkg))) continue;
        readable += 1;
        if (readable <= from || objects.length >= size) continue;
        const meta = JSON.parse(pkg.metadata) as { description?: string; keywords?: string[]; latest?: string };
        const full = npmDisplayName(pkg);
        objects.push({
          package: {
            name: full, scope: pkg.proxied ? (full.startsWith('@') ? full.slice(1, full.indexOf('/')) : 'unscoped') : pkg.owner_name.toLowerCase(), version: meta.latest ?? '', description: meta.description ?? '',
            keywords: meta.keywords ?? [], date: pkg.updated_at, links: { npm: `${base}/${pkg.owner_name}/-/packages/npm/${pkg.name}` },
            publisher: { username: pkg.owner_name }, maintainers: [{ username: pkg.owner_name }],
          },
          score: { final: 1, detail: { quality: 1, popularity: 1, maintenance: 1 } },
          searchScore: 1,
        });
      }
    }
    return { objects, total: readable, time: new Date().toUTCString() };
  });
}

/** How many search candidates are looked at, at most, to count a search's total once its page is full. */
const SEARCH_COUNT_LIMIT = 2000;

/** Sorts versions newest first by semver (for the REST API and UI). */
export const bySemverDesc = (a: string, b: string) => (semver.valid(a) && semver.valid(b) ? semver.rcompare(a, b) : b.localeCompare(a));
