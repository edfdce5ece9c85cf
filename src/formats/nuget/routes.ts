// A NuGet v3 source per owner under /nuget/OWNER, as NuGet.exe 5.8 and the dotnet CLI speak it:
//   GET    /index.json                                     service index
//   PUT    /api/v2/package[/]                              push (multipart, one part: the .nupkg; X-NuGet-ApiKey or Basic)
//   DELETE /api/v2/package/ID/VERSION                      unlist (the version stays restorable and pinned installs work)
//   POST   /api/v2/package/ID/VERSION                      relist
//   GET    /v3/flat/ID/index.json                          every version, lower-cased and normalized
//   GET    /v3/flat/ID/VERSION/ID.VERSION.nupkg, ID.nuspec the package and its manifest
//   GET    /v3/registration[-semver2]/...                  registration hives (registration.ts)
//   PUT    /api/v2/symbolpackage, GET /symbols/...         symbol packages and the symbol server (symbols.ts)
//   GET    /v3/search, /v3/autocomplete                   search and autocomplete
// Pushes are spooled to a temp file under the data dir, the .nupkg part is read in place (yauzl over a byte
// range) and then streamed into the blob store; the temp file goes in `finally`.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Actor } from '../../core/auth/actor.ts';
import type { Action } from '../../core/auth/authorize.ts';
import type { Core } from '../../core/core.ts';
import { conflict, forbidden, invalid, notFound, tooLarge, unauthorized, WharfError } from '../../core/errors.ts';
import type { PackageRow } from '../../core/model/packages.ts';
import type { Owner } from '../../db/tables.ts';
import { baseUrlOf } from '../../http/actor.ts';
import { searchResult, serviceIndex, sortVersions, Urls, visibleVersions, type NuGetVersionMeta, type NuGetVersionRow } from './documents.ts';
import { nugetErrorHandler } from './errors.ts';
import { readNupkg } from './nupkg.ts';
import type { NuGetContext } from './context.ts';
import { symbolRoutes } from './symbols.ts';
import { registrationRoutes } from './registration.ts';
import { checkId, isSemVer2, parseVersion } from './versions.ts';

const TYPE = 'nuget';
type Params = Record<string, string>;

/** Finds the byte range of the first part of a multipart body spooled to `file` (NuGet sends exactly one). */
async function multipartRange(file: string, size: number, contentType: string): Promise<{ start: number; end: number }> {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (!m) throw invalid('multipart body without a boundary');
  const delim = Buffer.from(`--${m[1] ?? m[2]}`);
  const fd = await fs.promises.open(file, 'r');
  try {
    const headLen = Math.min(size, 64 * 1024);
    const head = Buffer.alloc(headLen);
    await fd.read(head, 0, headLen, 0);
    const first = head.indexOf(delim);
    if (first < 0) throw invalid('the multipart body has no part');
    const hdrEnd = head.indexOf('\r\n\r\n', first);
    if (hdrEnd < 0) throw invalid('the multipart part has no end of headers');
    const start = hdrEnd + 4;
    const tailLen = Math.min(size - start, delim.length + 1024);
    const tail = Buffer.alloc(tailLen);
    await fd.read(tail, 0, tailLen, size - tailLen);
    const close = tail.lastIndexOf(Buffer.concat([Buffer.from('\r\n'), delim]));
    if (close < 0) throw invalid('the multipart body is not terminated');
    return { start, end: size - tailLen + close };
  } finally {
    await fd.close();
  }
}

