// What the v3 source and the v2 OData feed share: the owner and package look-ups (every access decision through
// core authorize), the version rows the documents are built from, and the writes: push, unlist and relist.
// Pushes are spooled to a temp file under the data dir (tmp/nuget/<uuid>.upload), the .nupkg part is read in
// place (yauzl over a byte range) and then streamed into the blob store; the temp file goes in `finally`.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyRequest } from 'fastify';
import { accessKey, type Actor } from '../../core/auth/actor.ts';
import type { Action } from '../../core/auth/authorize.ts';
import type { Core } from '../../core/core.ts';
import { conflict, invalid, notFound, tooLarge, unauthorized, WharfError } from '../../core/errors.ts';
import type { PackageRow } from '../../core/model/packages.ts';
import { GenerationCache } from '../../db/changes.ts';
import type { Owner } from '../../db/tables.ts';
import { baseUrlOf } from '../../http/actor.ts';
import { Urls, visibleVersions, type NuGetVersionMeta, type NuGetVersionRow, type SearchFilter } from './documents.ts';
import { DEFAULT_NUPKG_LIMITS, readNupkg, versionMeta } from './nupkg.ts';
import { assembliesOf } from './snupkg.ts';
import { assemblyProperties } from './symbols.ts';
import { TYPE, type NuGetContext } from './context.ts';
import { checkId, parseVersion } from './versions.ts';

export { TYPE };

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
    // The delimiter is CRLF--boundary; nuget.exe 2.x on mono writes a bare LF (Environment.NewLine) before it.
    const at = tail.lastIndexOf(delim);
    if (at < 1 || tail[at - 1] !== 0x0a) throw invalid('the multipart body is not terminated');
    const close = at >= 2 && tail[at - 2] === 0x0d ? at - 2 : at - 1;
    return { start, end: size - tailLen + close };
  } finally {
    await fd.close();
  }
}

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

export type NuGetRow = NuGetVersionRow & { versionId: number };

/** How stale the download counts in cached version rows may get. */
const ROWS_TTL_MS = 10_000;

/** The shared look-ups and writes of one Wharf's NuGet sources. */
export class NuGetFeed implements NuGetContext {
  readonly spool: string;
  /** The packages each reader may see, for the current change generation (search lists every one of them). */
  private readonly readable: GenerationCache<PackageRow[]>;
  private readonly rows = new Map<number, { revision: number; at: number; rows: NuGetRow[]; visible: Map<string, NuGetVersionRow[]> }>();
  readonly spoolBody = spoolBody;
  readonly multipartRange = multipartRange;
  constructor(readonly core: Core) {
    this.spool = path.join(core.config.dataDir, 'tmp', 'nuget');
    this.readable = new GenerationCache(core.changes, 1000);
  }

  /** The URLs of `owner`'s source as this request reaches it. */
  urls(req: FastifyRequest, owner: Owner): Urls {
    return new Urls(`${baseUrlOf(this.core, req)}/nuget/${owner.name}`);
  }

  async ownerOf(name: string): Promise<Owner> {
    const owner = await this.core.identity.findOwner(name);
    if (!owner) throw notFound(`no user or organization named "${name}"`);
    return owner;
  }

  /**
   * What an actor is told about something it cannot see: NotFound, but an anonymous client of a source with
   * non-public packages gets a challenge (NuGet sends credentials only after a 401), whether or not the thing
   * exists. A source of public packages only answers 404, as a restore over several sources needs.
   */
  async hidden(actor: Actor, owner: Owner, message: string): Promise<WharfError> {
    if (actor.kind === 'anonymous' && (await this.core.authz.hasNonPublic(owner.id, TYPE))) return unauthorized('this NuGet source needs credentials');
    return notFound(message);
  }

  /** The package, if the actor may `action` on it; what it may not read looks missing (see `hidden`). */
  async loadPackage(actor: Actor, owner: Owner, id: string, action: Action): Promise<PackageRow> {
    const HIDDEN = notFound(`package ${id} not found`);
    try {
      return await this.core.authz.authorizeFound(actor, action, await this.core.packages.find(owner.name, TYPE, id), () => HIDDEN);
    } catch (e) {
      throw e === HIDDEN ? await this.hidden(actor, owner, HIDDEN.message) : e;
    }
  }

