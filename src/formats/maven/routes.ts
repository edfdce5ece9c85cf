// The Maven repository under /maven: GET, HEAD and PUT of any file in the standard layout, at two roots:
//   /maven/OWNER/REPO/…  the packages linked to that repository; a new package deployed here links to it
//   /maven/OWNER/…       every package of the owner the actor may read (one repository entry per owner)
// Below OWNER, a first segment naming a repository reads both ways (REPO then the rest, or a group segment), yet
// a URL names one package: a package whose URL another package already has is not created (shadowing), and of two
// stored before that refusal, the older is the one the URL reads and writes.
// A package is `groupId:artifactId` under OWNER; a version is the Maven version (a SNAPSHOT's base version
// holds its timestamped builds); every file is a package file backed by a blob. maven-metadata.xml and all
// checksums are computed by Wharf from the model; what a client uploads for them is checked, then dropped.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Core } from '../../core/core.ts';
import { conflict, invalid, notFound, unauthorized, WharfError } from '../../core/errors.ts';
import type { PackageRow } from '../../core/model/packages.ts';
import { GenerationCache } from '../../db/changes.ts';
import type { Owner, Repository } from '../../db/tables.ts';
import { baseUrlOf } from '../../http/actor.ts';
import { readSmallBody, refuseDeclaredLength } from '../../http/body.ts';
import { sendBlob } from '../../http/blob-reply.ts';
import { isSnapshot, packageName, parseChecksumBody, parseFileName, parseMavenPath, splitRawPath, type ChecksumAlgo, type MavenPath } from './coordinates.ts';
import { mavenErrorHandler } from './errors.ts';
import { artifactMetadata, lastUpdatedOf, snapshotMetadata } from './maven-metadata.ts';
import { checkClientMetadata, checkPomCoordinates, MAX_METADATA, MAX_POM, parsePom, type PomFacts } from './pom.ts';
import { MavenProxy } from './proxy.ts';
import { MavenStore, type StoredFile } from './store.ts';

const TYPE = 'maven';
const PREFIX = '/maven/';
/**
 * A mismatching checksum removes its file only while the upload is fresh (never an old, verified file), and only
 * when that takes no right the uploader lacks: a SNAPSHOT file (any writer may replace it), or an actor who may
 * delete the package. Published release files are immutable to everyone else (issue 17, finding 5: a writer
 * sent a wrong .sha1 to have a released jar dropped, then deployed other bytes under its name).
 */
const CHECKSUM_WINDOW_MS = 60 * 60 * 1000;

interface Target {
  owner: Owner;
  repo: Repository | null;
  path: MavenPath;
}

type TargetRow = PackageRow & { repo_name: string | null };

interface CachedDoc {
  revision: number;
  body: Buffer;
  sums: Record<ChecksumAlgo, string>;
}

const CONTENT_TYPES: Record<string, string> = {
  pom: 'application/xml', xml: 'application/xml', jar: 'application/java-archive', war: 'application/java-archive',
  module: 'application/json', json: 'application/json', asc: 'text/plain', txt: 'text/plain',
};
const contentTypeOf = (file: string) => CONTENT_TYPES[file.slice(file.lastIndexOf('.') + 1)] ?? 'application/octet-stream';

const hexOf = (buf: Buffer, algo: ChecksumAlgo) => createHash(algo).update(buf).digest('hex');

