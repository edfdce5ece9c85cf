// A RubyGems source per owner under /rubygems/OWNER, as gem (RubyGems 3.3) and Bundler (2.3) speak it:
//   POST   /api/v1/gems                    push (raw .gem body; `Authorization: <token>` verbatim)
//   DELETE /api/v1/gems/yank               yank (form: gem_name, version, platform)
//   POST   /api/v1/api_key                 gem signin (Basic user:password → a token)
//   GET    /api/v1/gems/NAME.json, /api/v1/versions/NAME.json, /api/v1/versions/NAME/latest.json
//   GET    /versions, /info/NAME, /names   compact index (ETag = "MD5", Repr-Digest, Range)
//   GET    /api/v1/dependencies?gems=      dependency API (Marshal), and .json
//   GET    /specs.4.8.gz, /latest_specs.4.8.gz, /prerelease_specs.4.8.gz, /quick/Marshal.4.8/F.gemspec.rz
//   GET    /gems/NAME-VERSION[-PLATFORM].gem
// Nothing answers at the source root: `gem` switches to the compact index when `HEAD <source>/` is a 2xx.
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Actor } from '../../core/auth/actor.ts';
import type { Action } from '../../core/auth/authorize.ts';
import type { StagedBlob } from '../../core/blobs/blob-store.ts';
import type { Core } from '../../core/core.ts';
import { conflict, forbidden, invalid, notFound, unauthorized, WharfError } from '../../core/errors.ts';
import type { Owner } from '../../db/tables.ts';
import { baseUrlOf } from '../../http/actor.ts';
import { readSmallBody, refuseDeclaredLength } from '../../http/body.ts';
import { sendBlob } from '../../http/blob-reply.ts';
import {
  dependenciesList, dependenciesMarshal, gemJson, gemspecRz, latestOf, latestReleases, namesFile, specsIndex, versionsFile, versionsJson,
  type GemVersion, type GemVersionMeta,
} from './documents.ts';
import { rubygemsErrorHandler } from './errors.ts';
import { DEFAULT_GEM_LIMITS, GemInspector, type GemFacts } from './gem-archive.ts';
import { checkGemName, fullName, isPrerelease, versionKey } from './names.ts';
import { RubygemsProxy } from './proxy.ts';
import { GemSource, TYPE, type Doc, type GemPackage } from './source.ts';

type Params = Record<string, string>;

