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
// and the v2 OData feed for older clients under /api/v2 (v2.ts). Push and unlist are shared (feed.ts).
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Core } from '../../core/core.ts';
import { notFound } from '../../core/errors.ts';
import { refuseDeclaredLength } from '../../http/body.ts';
import { sendBlob } from '../../http/blob-reply.ts';
import { searchResult, serviceIndex, sortVersions, visibleVersions, type NuGetVersionMeta } from './documents.ts';
import { nugetErrorHandler } from './errors.ts';
import { NuGetFeed, TYPE } from './feed.ts';
import { NuGetProxy } from './proxy.ts';
import { registrationRoutes } from './registration.ts';
import { symbolRoutes } from './symbols.ts';
import { nugetV2Routes } from './v2.ts';
import { parseVersion } from './versions.ts';

type Params = Record<string, string>;

export async function nugetRoutes(app: FastifyInstance, core: Core): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
  app.setErrorHandler(nugetErrorHandler);
  // A push is a multipart body around the package: room for its headers.
  app.addHook('onRequest', refuseDeclaredLength(() => core.config.maxBlobSize + 64 * 1024));
  app.setNotFoundHandler((_req, reply) => reply.code(404).type('text/plain; charset=utf-8').send('not found\n'));
  // JSON documents (service index, version lists, registrations, search) get an ETag, and If-None-Match a 304:
  // a proxy in front (another Wharf's, a caching gateway) revalidates them without downloading them again.
  app.addHook('onSend', async (req, reply, payload) => {
    if (req.method !== 'GET' || reply.statusCode !== 200 || typeof payload !== 'string' || reply.hasHeader('etag')) return payload;
    const etag = `"${createHash('sha1').update(payload).digest('base64url')}"`;
    reply.header('etag', etag);
    if (req.headers['if-none-match'] !== etag) return payload;
    reply.code(304);
    return '';
  });
  const feed = new NuGetFeed(core);
  // A proxy's source (/nuget/PROXY/...) answers version lists and registrations from its upstream (proxy.ts); a
  // .nupkg, once fetched, is an ordinary file of the proxy's organization, served by the route below.
  const proxy = new NuGetProxy(core, feed.spool);
  const urls = feed.urls.bind(feed);
  const ownerOf = feed.ownerOf.bind(feed);
  const loadPackage = feed.loadPackage.bind(feed);
  const versionRows = feed.versionRows.bind(feed);
  const readablePackages = feed.readablePackages.bind(feed);

  app.get('/:owner/index.json', async (req) => serviceIndex(urls(req, await ownerOf((req.params as Params).owner))));

  // ---- flat container ---------------------------------------------------------------------------------------

  app.get('/:owner/v3/flat/:id/index.json', async (req) => {
    const p = req.params as Params;
    const proxied = await proxy.proxyOf(p.owner);
    if (proxied) return { versions: await proxy.versions(req.actor, proxied, p.id) };
    const owner = await ownerOf(p.owner);
    const pkg = await loadPackage(req.actor, owner, p.id, 'read');
    return { versions: sortVersions(await versionRows(pkg)).map((v) => v.meta.version.toLowerCase()) };
  });

  app.get('/:owner/v3/flat/:id/:version/:file', async (req, reply) => {
    const p = req.params as Params;
    const proxied = await proxy.proxyOf(p.owner);
    if (proxied && p.file.toLowerCase().endsWith('.nupkg')) await proxy.ensureNupkg(req.actor, proxied, p.id, p.version);
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
    reply.type(isNupkg ? 'application/octet-stream' : 'application/xml').header('etag', `"${f.blob_digest}"`).header('cache-control', 'private, max-age=31536000, immutable');
    return sendBlob(core, reply, { digest: f.blob_digest, size: f.size }, { redirect: true });
  });

  // ---- search -----------------------------------------------------------------------------------------------

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
      const vs = await feed.visibleRows(pkg, filter);
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
      if (pkg.lower_name.includes(q) && (await feed.visibleRows(pkg, filter)).length) ids.push(pkg.name);
    }
    return { totalHits: ids.length, data: ids.slice(skip, skip + take) };
  });

  // ---- push, unlist, relist ---------------------------------------------------------------------------------

  app.put('/:owner/api/v2/package', async (req, reply) => {
    const { id, version } = await feed.push(req, (req.params as Params).owner);
    return reply.code(201).type('text/plain; charset=utf-8').send(`Pushed ${id} ${version}\n`);
  });
  app.delete('/:owner/api/v2/package/:id/:version', async (req, reply) => {
    const p = req.params as Params;
    await feed.setListed(req, p.owner, p.id, p.version, false);
    return reply.code(204).send();
  });
  app.post('/:owner/api/v2/package/:id/:version', async (req, reply) => {
    const p = req.params as Params;
    await feed.setListed(req, p.owner, p.id, p.version, true);
    return reply.code(200).send();
  });

  symbolRoutes(app, core, feed);
  registrationRoutes(app, core, feed, proxy);
  await nugetV2Routes(app, feed);
}