export async function nugetRoutes(app: FastifyInstance, core: Core): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
  app.setErrorHandler(nugetErrorHandler);
  app.setNotFoundHandler((_req, reply) => reply.code(404).type('text/plain; charset=utf-8').send('not found\n'));
  const spool = path.join(core.config.dataDir, 'tmp', 'nuget');

  const urls = (req: FastifyRequest, owner: Owner) => new Urls(`${baseUrlOf(core, req)}/nuget/${owner.name}`);

  async function ownerOf(name: string): Promise<Owner> {
    const owner = await core.identity.findOwner(name);
    if (!owner) throw notFound(`no user or organization named "${name}"`);
    return owner;
  }

  /**
   * What an actor is told about something it cannot see: NotFound, but an anonymous client of a source with
   * non-public packages gets a challenge (NuGet sends credentials only after a 401), whether or not the thing
   * exists. A source of public packages only answers 404, as a restore over several sources needs.
   */
  async function hidden(actor: Actor, owner: Owner, message: string): Promise<WharfError> {
    if (actor.kind === 'anonymous' && (await core.authz.hasNonPublic(owner.id, TYPE))) return unauthorized('this NuGet source needs credentials');
    return notFound(message);
  }

  /** The package, if the actor may `action` on it; what it may not read looks missing (see `hidden`). */
  async function loadPackage(actor: Actor, owner: Owner, id: string, action: Action): Promise<PackageRow> {
    const HIDDEN = notFound(`package ${id} not found`);
    try {
      return await core.authz.authorizeFound(actor, action, await core.packages.find(owner.name, TYPE, id), () => HIDDEN);
    } catch (e) {
      throw e === HIDDEN ? await hidden(actor, owner, HIDDEN.message) : e;
    }
  }

  async function versionRows(pkg: PackageRow): Promise<(NuGetVersionRow & { versionId: number })[]> {
    const [vs, downloads] = await Promise.all([core.packages.versions(pkg.id), core.packages.downloadsByVersion(pkg.id)]);
    return vs.map((v) => ({ versionId: v.id, meta: JSON.parse(v.metadata) as NuGetVersionMeta, createdAt: v.created_at, downloads: downloads.get(v.id) ?? 0 }));
  }

  /** NuGet.exe sends the API key in X-NuGet-ApiKey and no Authorization: the key is a Wharf token. */
  async function writer(req: FastifyRequest): Promise<Actor> {
    if (req.actor.kind !== 'anonymous') return req.actor;
    const key = req.headers['x-nuget-apikey'];
    if (typeof key === 'string' && key) {
      const actor = await core.tokens.authenticate(key.trim());
      if (!actor) throw unauthorized('the API key is not a valid Wharf token');
      return actor;
    }
    throw unauthorized('pushing needs an API key: a Wharf token with the write:packages scope');
  }

  app.get('/:owner/index.json', async (req) => serviceIndex(urls(req, await ownerOf((req.params as Params).owner))));

  // ---- flat container ---------------------------------------------------------------------------------------

  app.get('/:owner/v3/flat/:id/index.json', async (req) => {
    const p = req.params as Params;
    const owner = await ownerOf(p.owner);
    const pkg = await loadPackage(req.actor, owner, p.id, 'read');
    return { versions: sortVersions(await versionRows(pkg)).map((v) => v.meta.version.toLowerCase()) };
  });

  app.get('/:owner/v3/flat/:id/:version/:file', async (req, reply) => {
    const p = req.params as Params;
    const owner = await ownerOf(p.owner);
    const pkg = await loadPackage(req.actor, owner, p.id, 'read');
    const v = parseVersion(p.version);
    if (!v) throw notFound(`version ${p.version} not found`);
    const lid = pkg.name.toLowerCase();
    const lv = v.normalized.toLowerCase();
    const file = p.file.toLowerCase();
    const isNupkg = file === `${lid}.${lv}.nupkg`;
    if (!isNupkg && file !== `${lid}.nuspec`) throw notFound(`${p.file} not found`);
    const f = await core.packages.file(pkg.id, v.normalized, isNupkg ? `${lid}.${lv}.nupkg` : `${lid}.nuspec`);
    if (!f) throw notFound(`${p.file} not found`);
    if (isNupkg) core.downloads.record(f.version_id);
    return reply
      .type(isNupkg ? 'application/octet-stream' : 'application/xml')
      .header('content-length', f.size)
      .header('etag', `"${f.blob_digest}"`)
      .header('cache-control', 'private, max-age=31536000, immutable')
      .send(await core.blobs.open(f.blob_digest));
  });

  // ---- search -----------------------------------------------------------------------------------------------

  async function readablePackages(actor: Actor, owner: Owner): Promise<PackageRow[]> {
    const all = await core.packages.listByOwner(owner.id, { type: TYPE, limit: 10_000, offset: 0 });
    const out: PackageRow[] = [];
    for (const p of all) if (await core.authz.canRead(actor, p)) out.push(p);
    return out.sort((a, b) => a.lower_name.localeCompare(b.lower_name));
  }

  function searchParams(req: FastifyRequest) {
    const q = req.query as Params;
    const skip = Math.max(0, Number(q.skip) || 0);
    const take = Math.min(1000, Math.max(0, q.take === undefined ? 20 : Number(q.take) || 0));
    const semVer2 = /^2/.test(q.semVerLevel ?? '');
    return { q: (q.q ?? '').trim().toLowerCase(), skip, take, filter: { prerelease: q.prerelease === 'true', semVer2 } };
  }

  /** Does the query match? Terms (`id:x` or free text) must each appear in the id, title, tags or description. */
  function matches(query: string, id: string, m: NuGetVersionMeta): boolean {
    if (!query) return true;
    return query.split(/\s+/).every((term) => {
      const [field, value] = term.includes(':') ? [term.slice(0, term.indexOf(':')), term.slice(term.indexOf(':') + 1)] : ['', term];
      if (field === 'id' || field === 'packageid') return id.toLowerCase().includes(value);
      return [id, m.title ?? '', m.description, m.tags.join(' ')].some((s) => s.toLowerCase().includes(value));
    });
  }

  app.get('/:owner/v3/search', async (req) => {
    const owner = await ownerOf((req.params as Params).owner);
    const { q, skip, take, filter } = searchParams(req);
    const u = urls(req, owner).inHive(filter.semVer2 ? 'registration-semver2' : 'registration');
    const hits = [];
    for (const pkg of await readablePackages(req.actor, owner)) {
      const vs = visibleVersions(await versionRows(pkg), filter);
      if (vs.length && matches(q, pkg.name, vs.at(-1)!.meta)) hits.push({ pkg, vs });
    }
    return { totalHits: hits.length, data: hits.slice(skip, skip + take).map((h) => searchResult(u, h.pkg.name, h.vs)) };
  });

  app.get('/:owner/v3/autocomplete', async (req) => {
    const owner = await ownerOf((req.params as Params).owner);
    const { q, skip, take, filter } = searchParams(req);
    const id = (req.query as Params).id;
    if (id) {
      const pkg = await core.packages.find(owner.name, TYPE, id);
      if (!pkg || !(await core.authz.canRead(req.actor, pkg))) return { totalHits: 0, data: [] };
      const vs = visibleVersions(await versionRows(pkg), filter).map((v) => v.meta.version);
      return { totalHits: vs.length, data: vs };
    }
    const ids = [];
    for (const pkg of await readablePackages(req.actor, owner)) {
      if (pkg.lower_name.includes(q) && visibleVersions(await versionRows(pkg), filter).length) ids.push(pkg.name);
    }
    return { totalHits: ids.length, data: ids.slice(skip, skip + take) };
  });

  // ---- push, unlist, relist ---------------------------------------------------------------------------------

  /** Refuses, before reading the body, an actor who could push no package to `owner` (the id is inside the upload). */


  async function spoolBody(body: Readable, file: string, max: number): Promise<number> {
    let n = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        n += chunk.length;
        cb(n > max ? tooLarge(`the upload is larger than ${max} bytes`) : null, chunk);
      },
    });
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    await pipeline(body, counter, fs.createWriteStream(file, { flags: 'wx' }));
    return n;
  }

  const push = async (req: FastifyRequest, reply: import('fastify').FastifyReply) => {
    const actor = await writer(req);
    const owner = await ownerOf((req.params as Params).owner);
    await core.authz.authorizePushUnder(actor, owner, TYPE);
    const tmp = path.join(spool, `${randomUUID()}.upload`);
    try {
      const size = await spoolBody((req.body as Readable | undefined) ?? Readable.from([]), tmp, core.config.maxBlobSize + 64 * 1024);
      const ct = String(req.headers['content-type'] ?? '');
      const { start, end } = /^multipart\//i.test(ct) ? await multipartRange(tmp, size, ct) : { start: 0, end: size };
      if (end - start > core.config.maxBlobSize) throw tooLarge(`the package is larger than ${core.config.maxBlobSize} bytes`);
      const facts = await readNupkg(tmp, start, end - start);
      const spec = facts.nuspec;
      const version = parseVersion(spec.version)!.normalized;
      const id = spec.id;

      const existing = await core.packages.find(owner.name, TYPE, id, { includeDeleted: true });
      const repo = await core.identity.repoForSourceUrl(owner.id, spec.repository?.url ?? spec.projectUrl ?? null);
      // Then on the package itself, now that its id is known.
      if (existing) await core.authz.authorize(actor, 'write', existing);
      else await core.authz.authorizeCreate(actor, owner, repo?.id ?? null);
      if (existing && (await core.packages.version(existing.id, version, { includeDeleted: true }))) throw conflict(`${id} ${version} already exists: a version cannot be pushed twice`);
      const name = existing?.name ?? id;

      const nupkg = await core.blobs.put(fs.createReadStream(tmp, { start, end: end - 1 }), { maxSize: core.config.maxBlobSize, extraDigests: ['sha512'] });
      const nuspecBlob = await core.blobs.put(Readable.from([facts.nuspecXml]), { maxSize: core.config.maxBlobSize });
      try {
        const meta: NuGetVersionMeta = {
          id: name, version, originalVersion: spec.version, listed: true, semVer2: isSemVer2(spec.version),
          title: spec.title, authors: spec.authors, owners: spec.owners, description: spec.description, summary: spec.summary, releaseNotes: spec.releaseNotes,
          tags: spec.tags, language: spec.language, projectUrl: spec.projectUrl, iconUrl: spec.iconUrl, icon: spec.icon, licenseUrl: spec.licenseUrl,
          licenseExpression: spec.license?.type === 'expression' ? spec.license.value : undefined,
          licenseFile: spec.license?.type === 'file' ? spec.license.value : undefined,
          readme: facts.readme, repositoryUrl: spec.repository?.url, requireLicenseAcceptance: spec.requireLicenseAcceptance,
          minClientVersion: spec.minClientVersion, packageTypes: spec.packageTypes, dependencyGroups: spec.dependencyGroups, frameworks: facts.frameworks,
          sha512: Buffer.from(nupkg.extra.sha512 ?? '', 'hex').toString('base64'), size: nupkg.size,
        };
        const lid = name.toLowerCase();
        await core.publisher.createVersion({
          ownerId: owner.id, type: TYPE, name, version, metadata: meta,
          packageMetadata: parseVersion(version)!.release ? undefined : { description: spec.description, latest: version, readme: facts.readme },
          files: [
            { name: `${lid}.${version.toLowerCase()}.nupkg`, blob: nupkg, contentType: 'application/octet-stream', primary: true },
            { name: `${lid}.nuspec`, blob: nuspecBlob, contentType: 'application/xml' },
          ],
          repositoryId: repo?.id ?? null, actor,
        });
      } catch (e) {
        await nupkg.cancel();
        await nuspecBlob.cancel();
        if (e instanceof WharfError && e.kind === 'Conflict' && e.code === 'EPUBLISHCONFLICT') throw conflict(`${id} ${version} already exists: a version cannot be pushed twice`);
        throw e;
      }
      return reply.code(201).type('text/plain; charset=utf-8').send(`Pushed ${name} ${version}\n`);
    } finally {
      await fs.promises.rm(tmp, { force: true });
    }
  };
  app.put('/:owner/api/v2/package', push);

  const ctx: NuGetContext = { spool, urls, ownerOf, hidden, loadPackage, versionRows, writer, spoolBody, multipartRange };
  symbolRoutes(app, core, ctx);
  registrationRoutes(app, core, ctx);

  async function setListed(req: FastifyRequest, listed: boolean) {
    const actor = await writer(req);
    const p = req.params as Params;
    const owner = await ownerOf(p.owner);
    checkId(p.id);
    const pkg = await loadPackage(actor, owner, p.id, 'delete');
    const v = parseVersion(p.version);
    const row = v && (await core.packages.version(pkg.id, v.normalized));
    if (!row) throw notFound(`${pkg.name} ${p.version} not found`);
    const meta = JSON.parse(row.metadata) as NuGetVersionMeta;
    if (meta.listed !== listed) await core.publisher.updateVersionMetadata(pkg.id, row.id, { ...meta, listed }, actor);
  }
  app.delete('/:owner/api/v2/package/:id/:version', async (req, reply) => {
    await setListed(req, false);
    return reply.code(204).send();
  });
  app.post('/:owner/api/v2/package/:id/:version', async (req, reply) => {
    await setListed(req, true);
    return reply.code(200).send();
  });
}