export async function rubygemsRoutes(app: FastifyInstance, core: Core): Promise<void> {
  const source = new GemSource(core);
  // A proxy's source (/rubygems/PROXY/...) answers the compact index from its upstream (proxy.ts); its gems, once
  // fetched, are ordinary gems of the proxy's organization and served by the routes below.
  const proxy = new RubygemsProxy(core);

  // Bodies stay streams: a pushed .gem is read while it is stored.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
  app.setErrorHandler(rubygemsErrorHandler);
  app.addHook('onRequest', refuseDeclaredLength(() => core.config.maxBlobSize));
  app.setNotFoundHandler((_req, reply) => reply.code(404).type('text/plain; charset=utf-8').send('not found\n'));

  async function ownerOf(name: string): Promise<Owner> {
    const owner = await core.identity.findOwner(name);
    if (!owner) throw notFound(`no user or organization named "${name}"`);
    return owner;
  }

  /** The gem, if the actor may `action` on it; what it may not read looks missing (anonymous: a challenge). */
  async function loadGem(actor: Actor, owner: Owner, name: string, action: Action): Promise<GemPackage> {
    const missing = () => (actor.kind === 'anonymous' ? unauthorized('this gem source needs credentials') : notFound(`gem ${name} not found`));
    return core.authz.authorizeFound(actor, action, await source.find(owner.id, name), missing);
  }

  /** Sends a document with the validators Bundler uses: ETag (MD5), Repr-Digest/Digest, If-None-Match, Range. */
  function sendDoc(req: FastifyRequest, reply: FastifyReply, doc: Doc, type: string) {
    reply
      .header('etag', doc.etag)
      .header('repr-digest', `sha-256=:${doc.sha256}:`)
      .header('digest', `SHA-256=${doc.sha256}`)
      .header('accept-ranges', 'bytes')
      .header('cache-control', 'private, max-age=0, must-revalidate')
      .type(type);
    const inm = req.headers['if-none-match'];
    if (inm && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === doc.etag || t.trim() === '*')) return reply.code(304).send();
    const range = req.headers.range;
    const size = doc.body.length;
    if (range) {
      const m = /^bytes=(\d+)-(\d*)$/.exec(range.trim());
      // A Range we do not understand (several ranges, suffix ranges) is ignored: the whole document is a valid answer.
      if (m) {
        const start = Number(m[1]);
        const end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
        if (start >= size || end < start) return reply.code(416).header('content-range', `bytes */${size}`).send();
        return reply.code(206).header('content-range', `bytes ${start}-${end}/${size}`).send(doc.body.subarray(start, end + 1));
      }
    }
    return reply.send(doc.body);
  }

  const releases = (vs: GemVersion[]) => vs.filter((v) => !isPrerelease(v.meta.version));
  const prereleases = (vs: GemVersion[]) => vs.filter((v) => isPrerelease(v.meta.version));

  // ---- the source root -------------------------------------------------------------------------------------

  // RubyGems (3.x) sends `HEAD <source>/` before resolving: a 2xx makes it resolve through the compact index
  // (`info/NAME`), anything else through the full index (specs.4.8.gz), whose platform handling in RubyGems 3.3
  // never matches a platform gem by name. Bundler asks for /versions directly.
  app.get('/:owner', async (req, reply) => {
    const owner = await ownerOf((req.params as Params).owner);
    return reply
      .type('text/plain; charset=utf-8')
      .send(`RubyGems source of ${owner.name}: compact index at versions, info/NAME and names; full index at specs.4.8.gz; push to api/v1/gems.\n`);
  });

  // ---- compact index ----------------------------------------------------------------------------------------

  app.get('/:owner/versions', async (req, reply) => {
    const proxied = await proxy.proxyOf((req.params as Params).owner);
    if (proxied) return sendDoc(req, reply, await proxy.versions(req.actor, proxied), 'text/plain; charset=utf-8');
    const owner = await ownerOf((req.params as Params).owner);
    const pkgs = await source.readable(req.actor, owner);
    const doc = await source.document('versions', owner, pkgs, (es) => versionsFile(owner.created_at, es.map((e) => e.line)));
    return sendDoc(req, reply, doc, 'text/plain; charset=utf-8');
  });

  app.get('/:owner/info/:name', async (req, reply) => {
    const p = req.params as Params;
    const proxied = await proxy.proxyOf(p.owner);
    if (proxied) return sendDoc(req, reply, await proxy.info(req.actor, proxied, p.name), 'text/plain; charset=utf-8');
    const owner = await ownerOf(p.owner);
    const pkg = await loadGem(req.actor, owner, p.name, 'read');
    const doc = await source.document(`info:${pkg.id}`, owner, [pkg], (es) => es[0].info);
    return sendDoc(req, reply, doc, 'text/plain; charset=utf-8');
  });

  app.get('/:owner/names', async (req, reply) => {
    const owner = await ownerOf((req.params as Params).owner);
    const pkgs = await source.readable(req.actor, owner);
    const doc = await source.document('names', owner, pkgs, (es) => namesFile(es.filter((e) => e.versions.length).map((e) => e.name)));
    return sendDoc(req, reply, doc, 'text/plain; charset=utf-8');
  });

  // ---- full index -------------------------------------------------------------------------------------------

  const fullIndex: [string, (vs: GemVersion[]) => GemVersion[]][] = [
    ['specs.4.8.gz', releases],
    ['latest_specs.4.8.gz', latestReleases],
    ['prerelease_specs.4.8.gz', prereleases],
  ];
  for (const [file, pick] of fullIndex) {
    app.get(`/:owner/${file}`, async (req, reply) => {
      const owner = await ownerOf((req.params as Params).owner);
      const pkgs = await source.readable(req.actor, owner);
      const doc = await source.document(file, owner, pkgs, (es) => specsIndex(pick(es.flatMap((e) => e.versions))));
      return sendDoc(req, reply, doc, 'application/octet-stream');
    });
  }

  /** The live .gem file of the owner with this exact name, with its gem and version. */
  async function findGemFile(owner: Owner, fileName: string) {
    // NAME-VERSION[-PLATFORM]: a version starts with a digit, so the gem's name is one of the prefixes that end
    // before a "-digit". Narrowing to those names lets the lookup go through the packages index instead of
    // probing every file of every gem of the owner.
    const lower = fileName.toLowerCase();
    const names = [...lower.matchAll(/-(?=[0-9])/g)].map((m) => lower.slice(0, m.index));
    if (!names.length) return undefined;
    return core.db
      .selectFrom('package_files')
      .innerJoin('package_versions', 'package_versions.id', 'package_files.version_id')
      .innerJoin('packages', 'packages.id', 'package_versions.package_id')
      .select(['package_files.version_id', 'package_files.blob_digest', 'package_files.size', 'package_versions.metadata', 'packages.name'])
      .where('packages.owner_id', '=', owner.id)
      .where('packages.type', '=', TYPE)
      .where('packages.lower_name', 'in', names)
      .where('packages.deleted_at', 'is', null)
      .where('package_versions.deleted_at', 'is', null)
      .where('package_files.lower_name', '=', lower)
      // One gem per file name (checkPlatform); a clash stored before that rule resolves to the first published.
      .orderBy('package_files.version_id')
      .executeTakeFirst();
  }

  async function gemFile(req: FastifyRequest, owner: Owner, fileName: string) {
    const f = await findGemFile(owner, fileName);
    // Authorize on the gem whatever the outcome, so a private gem's files look exactly like missing ones.
    const name = f?.name ?? fileName.replace(/-\d.*$/, '');
    await loadGem(req.actor, owner, name, 'read');
    if (!f) throw notFound(`${fileName} not found`);
    return f;
  }

  app.get('/:owner/quick/Marshal.4.8/:file', async (req, reply) => {
    const p = req.params as Params;
    if (!p.file.endsWith('.gemspec.rz')) throw notFound(`${p.file} not found`);
    const proxied = await proxy.proxyOf(p.owner);
    // gem asks for the gemspec before the gem: a proxy fetches the gem, and serves the gemspec it holds.
    if (proxied) await proxy.ensureGem(req.actor, proxied, `${p.file.slice(0, -'.gemspec.rz'.length)}.gem`);
    const owner = await ownerOf(p.owner);
    const f = await gemFile(req, owner, `${p.file.slice(0, -'.gemspec.rz'.length)}.gem`);
    return reply.type('application/octet-stream').header('cache-control', 'private, max-age=0').send(gemspecRz(f.name, JSON.parse(f.metadata) as GemVersionMeta));
  });

  app.get('/:owner/gems/:file', async (req, reply) => {
    const p = req.params as Params;
    if (!p.file.endsWith('.gem')) throw notFound(`${p.file} not found`);
    const proxied = await proxy.proxyOf(p.owner);
    if (proxied) await proxy.ensureGem(req.actor, proxied, p.file);
    const owner = await ownerOf(p.owner);
    const f = await gemFile(req, owner, p.file);
    core.downloads.record(f.version_id);
    reply.type('application/octet-stream').header('etag', `"${f.blob_digest}"`).header('cache-control', 'private, max-age=31536000, immutable');
    return sendBlob(core, reply, { digest: f.blob_digest, size: f.size }, { redirect: true });
  });

  // ---- dependency API ---------------------------------------------------------------------------------------

  async function dependencyVersions(req: FastifyRequest, owner: Owner): Promise<GemVersion[] | null> {
    const gems = String((req.query as Params).gems ?? '').split(',').map((g) => g.trim()).filter(Boolean);
    if (!gems.length) return null;
    if (gems.length > 200) throw invalid('too many gems requested (at most 200)');
    const wanted = new Set(gems.map((g) => g.toLowerCase()));
    const pkgs = (await source.readable(req.actor, owner)).filter((p) => wanted.has(p.name.toLowerCase()));
    return (await source.entriesOf(pkgs)).flatMap((e) => e.versions);
  }

  // Old Bundler probes `/api/v1/dependencies` without gems: a 200 says the API exists.
  app.get('/:owner/api/v1/dependencies', async (req, reply) => {
    const owner = await ownerOf((req.params as Params).owner);
    const vs = await dependencyVersions(req, owner);
    return reply.type('application/octet-stream').send(vs ? dependenciesMarshal(vs) : Buffer.alloc(0));
  });
  app.get('/:owner/api/v1/dependencies.json', async (req) => {
    const owner = await ownerOf((req.params as Params).owner);
    return dependenciesList((await dependencyVersions(req, owner)) ?? []);
  });

  // ---- JSON API ---------------------------------------------------------------------------------------------

  async function gemVersions(req: FastifyRequest, ownerName: string, name: string) {
    const owner = await ownerOf(ownerName);
    const pkg = await loadGem(req.actor, owner, name, 'read');
    const [entry] = await source.entriesOf([pkg]);
    const downloads = await core.packages.downloadsByVersion(pkg.id);
    const ids = await core.db.selectFrom('package_versions').select(['id', 'version']).where('package_id', '=', pkg.id).where('deleted_at', 'is', null).execute();
    const idOf = new Map(ids.map((r) => [r.version.toLowerCase(), r.id]));
    const versions = entry.versions.map((v) => ({ ...v, downloads: downloads.get(idOf.get(versionKey(v.meta.version, v.meta.platform).toLowerCase()) ?? -1) ?? 0 }));
    return { owner, pkg, versions, total: [...downloads.values()].reduce((a, b) => a + b, 0) };
  }

  const jsonName = (file: string) => {
    if (!file.endsWith('.json')) throw notFound(`${file} not found`);
    return file.slice(0, -5);
  };

  app.get('/:owner/api/v1/gems/:file', async (req) => {
    const p = req.params as Params;
    const { versions, total, owner } = await gemVersions(req, p.owner, jsonName(p.file));
    const latest = latestOf(versions);
    if (!latest) throw notFound(`gem ${p.file} has no versions`);
    const base = `${baseUrlOf(core, req)}/rubygems/${owner.name}`;
    return gemJson(latest, total, { project: `${baseUrlOf(core, req)}/${owner.name}/-/packages/rubygems/${latest.name}`, gem: `${base}/gems/${fullName(latest.name, latest.meta.version, latest.meta.platform)}.gem` });
  });

  app.get('/:owner/api/v1/versions/:file', async (req) => {
    const p = req.params as Params;
    return versionsJson((await gemVersions(req, p.owner, jsonName(p.file))).versions);
  });

  app.get('/:owner/api/v1/versions/:name/latest.json', async (req) => {
    const p = req.params as Params;
    const latest = latestOf((await gemVersions(req, p.owner, p.name)).versions);
    return { version: latest?.meta.version ?? 'unknown' };
  });

  // ---- push and yank ----------------------------------------------------------------------------------------

  /** Streams the .gem through the reader into the blob store; nothing stays in the store when it is refused. */
  async function storeGem(body: Readable): Promise<{ staged: StagedBlob; facts: GemFacts }> {
    const inspector = new GemInspector({ ...DEFAULT_GEM_LIMITS, ...core.config.inflation });
    body.on('error', (e) => inspector.destroy(e));
    body.pipe(inspector);
    const staged = await core.blobs.put(inspector, { maxSize: core.config.maxBlobSize });
    try {
      return { staged, facts: await inspector.facts };
    } catch (e) {
      await staged.cancel();
      throw e;
    }
  }

  /**
   * Refuses, before a byte of the body is read, an actor who could push no gem at all to `owner`: the gem's
   * name is inside the upload, so the full decision (authorize / authorizeCreate) comes once it is parsed.
   * Never stricter than that decision: whoever may create packages under the owner passes, and so does a user
   * granted write on one of the owner's gems or repositories (a linked gem inherits that role).
   */


  app.post('/:owner/api/v1/gems', async (req, reply) => {
    const actor = req.actor;
    if (actor.kind === 'anonymous') throw unauthorized('pushing a gem needs an API key: a Wharf token with the write:packages scope (GEM_HOST_API_KEY)');
    const owner = await ownerOf((req.params as Params).owner);
    // What can be decided from the owner alone is decided before reading the body.
    await core.authz.authorizePushUnder(actor, owner, TYPE);
    // Over the owner's storage quota, refused before the gem is stored (the body is the gem).
    await core.publisher.checkQuota(owner.id, { bytes: Number(req.headers['content-length'] ?? 0) });

    const { staged, facts } = await storeGem((req.body as Readable | undefined) ?? Readable.from([]));
    try {
      const spec = facts.spec;
      const key = versionKey(spec.version, spec.platform);
      const existing = await source.find(owner.id, spec.name, { includeDeleted: true });
      const repoUrl = spec.metadata.github_repo ?? spec.metadata.source_code_uri ?? null;
      const repo = await core.identity.repoForSourceUrl(owner.id, repoUrl);
      // Then on the gem itself, now that its name is known (a gem the actor cannot see is refused as a new one).
      await core.authz.authorizePublish(actor, owner, existing ? ({ ...existing, deleted_at: null } as GemPackage) : undefined, repo?.id ?? null);
      if (existing && existing.name !== spec.name) throw conflict(`the gem ${spec.name} would collide with ${existing.name}, which differs only by case`);
      if (existing && (await core.packages.version(existing.id, key, { includeDeleted: true }))) throw republished(spec.name, key);

      const { name: _n, ...rest } = spec;
      const metadata: GemVersionMeta = { ...rest, sha256: staged.digest.slice('sha256:'.length), size: staged.size };
      await core.publisher.createVersion({
        ownerId: owner.id, type: TYPE, name: spec.name, version: key, metadata,
        packageMetadata: isPrerelease(spec.version) ? undefined : { description: spec.summary, latest: spec.version },
        files: [{ name: `${fullName(spec.name, spec.version, spec.platform)}.gem`, blob: staged, contentType: 'application/octet-stream', primary: true }],
        repositoryId: repo?.id ?? null, actor,
      });
      return reply.code(200).type('text/plain; charset=utf-8').send(`Successfully registered gem: ${spec.name} (${key})\n`);
    } catch (e) {
      await staged.cancel();
      if (e instanceof WharfError && e.kind === 'Conflict' && e.code === 'EPUBLISHCONFLICT') throw republished(facts.spec.name, versionKey(facts.spec.version, facts.spec.platform));
      throw e;
    }
  });

  // gem signin: Basic user:password buys an API key (a personal token with the packages scopes), as
  // npm login does. A token is not exchanged for another one: that would let a narrow token widen its scopes.
  const apiKey = async (req: FastifyRequest, reply: FastifyReply) => {
    const actor = req.actor;
    if (actor.kind !== 'user') throw unauthorized('gem signin needs your Wharf user name and password');
    if (actor.tokenId !== null) throw forbidden('gem signin takes a password; a token is already an API key');
    const { token } = await core.tokens.createPersonal(actor, actor.user.name, { scopes: 'read:packages,write:packages,delete:packages', name: 'gem signin' });
    return reply.type('text/plain; charset=utf-8').send(token);
  };
  app.post('/:owner/api/v1/api_key', apiKey);
  app.get('/:owner/api/v1/api_key', apiKey);

  const republished = (name: string, key: string) =>
    conflict(`Repushing of gem versions is not allowed: ${name} (${key}) already exists. Please bump the version number and push a new gem.`);

  app.delete('/:owner/api/v1/gems/yank', async (req, reply) => {
    const actor = req.actor;
    if (actor.kind === 'anonymous') throw unauthorized('yanking a gem needs an API key: a Wharf token with the delete:packages scope');
    const owner = await ownerOf((req.params as Params).owner);
    const form = new URLSearchParams((await readSmallBody(req.body as Readable | undefined, 64 * 1024)).toString('utf8'));
    const q = req.query as Params;
    const field = (k: string) => form.get(k) ?? q[k] ?? '';
    const name = checkGemName(field('gem_name'));
    const version = field('version');
    if (!version) throw invalid('the version to yank is missing');
    const platform = field('platform') || 'ruby';
    const pkg = await loadGem(actor, owner, name, 'delete');
    const key = versionKey(version, platform);
    const v = await core.packages.version(pkg.id, key, { includeDeleted: true });
    if (!v) throw notFound(`The version ${key} of ${name} does not exist.`);
    if (v.deleted_at) throw notFound(`The version ${key} of ${name} has already been yanked.`);
    await core.publisher.deleteVersion(pkg.id, v.id, actor);
    return reply.type('text/plain; charset=utf-8').send(`Successfully deleted gem: ${pkg.name} (${key})\n`);
  });
}