  /**
   * Every live version with its metadata and downloads. Kept per package revision (a push, unlist or delete
   * bumps it, on any node), with download counts at most ROWS_TTL_MS old: flat container, registration and
   * search documents are all built from these rows, for every package a search covers.
   */
  async versionRows(pkg: PackageRow): Promise<NuGetRow[]> {
    const hit = this.rows.get(pkg.id);
    if (hit && hit.revision === pkg.revision && Date.now() - hit.at < ROWS_TTL_MS) return hit.rows;
    const [vs, downloads] = await Promise.all([this.core.packages.versions(pkg.id), this.core.packages.downloadsByVersion(pkg.id)]);
    const rows = vs.map((v) => ({ versionId: v.id, meta: JSON.parse(v.metadata) as NuGetVersionMeta, createdAt: v.created_at, downloads: downloads.get(v.id) ?? 0 }));
    if (this.rows.size >= 10_000) this.rows.delete(this.rows.keys().next().value!);
    this.rows.set(pkg.id, { revision: pkg.revision, at: Date.now(), rows, visible: new Map() });
    return rows;
  }

  /** The versions search shows under `filter`, oldest first (kept with the rows: search covers every package). */
  async visibleRows(pkg: PackageRow, filter: SearchFilter): Promise<NuGetVersionRow[]> {
    const rows = await this.versionRows(pkg);
    const entry = this.rows.get(pkg.id);
    const key = `${filter.prerelease ? 1 : 0}${filter.semVer2 ? 1 : 0}`;
    if (entry?.rows !== rows) return visibleVersions(rows, filter);
    let vs = entry.visible.get(key);
    if (!vs) entry.visible.set(key, (vs = visibleVersions(rows, filter)));
    return vs;
  }

  /** The owner's NuGet packages the actor may read, by lower-cased id. */
  async readablePackages(actor: Actor, owner: Owner): Promise<PackageRow[]> {
    const who = accessKey(actor);
    const scoped = actor.kind === 'anonymous' || actor.scopes.has('read:packages') ? 1 : 0;
    return this.readable.get(`${owner.id}|${who}|${scoped}`, () => this.loadReadable(actor, owner));
  }

  private async loadReadable(actor: Actor, owner: Owner): Promise<PackageRow[]> {
    const all = await this.core.packages.listByOwner(owner.id, { type: TYPE, limit: 10_000, offset: 0 });
    const out: PackageRow[] = [];
    for (const p of all) if (await this.core.authz.canRead(actor, p)) out.push(p);
    return out.sort((a, b) => a.lower_name.localeCompare(b.lower_name));
  }

  /** NuGet clients send the API key in X-NuGet-ApiKey and no Authorization: the key is a Wharf token. */
  async writer(req: FastifyRequest): Promise<Actor> {
    if (req.actor.kind !== 'anonymous') return req.actor;
    const key = req.headers['x-nuget-apikey'];
    if (typeof key === 'string' && key) {
      const actor = await this.core.tokens.authenticate(key.trim());
      if (!actor) throw unauthorized('the API key is not a valid Wharf token');
      return actor;
    }
    throw unauthorized('pushing needs an API key: a Wharf token with the write:packages scope');
  }