/** The Maven routes. */
export async function mavenRoutes(app: FastifyInstance, core: Core): Promise<void> {
  /** Keep the newest N builds of each SNAPSHOT version (0 keeps all). */
  const snapshotKeep = core.config.mavenSnapshotKeep;
  const store = new MavenStore(core);
  const proxy = new MavenProxy(core);
  const docs = new Map<string, CachedDoc>();
  // What a path resolves to, for the current change generation: every file of a build is resolved this way.
  const targets = new GenerationCache<TargetRow[]>(core.changes);

  // Bodies stay streams: jars go to the blob store as they arrive.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
  app.setErrorHandler(mavenErrorHandler);
  app.addHook('onRequest', refuseDeclaredLength(() => core.config.maxBlobSize));
  app.setNotFoundHandler((req, reply) => reply.code(404).type('text/plain').send(req.method === 'HEAD' ? undefined : 'not found\n'));

  /** What an actor who may not see something gets: the challenge when anonymous, else plain not found. */
  const deny = (req: FastifyRequest) => (req.actor.kind === 'anonymous' ? unauthorized('authentication required') : notFound('not found'));

  /** The segments below /maven/: OWNER, then REPO or the first group segment. */
  function segments(req: FastifyRequest): string[] {
    const raw = req.url.split('?')[0];
    if (!raw.startsWith(PREFIX)) throw notFound();
    return splitRawPath(raw.slice(PREFIX.length));
  }

  /** The candidate readings of a path: below OWNER/REPO when REPO is a repository of OWNER, and below OWNER. */
  async function candidates(req: FastifyRequest): Promise<{ owner: Owner; list: Target[]; error: unknown }> {
    const segs = segments(req);
    if (segs.length < 4) throw notFound('not a Maven file path');
    const owner = await core.identity.findOwner(segs[0]);
    if (!owner) throw deny(req);
    const repo = await core.identity.findRepo(owner.name, segs[1]);
    const list: Target[] = [];
    let error: unknown = null;
    const readings: [Repository | null, string[]][] = repo ? [[repo, segs.slice(2)], [null, segs.slice(1)]] : [[null, segs.slice(1)]];
    for (const [r, rest] of readings) {
      try {
        list.push({ owner, repo: r, path: parseMavenPath(rest) });
      } catch (e) {
        error ??= e;
      }
    }
    if (!list.length) throw error;
    return { owner, list, error };
  }

  // ---- reading ----------------------------------------------------------------------------------------------

  /**
   * The package a GET names, if the actor may read it. A repository root serves only the packages linked to
   * it. Both readings of the path (below OWNER/REPO, below OWNER) are looked up in one query: this runs for
   * every file a build resolves.
   */
  async function readTarget(req: FastifyRequest): Promise<{ path: MavenPath; pkg: PackageRow }> {
    const segs = segments(req);
    if (segs.length < 4) throw notFound('not a Maven file path');
    const readings: { repo: string | null; path: MavenPath; name: string }[] = [];
    let error: unknown = null;
    for (const [repo, rest] of [[segs[1].toLowerCase(), segs.slice(2)], [null, segs.slice(1)]] as const) {
      try {
        const path = parseMavenPath(rest);
        readings.push({ repo, path, name: packageName(path.groupId, path.artifactId).toLowerCase() });
      } catch (e) {
        error ??= e;
      }
    }
    if (!readings.length) throw error;
    const names = readings.map((r) => r.name);
    const rows = await targets.get(`${segs[0].toLowerCase()}\0${names.join('\0')}`, () => core.db
      .selectFrom('packages')
      .innerJoin('owners', 'owners.id', 'packages.owner_id')
      .leftJoin('repositories', 'repositories.id', 'packages.repository_id')
      .selectAll('packages')
      .select(['owners.name as owner_name', 'owners.kind as owner_kind', 'repositories.lower_name as repo_name'])
      .where('owners.lower_name', '=', segs[0].toLowerCase())
      .where('packages.type', '=', TYPE)
      .where('packages.lower_name', 'in', names)
      .where('packages.deleted_at', 'is', null)
      .execute());
    // One URL names one package. Creating a package that another reading of its URLs already names is refused
    // (shadowing below), but both may be stored from before that: then the package that existed first (lower id)
    // is the one, for every reader. One who may not read it is denied, never served the other package instead.
    const found = readings
      .flatMap((r) => {
        const row = rows.find((x) => x.lower_name === r.name && (r.repo === null || x.repo_name === r.repo));
        return row ? [{ path: r.path, row }] : [];
      })
      .sort((a, b) => a.row.id - b.row.id);
    let hidden = false;
    if (found.length) {
      const { repo_name: _, ...pkg } = found[0].row;
      try {
        await core.authz.authorize(req.actor, 'read', pkg);
        return { path: found[0].path, pkg };
      } catch (e) {
        // Same answer, word for word, as for a package that does not exist.
        if (!(e instanceof WharfError && (e.kind === 'NotFound' || e.kind === 'Unauthorized'))) throw e;
        hidden = true;
      }
    }
    // Nothing there. Anonymous clients get the challenge (a private package looks missing), except below a
    // public repository's root, which holds public packages: there a clean 404 lets Gradle and Maven move
    // on to their next repository instead of failing on a 401 they have no credentials for.
    if (req.actor.kind === 'anonymous' && !hidden && (await core.identity.findRepo(segs[0], segs[1]))?.visibility === 'public') throw notFound('not found');
    throw deny(req);
  }

  function cached(key: string, revision: number, build: () => Promise<string | null>): Promise<CachedDoc | null> {
    const hit = docs.get(key);
    if (hit && hit.revision === revision) return Promise.resolve(hit);
    return build().then((xml) => {
      if (xml === null) return null;
      const body = Buffer.from(xml);
      const doc: CachedDoc = { revision, body, sums: { md5: hexOf(body, 'md5'), sha1: hexOf(body, 'sha1'), sha256: hexOf(body, 'sha256'), sha512: hexOf(body, 'sha512') } };
      if (docs.size >= 10_000) docs.delete(docs.keys().next().value!);
      docs.set(key, doc);
      return doc;
    });
  }

  async function metadataDoc(pkg: PackageRow, p: MavenPath): Promise<CachedDoc | null> {
    if (p.kind === 'artifact-metadata') {
      return cached(`${pkg.id}|a`, pkg.revision, async () => {
        const versions = await core.packages.versions(pkg.id);
        if (!versions.length) return null;
        return artifactMetadata({ groupId: p.groupId, artifactId: p.artifactId, versions: versions.map((v) => v.version), lastUpdated: lastUpdatedOf(pkg.updated_at) });
      });
    }
    if (p.kind === 'version-metadata') {
      return cached(`${pkg.id}|v|${p.version}`, pkg.revision, async () => {
        const files = await store.versionFiles(pkg.id, p.version);
        if (!files.length) return null;
        return snapshotMetadata({ groupId: p.groupId, artifactId: p.artifactId, version: p.version, files: files.map((f) => ({ name: f.name, createdAt: f.created_at })) });
      });
    }
    return null;
  }

  /** A stored file's checksum, computing (and recording) it when its blob was stored without it. */
  async function fileDigest(f: StoredFile, algo: ChecksumAlgo): Promise<string> {
    if (algo === 'sha256') return f.blob_digest.slice('sha256:'.length);
    const known = f[algo];
    if (known) return known;
    const hashes = { md5: createHash('md5'), sha1: createHash('sha1'), sha512: createHash('sha512') };
    for await (const chunk of await core.blobs.open(f.blob_digest)) for (const h of Object.values(hashes)) h.update(chunk as Buffer);
    const d = { md5: hashes.md5.digest('hex'), sha1: hashes.sha1.digest('hex'), sha512: hashes.sha512.digest('hex') };
    await store.fillDigests(f.blob_digest, d);
    return d[algo];
  }

  async function read(req: FastifyRequest, reply: FastifyReply) {
    // A proxy's repository (/maven/PROXY/...) is answered by MavenProxy (proxy.ts).
    const segs = segments(req);
    const proxied = await proxy.proxyOf(segs);
    if (proxied) return proxy.serve(req, reply, proxied, segs.slice(1));
    const { path: p, pkg } = await readTarget(req);
    const head = req.method === 'HEAD';
    if (p.kind !== 'file') {
      const doc = await metadataDoc(pkg, p);
      if (!doc) throw notFound('no maven-metadata.xml here');
      if (p.checksum) return reply.type('text/plain').header('content-length', doc.sums[p.checksum].length).send(head ? undefined : doc.sums[p.checksum]);
      // An ETag lets a proxy in front (another Wharf's, Nexus) revalidate without downloading the document again.
      const etag = `"${doc.sums.sha1}"`;
      reply.header('etag', etag).header('cache-control', 'no-cache');
      if (req.headers['if-none-match'] === etag) return reply.code(304).send();
      return reply
        .type('application/xml')
        .header('content-length', doc.body.length)
        .header('x-checksum-sha1', doc.sums.sha1)
        .header('x-checksum-md5', doc.sums.md5)
        .send(head ? undefined : doc.body);
    }
    const f = await store.file(pkg.id, p.version, p.file);
    if (!f) throw notFound(`${p.file} not found`);
    if (p.checksum) {
      const hex = await fileDigest(f, p.checksum);
      return reply.type('text/plain').header('content-length', hex.length).send(head ? undefined : hex);
    }
    reply
      .type(f.content_type)
      .header('etag', `"${f.blob_digest.slice(7)}"`)
      .header('last-modified', new Date(f.created_at).toUTCString())
      .header('x-checksum-sha256', f.blob_digest.slice(7));
    if (f.sha1) reply.header('x-checksum-sha1', f.sha1);
    if (f.md5) reply.header('x-checksum-md5', f.md5);
    if (head) return reply.header('content-length', f.size).send();
    if (req.headers['if-none-match'] === `"${f.blob_digest.slice(7)}"`) return reply.code(304).send();
    // One download per resolution: every resolver fetches the POM once per version.
    if (p.file.endsWith('.pom')) core.downloads.record(f.version_id);
    return sendBlob(core, reply, { digest: f.blob_digest, size: f.size }, { redirect: true });
  }

  app.route({ method: ['GET', 'HEAD'], url: '/*', exposeHeadRoute: false, handler: read });

  // ---- deploying --------------------------------------------------------------------------------------------

  /** The request body as a stream that an early error does not destroy, so the error response still reaches the client. */
  const body = (req: FastifyRequest): Readable => {
    const raw = (req.body as Readable | undefined) ?? req.raw;
    return Readable.from(raw.iterator({ destroyOnReturn: false }), { objectMode: false });
  };
  const smallBody = (req: FastifyRequest, limit: number) => readSmallBody((req.body as Readable | undefined) ?? req.raw, limit);

  /**
   * Where a PUT goes and the package it writes (undefined when new), once the actor may write it: existing
   * packages need write access; new ones the right to create under OWNER, linked to REPO.
   */
  async function writeTarget(req: FastifyRequest): Promise<{ t: Target; pkg: PackageRow | undefined }> {
    const actor = req.actor;
    if (actor.kind === 'anonymous') throw unauthorized('authentication required to deploy');
    const { owner, list } = await candidates(req);
    const found = await Promise.all(list.map((c) => core.packages.find(owner.name, TYPE, packageName(c.path.groupId, c.path.artifactId), { includeDeleted: true })));
    // A PUT writes the package its URL reads as (readTarget): the repository reading's package when it is linked
    // to that repository, else the owner-wide reading's, the older one when both are; with neither, the
    // repository reading (a new package, or one linked elsewhere: refused below).
    const linked = list[0].repo && found[0]?.repository_id === list[0].repo.id ? found[0] : undefined;
    const i = list.length === 2 && found[1] && (!linked || found[1].id < linked.id) ? 1 : 0;
    const t = list[i];
    const name = packageName(t.path.groupId, t.path.artifactId);
    const pkg = found[i];
    if (pkg) {
      try {
        await core.authz.authorize(actor, 'write', { ...pkg, deleted_at: null } as PackageRow);
      } catch (e) {
        // The URL reads as an owner-wide package, and also as a new package below its repository: one who may not
        // write the first is (likely) creating the second, and is told why that cannot be.
        if (i === 1 && !found[0] && list[0].repo && e instanceof WharfError) await mayCreate(req, owner, list[0] as Target & { repo: Repository });
        // A package the actor cannot see is refused as a new one at this URL would be: its name is not confirmed.
        if (e instanceof WharfError && e.kind === 'NotFound') {
          if (!t.repo) throw newOnlyInRepository(req, owner);
          await mayCreate(req, owner, t as Target & { repo: Repository });
        }
        throw e;
      }
      if (t.repo && pkg.repository_id !== t.repo.id) {
        const linked = pkg.repository_id != null ? await core.identity.repoById(pkg.repository_id) : undefined;
        throw conflict(`${name} is ${linked ? `linked to ${linked.owner_name}/${linked.name}: deploy to ${baseUrlOf(core, req)}/maven/${linked.owner_name}/${linked.name}` : `not linked to ${owner.name}/${t.repo.name}: deploy to ${baseUrlOf(core, req)}/maven/${owner.name}`}`);
      }
      return { t, pkg };
    }
    if (!t.repo) {
      // A new package links to the repository of its URL: the owner-wide root resolves, and deploys only to
      // packages that exist (a mistyped repository name must not turn into a group segment of a new package).
      throw newOnlyInRepository(req, owner);
    }
    await mayCreate(req, owner, t as Target & { repo: Repository });
    return { t, pkg: undefined };
  }

  const newOnlyInRepository = (req: FastifyRequest, owner: Owner) =>
    notFound(`no repository named ${owner.name}/${segments(req)[1]}: deploy new packages to ${baseUrlOf(core, req)}/maven/${owner.name}/REPOSITORY`);

  /** Refuses creating the package of `t` in its repository unless the actor may, and its URLs are its own. */
  async function mayCreate(req: FastifyRequest, owner: Owner, t: Target & { repo: Repository }): Promise<void> {
    const actor = req.actor;
    if (actor.kind === 'user' && !(await core.authz.canReadRepo(actor, t.repo))) {
      // A repository the person cannot see is not there.
      throw notFound(`no repository named ${owner.name}/${t.repo.name}`);
    }
    await core.authz.authorizeCreate(actor, owner, t.repo.id);
    const other = await shadowing(owner, t.repo, t.path.groupId, t.path.artifactId);
    if (other) {
      throw conflict(`${packageName(t.path.groupId, t.path.artifactId)} cannot be created in ${owner.name}/${t.repo.name}: its URL ${baseUrlOf(core, req)}/maven/${other.url}/ already names the package ${other.name} of ${owner.name}, and a Maven URL names one package (choose another groupId or repository)`);
    }
  }

  /**
   * The existing package (live or deleted) that a new package G:A in REPO would share a URL with, if any. The
   * owner-wide root reads /maven/OWNER/X/… both as X/… below repository X and as group X.… (candidates), so:
   *   - the new package's URL below its repository, OWNER/REPO/G/A, is the owner-wide URL of REPO.G:A;
   *   - its owner-wide URL OWNER/G/A, when G is R.REST for a repository R (names may hold dots), is the URL
   *     below R of REST:A, if that package is linked to R.
   * Either way one URL would serve two packages, and the one deployed later could shadow the other.
   */
  async function shadowing(owner: Owner, repo: Repository, groupId: string, artifactId: string): Promise<{ name: string; url: string } | undefined> {
    const path = `${groupId.replace(/\./g, '/')}/${artifactId}`;
    const rooted = await core.packages.find(owner.name, TYPE, packageName(`${repo.name}.${groupId}`, artifactId), { includeDeleted: true });
    if (rooted) return { name: rooted.name, url: `${owner.name}/${repo.name}/${path}` };
    const parts = groupId.split('.');
    for (let n = 1; n < parts.length; n++) {
      const r = await core.identity.findRepo(owner.name, parts.slice(0, n).join('.'));
      if (!r) continue;
      const below = await core.packages.find(owner.name, TYPE, packageName(parts.slice(n).join('.'), artifactId), { includeDeleted: true });
      if (below && below.repository_id === r.id) return { name: below.name, url: `${owner.name}/${r.name}/${parts.slice(n).join('/')}/${artifactId}` };
    }
    return undefined;
  }

  async function deploy(req: FastifyRequest, reply: FastifyReply) {
    const { t, pkg } = await writeTarget(req);
    const p = t.path;
    if (pkg && p.kind !== 'artifact-metadata') {
      // Versions are stored case-insensitively, but only an upper-case -SNAPSHOT is a snapshot: 2.0-snapshot is a
      // release, and a write to 2.0-SNAPSHOT would be one to it with a snapshot's rights (files replaced, a fresh
      // file dropped on a wrong checksum). A version is written under its stored spelling only.
      const v = await core.packages.version(pkg.id, p.version, { includeDeleted: true });
      if (v && v.version !== p.version) throw conflict(`${pkg.name} has version ${v.version}: ${p.version} differs from it only in case (and a SNAPSHOT only in capitals), deploy to ${v.version}`);
    }
    if (p.kind !== 'file') {
      // Wharf derives maven-metadata.xml from its model: what the client sends is checked for sense and dropped.
      if (p.checksum) parseChecksumBody((await smallBody(req, 1024)).toString('latin1'), p.checksum);
      else checkClientMetadata(await smallBody(req, MAX_METADATA), p);
      return reply.code(201).send();
    }
    if (p.checksum) return putChecksum(req, reply, pkg, p, p.checksum);
    return putFile(req, reply, t, pkg, p);
  }

  /** A checksum file: it must match the file it names, or that file is not kept. */
  async function putChecksum(req: FastifyRequest, reply: FastifyReply, pkg: PackageRow | undefined, p: Extract<MavenPath, { kind: 'file' }>, algo: ChecksumAlgo) {
    const want = parseChecksumBody((await smallBody(req, 1024)).toString('latin1'), algo);
    const f = pkg ? await store.file(pkg.id, p.version, p.file) : undefined;
    if (!pkg || !f) throw invalid(`${p.file}.${algo} names a file that was not uploaded`);
    const got = await fileDigest(f, algo);
    if (got !== want) {
      const fresh = Date.now() - Date.parse(f.created_at) < CHECKSUM_WINDOW_MS;
      const drop = fresh && (isSnapshot(p.version) || (await mayDelete(req, pkg)));
      if (drop) await store.removeFile(pkg.id, f.id, f.version_id);
      throw invalid(`checksum mismatch: ${p.file} has ${algo} ${got}, the uploaded checksum says ${want}; ${drop ? 'the file was not kept' : `the published ${p.file} is unchanged`}`);
    }
    return reply.code(201).send();
  }

  /** Whether the actor may delete the package (and so drop one of its files). */
  async function mayDelete(req: FastifyRequest, pkg: PackageRow): Promise<boolean> {
    try {
      await core.authz.authorize(req.actor, 'delete', pkg);
      return true;
    } catch (e) {
      if (e instanceof WharfError) return false;
      throw e;
    }
  }

  async function putFile(req: FastifyRequest, reply: FastifyReply, t: Target, pkg: PackageRow | undefined, p: Extract<MavenPath, { kind: 'file' }>) {
    const snapshot = isSnapshot(p.version);
    const name = parseFileName(p.artifactId, p.version, p.file);
    // A released file is never replaced, by anyone: every cache (~/.m2, Gradle's, proxies) keeps the first bytes
    // forever, so new bytes under the same name would give consumers different artifacts. Removing it takes an
    // explicit delete. The same bytes again are a retry (mvn deploy retries a PUT whose answer it lost) and
    // succeed without change; other bytes are refused, before the body is read when its length already differs.
    const released = pkg && !snapshot ? await store.file(pkg.id, p.version, p.file) : undefined;
    const immutable = () => conflict(`${p.file} already exists with other content: release versions are immutable (deploy a new version)`);
    if (released && req.headers['content-length'] !== undefined && Number(req.headers['content-length']) !== released.size) throw immutable();
    // Over the owner's quota, refused before the body is stored (the core decides again when the file is added). A
    // SNAPSHOT file deployed again replaces the old one: only what it adds beyond that counts.
    const declared = Number(req.headers['content-length'] ?? 0);
    const replaced = pkg && snapshot && declared > 0 ? await store.file(pkg.id, p.version, p.file) : undefined;
    const grows = declared - (replaced?.size ?? 0);
    if (grows > 0 && !released) await core.publisher.checkQuota(t.owner.id, { bytes: grows });
    let pom: PomFacts | undefined;
    let source: Readable;
    if (name.classifier === null && name.extension === 'pom') {
      // POMs are small: read whole (bounded), checked against the path, then stored.
      const buf = await smallBody(req, MAX_POM);
      pom = parsePom(buf);
      checkPomCoordinates(pom, p);
      source = Readable.from([buf]);
    } else source = body(req);
    const staged = await core.blobs.put(source, { maxSize: core.config.maxBlobSize, extraDigests: ['sha1', 'sha512', 'md5'] });
    try {
      // Some clients (Artifactory-style) declare checksums in headers: the bytes must be exactly those.
      for (const [h, algo] of [['x-checksum-sha1', 'sha1'], ['x-checksum-md5', 'md5'], ['x-checksum-sha256', 'sha256']] as const) {
        const v = req.headers[h];
        if (typeof v !== 'string') continue;
        const got = algo === 'sha256' ? staged.digest.slice(7) : staged.extra[algo];
        if (v.trim().toLowerCase() !== got) throw invalid(`checksum mismatch: the body's ${algo} is ${got}, the ${h} header says ${v}`);
      }
      if (released) {
        if (staged.digest !== released.blob_digest) throw immutable();
        await staged.cancel();
        return reply.code(201).send();
      }
      const facts = pom ? { name: pom.name, description: pom.description, url: pom.url, licenses: pom.licenses, packaging: pom.packaging } : undefined;
      await store.putFile({
        ownerId: t.owner.id, packageId: pkg?.id ?? null, repositoryId: t.repo?.id ?? pkg?.repository_id ?? null, name: packageName(p.groupId, p.artifactId), version: p.version, snapshot,
        file: p.file, blob: staged, contentType: contentTypeOf(p.file), primary: !!pom,
        versionMetadata: facts ? { pom: facts } : undefined,
        packageMetadata: facts ? { description: facts.description ?? '', name: facts.name, url: facts.url, licenses: facts.licenses, latest: p.version } : undefined,
        actor: req.actor,
      });
    } catch (e) {
      await staged.cancel();
      throw e;
    }
    if (snapshot && name.build && snapshotKeep > 0 && pkg) await store.pruneSnapshots(pkg.id, p.version, p.artifactId, snapshotKeep);
    return reply.code(201).send();
  }

  app.put('/*', deploy);
}