  /**
   * Pushes the .nupkg in the request body (multipart with one part, as every NuGet client sends it, or the raw
   * bytes) to `ownerName`'s source. Authorizes on the owner before reading the body, then on the package once
   * its id is known; a version pushed before (even unlisted or deleted) is a Conflict.
   */
  async push(req: FastifyRequest, ownerName: string): Promise<{ id: string; version: string }> {
    const core = this.core;
    const actor = await this.writer(req);
    const owner = await this.ownerOf(ownerName);
    await core.authz.authorizePushUnder(actor, owner, TYPE);
    // Over the owner's storage quota, refused before the body is spooled (its length: the package and a multipart
    // envelope of a few hundred bytes).
    await core.publisher.checkQuota(owner.id, { bytes: Number(req.headers['content-length'] ?? 0) });
    const tmp = path.join(this.spool, `${randomUUID()}.upload`);
    try {
      const size = await spoolBody((req.body as Readable | undefined) ?? Readable.from([]), tmp, core.config.maxBlobSize + 64 * 1024);
      const ct = String(req.headers['content-type'] ?? '');
      const { start, end } = /^multipart\//i.test(ct) ? await multipartRange(tmp, size, ct) : { start: 0, end: size };
      if (end - start > core.config.maxBlobSize) throw tooLarge(`the package is larger than ${core.config.maxBlobSize} bytes`);
      const facts = await readNupkg(tmp, start, end - start, { ...DEFAULT_NUPKG_LIMITS, ...core.config.inflation });
      // Which PDBs its assemblies name (and their checksums): what its symbol package may carry (symbols.ts).
      const assemblies = assemblyProperties(await assembliesOf(tmp, start, end - start, { ...DEFAULT_NUPKG_LIMITS, ...core.config.inflation }));
      const spec = facts.nuspec;
      const version = parseVersion(spec.version)!.normalized;
      const id = spec.id;

      const existing = await core.packages.find(owner.name, TYPE, id, { includeDeleted: true });
      const repo = await core.identity.repoForSourceUrl(owner.id, spec.repository?.url ?? spec.projectUrl ?? null);
      // Then on the package itself, now that its id is known.
      await core.authz.authorizePublish(actor, owner, existing, repo?.id ?? null);
      if (existing && (await core.packages.version(existing.id, version, { includeDeleted: true }))) throw conflict(`${id} ${version} already exists: a version cannot be pushed twice`);
      const name = existing?.name ?? id;

      const nupkg = await core.blobs.put(fs.createReadStream(tmp, { start, end: end - 1 }), { maxSize: core.config.maxBlobSize, extraDigests: ['sha512'] });
      const nuspecBlob = await core.blobs.putBytes(facts.nuspecXml, { maxSize: core.config.maxBlobSize });
      try {
        const meta = versionMeta(facts, { id: name, version, listed: true, blob: nupkg });
        const lid = name.toLowerCase();
        await core.publisher.createVersion({
          ownerId: owner.id, type: TYPE, name, version, metadata: meta,
          packageMetadata: parseVersion(version)!.release ? undefined : { description: spec.description, latest: version, readme: facts.readme },
          files: [
            { name: `${lid}.${version.toLowerCase()}.nupkg`, blob: nupkg, contentType: 'application/octet-stream', primary: true },
            { name: `${lid}.nuspec`, blob: nuspecBlob, contentType: 'application/xml' },
          ],
          properties: assemblies, repositoryId: repo?.id ?? null, actor,
        });
      } catch (e) {
        await nupkg.cancel();
        await nuspecBlob.cancel();
        if (e instanceof WharfError && e.kind === 'Conflict' && e.code === 'EPUBLISHCONFLICT') throw conflict(`${id} ${version} already exists: a version cannot be pushed twice`);
        throw e;
      }
      return { id: name, version };
    } finally {
      await fs.promises.rm(tmp, { force: true });
    }
  }

  /** Unlists (`listed` false: hidden from search and "latest", still installable by version) or relists a version. */
  async setListed(req: FastifyRequest, ownerName: string, id: string, version: string, listed: boolean): Promise<void> {
    const actor = await this.writer(req);
    const owner = await this.ownerOf(ownerName);
    checkId(id);
    const pkg = await this.loadPackage(actor, owner, id, 'delete');
    const v = parseVersion(version);
    const row = v && (await this.core.packages.version(pkg.id, v.normalized));
    if (!row) throw notFound(`${pkg.name} ${version} not found`);
    const meta = JSON.parse(row.metadata) as NuGetVersionMeta;
    if (meta.listed !== listed) await this.core.publisher.updateVersionMetadata(pkg.id, row.id, { ...meta, listed }, actor);
  }
}
