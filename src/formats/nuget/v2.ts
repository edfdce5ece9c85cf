// The NuGet v2 OData feed per owner at /nuget/OWNER/api/v2, for nuget.exe 2.x and PowerShellGet:
//   GET    /api/v2[/]                                   AtomPub service document
//   GET    /api/v2/$metadata                            EDMX (entity set Packages; Search, FindPackagesById, GetUpdates)
//   GET    /api/v2/Packages[()][/$count]                every version the actor may read
//   GET    /api/v2/Packages(Id='ID',Version='V')[/$value] one version (1.0, 1.0.0 and 1.0.0.0 are the same), or its .nupkg
//   GET    /api/v2/FindPackagesById()?id='ID'           every version of one package, unlisted included
//   GET    /api/v2/Search()?searchTerm=&targetFramework=&includePrerelease=   listed versions matching the terms
//   GET    /api/v2/GetUpdates()?packageIds=&versions=&includePrerelease=&includeAllVersions=&targetFrameworks=&versionConstraints=
//   GET    /api/v2/package/ID[/VERSION]                 download (no version: the latest listed)
//   PUT    /api/v2[/], /api/v2/package[/]               push (nuget.exe 2.x PUTs to the feed URL + '/')
//   DELETE /api/v2/ID/VERSION, /api/v2/package/ID/VERSION   unlist (X-NuGet-ApiKey)
// Collections take $filter, $orderby, $top, $skip and $inlinecount=allpages; at most 100 entries per response,
// with a `next` link to the rest. SemVer 2 versions are left out unless the client sends semVerLevel=2.0.0.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { invalid, notFound, unauthorized } from '../../core/errors.ts';
import type { PackageRow } from '../../core/model/packages.ts';
import type { Owner } from '../../db/tables.ts';
import { sendBlob } from '../../http/blob-reply.ts';
import { odataErrorHandler } from './errors.ts';
import { TYPE, type NuGetFeed, type NuGetRow } from './feed.ts';
import { entryDocument, entryValues, feedDocument, metadataDocument, serviceDocument, V2Urls, type V2Entry } from './v2-atom.ts';
import { boolParam, comparator, evaluate, parseCount, parseFilter, parseOrderBy, stringParam, type OrderBy } from './v2-odata.ts';
import { compareVersions, isPrerelease, parseVersion } from './versions.ts';

type Params = Record<string, string>;
type Query = Record<string, string | undefined>;
/** Entries per response; more come through the `next` link (OData server-driven paging). */
export const PAGE_SIZE = 100;

const KEY = /^Packages\(\s*Id\s*=\s*'((?:[^']|'')*)'\s*,\s*Version\s*=\s*'((?:[^']|'')*)'\s*\)(\/\$value)?$/;
const ATOM_FEED = 'application/atom+xml;type=feed;charset=utf-8';
const ATOM_ENTRY = 'application/atom+xml;type=entry;charset=utf-8';

/** Is `version` inside a NuGet range (`[1.0, 2.0)`, `1.0` = at least 1.0, '' = any)? */
function inRange(version: string, range: string): boolean {
  const r = range.trim();
  if (!r) return true;
  const m = /^([[(])\s*([^,\s]*)\s*(?:,\s*([^,\s]*)\s*)?([\])])$/.exec(r);
  if (!m) {
    const min = parseVersion(r);
    if (!min) throw invalid(`bad version constraint ${r.slice(0, 60)}`);
    return compareVersions(version, min.normalized) >= 0;
  }
  const [, open, lo, hi, close] = m;
  if (hi === undefined) return !!lo && compareVersions(version, lo) === 0; // [1.0] is exactly 1.0
  if (lo && (open === '[' ? compareVersions(version, lo) < 0 : compareVersions(version, lo) <= 0)) return false;
  if (hi && (close === ']' ? compareVersions(version, hi) > 0 : compareVersions(version, hi) >= 0)) return false;
  return true;
}

export async function nugetV2Routes(app: FastifyInstance, feed: NuGetFeed): Promise<void> {
  const core = feed.core;
  const v2urls = (req: FastifyRequest, owner: Owner, signIn: boolean) => new V2Urls(`${feed.urls(req, owner).base}${signIn ? '/auth' : ''}/api/v2`);

  // ---- reads ------------------------------------------------------------------------------------------------

  /** Every version of `pkg` the feed shows, lowest first, with IsLatestVersion / IsAbsoluteLatestVersion set. */
  async function entriesOf(pkg: PackageRow, semVer2: boolean): Promise<V2Entry[]> {
    const rows = (await feed.versionRows(pkg)).filter((r) => semVer2 || !r.meta.semVer2).sort((a, b) => compareVersions(a.meta.version, b.meta.version));
    const listed = rows.filter((r) => r.meta.listed);
    const absolute = listed.at(-1);
    const latest = listed.filter((r) => !isPrerelease(r.meta.version)).at(-1);
    const packageDownloads = rows.reduce((n, r) => n + r.downloads, 0);
    return rows.map((row) => ({ id: pkg.name, row, isLatest: row === latest, isAbsoluteLatest: row === absolute, packageDownloads }));
  }

  const wantsSemVer2 = (q: Query) => /^2/.test(q.semVerLevel ?? '');

  async function sendFile(reply: FastifyReply, pkg: PackageRow, row: NuGetRow) {
    const v = row.meta.version;
    const f = await core.packages.file(pkg.id, v, `${pkg.name.toLowerCase()}.${v.toLowerCase()}.nupkg`);
    if (!f) throw notFound(`${pkg.name} ${v} has no .nupkg`);
    core.downloads.record(f.version_id);
    reply.type('application/zip').header('content-disposition', `attachment; filename="${pkg.name}.${v}.nupkg"`).header('etag', `"${f.blob_digest}"`);
    // No S3 redirect: nuget 2.8.7's behaviour on a 307 is not tested (v3's NuGet.exe 5.8 follows it: routes.ts).
    return sendBlob(core, reply, { digest: f.blob_digest, size: f.size });
  }

  /** Answers a collection: $filter, $orderby, $inlinecount, /$count, $skip/$top, paged with a next link. */
  function collection(req: FastifyRequest, reply: FastifyReply, u: V2Urls, title: string, path: string, entries: V2Entry[], dflt: OrderBy[], countOnly: boolean) {
    const q = req.query as Query;
    const filter = q.$filter ? parseFilter(q.$filter) : undefined;
    const order = q.$orderby ? parseOrderBy(q.$orderby) : dflt;
    const top = parseCount('$top', q.$top);
    const skip = parseCount('$skip', q.$skip) ?? 0;
    if (q.$inlinecount !== undefined && q.$inlinecount !== 'allpages' && q.$inlinecount !== 'none') throw invalid('$inlinecount must be allpages or none');
    const rows = entries.map((e) => ({ e, v: entryValues(e) })).filter((x) => !filter || evaluate(filter, x.v) === true);
    const cmp = comparator(order);
    rows.sort((a, b) => cmp(a.v, b.v));
    reply.header('dataserviceversion', '2.0;');
    if (countOnly) return reply.type('text/plain;charset=utf-8').send(String(rows.length));
    const page = rows.slice(skip, skip + Math.min(top ?? PAGE_SIZE, PAGE_SIZE));
    let next: string | undefined;
    if (skip + page.length < rows.length && (top === undefined || top > page.length)) {
      const params = new URLSearchParams(req.raw.url!.split('?')[1] ?? '');
      params.set('$skip', String(skip + page.length));
      if (top !== undefined) params.set('$top', String(top - page.length));
      next = `${u.base}/${path}?${[...params].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}`;
    }
    return reply.type(ATOM_FEED).send(feedDocument(u, title, page.map((x) => x.e), { count: q.$inlinecount === 'allpages' ? rows.length : undefined, next }));
  }

  /** Does a Search() term list match? Every term (`id:x` or free text) must appear in the id, title, tags or description. */
  function matches(terms: string, e: V2Entry): boolean {
    const m = e.row.meta;
    return terms.toLowerCase().split(/\s+/).filter(Boolean).every((term) => {
      const i = term.indexOf(':');
      const [field, value] = i > 0 ? [term.slice(0, i), term.slice(i + 1)] : ['', term];
      if (field === 'id' || field === 'packageid') return e.id.toLowerCase().includes(value);
      return [e.id, m.title ?? '', m.description, m.tags.join(' ')].some((s) => s.toLowerCase().includes(value));
    });
  }

  /** The same feed twice: at api/v2 anyone may read what they may see; at auth/api/v2 every anonymous request is
   *  challenged. nuget.exe 2.x sends a source's credentials only after a 401 on the feed URL itself (its OData
   *  queries then reuse them), so a client that must sign in uses the second URL. */
  for (const { prefix, signIn } of [{ prefix: '/:owner/api/v2', signIn: false }, { prefix: '/:owner/auth/api/v2', signIn: true }]) {
    const challenge = async (req: FastifyRequest) => {
      if (signIn && req.actor.kind === 'anonymous' && !req.headers['x-nuget-apikey']) throw unauthorized('this feed URL needs credentials: a Wharf user name and token');
    };

    // Writes answer plain-text errors, as the v3 publish endpoint does (nuget.exe prints the status line).

    app.put(`${prefix}`, { onRequest: challenge }, pushed);
    async function pushed(req: FastifyRequest, reply: FastifyReply) {
      const { id, version } = await feed.push(req, (req.params as Params).owner);
      return reply.code(201).type('text/plain; charset=utf-8').send(`Pushed ${id} ${version}\n`);
    }
    app.delete(`${prefix}/:id/:version`, { onRequest: challenge }, unlisted);
    async function unlisted(req: FastifyRequest, reply: FastifyReply) {
      const p = req.params as Params;
      await feed.setListed(req, p.owner, p.id, p.version, false);
      return reply.code(204).send();
    }

    if (signIn) {
      app.put(`${prefix}/package`, { onRequest: challenge }, pushed);
      app.delete(`${prefix}/package/:id/:version`, { onRequest: challenge }, unlisted);
    }

    await app.register(async (odata) => {
      odata.setErrorHandler(odataErrorHandler);
      odata.addHook('onRequest', challenge);

      odata.get(`${prefix}`, async (req, reply) => {
        const owner = await feed.ownerOf((req.params as Params).owner);
        return reply.type('application/atomsvc+xml;charset=utf-8').header('dataserviceversion', '1.0;').send(serviceDocument(v2urls(req, owner, signIn)));
      });

      odata.get(`${prefix}/package/:id/:version`, async (req, reply) => {
        const p = req.params as Params;
        const pkg = await feed.loadPackage(req.actor, await feed.ownerOf(p.owner), p.id, 'read');
        const v = parseVersion(p.version);
        const row = v && (await feed.versionRows(pkg)).find((r) => r.meta.version.toLowerCase() === v.normalized.toLowerCase());
        if (!row) throw notFound(`${pkg.name} ${p.version} not found`);
        return sendFile(reply, pkg, row);
      });

      odata.get(`${prefix}/package/:id`, async (req, reply) => {
        const p = req.params as Params;
        const pkg = await feed.loadPackage(req.actor, await feed.ownerOf(p.owner), p.id, 'read');
        const entries = await entriesOf(pkg, true);
        const latest = entries.find((e) => e.isLatest) ?? entries.find((e) => e.isAbsoluteLatest);
        if (!latest) throw notFound(`${pkg.name} has no listed version`);
        return sendFile(reply, pkg, latest.row);
      });

      odata.get(`${prefix}/*`, async (req, reply) => {
        const owner = await feed.ownerOf((req.params as Params).owner);
        const u = v2urls(req, owner, signIn);
        const q = req.query as Query;
        const rawPath = req.raw.url!.split('?')[0];
        let rest: string;
        try {
          rest = decodeURIComponent(rawPath.slice(rawPath.indexOf('/api/v2/') + '/api/v2/'.length)).replace(/\/+$/, '');
        } catch {
          throw invalid('the path is not valid percent-encoding');
        }
        if (rest === '$metadata') return reply.type('application/xml;charset=utf-8').header('dataserviceversion', '1.0;').send(metadataDocument());

        const key = KEY.exec(rest);
        if (key) {
          const [id, version] = [key[1].replace(/''/g, "'"), key[2].replace(/''/g, "'")];
          const pkg = await feed.loadPackage(req.actor, owner, id, 'read');
          const v = parseVersion(version);
          const entry = v && (await entriesOf(pkg, true)).find((e) => e.row.meta.version.toLowerCase() === v.normalized.toLowerCase());
          if (!entry) throw notFound(`${pkg.name} ${version} not found`);
          if (key[3]) return sendFile(reply, pkg, entry.row);
          return reply.type(ATOM_ENTRY).header('dataserviceversion', '2.0;').send(entryDocument(u, entry));
        }

        const m = /^(Packages|FindPackagesById|Search|GetUpdates)(\(\))?(\/\$count)?$/.exec(rest);
        if (!m || (m[1] !== 'Packages' && !m[2])) throw notFound(`${rest.slice(0, 100)} is not part of this feed`);
        const [fn, path, countOnly] = [m[1], `${m[1]}${m[2] ?? ''}`, !!m[3]];
        const semVer2 = wantsSemVer2(q);
        const byIdThenVersion: OrderBy[] = [{ prop: 'Id', desc: false }, { prop: 'Version', desc: false }];

        if (fn === 'FindPackagesById') {
          const id = stringParam(q.id);
          if (!id) throw invalid("FindPackagesById needs id='ID'");
          const pkg = await core.packages.find(owner.name, TYPE, id);
          let entries: V2Entry[] = [];
          if (pkg && (await core.authz.canRead(req.actor, pkg))) entries = await entriesOf(pkg, semVer2);
          // A package the client may not see looks missing; an anonymous client is challenged for credentials.
          else if (req.actor.kind === 'anonymous') throw unauthorized('this NuGet source needs credentials');
          return collection(req, reply, u, fn, path, entries, byIdThenVersion, countOnly);
        }

        const packages = await feed.readablePackages(req.actor, owner);
        if (fn === 'Packages') {
          const entries = (await Promise.all(packages.map((p) => entriesOf(p, semVer2)))).flat();
          return collection(req, reply, u, fn, path, entries, byIdThenVersion, countOnly);
        }

        if (fn === 'Search') {
          const terms = stringParam(q.searchTerm) ?? '';
          stringParam(q.targetFramework); // accepted; every version is offered whatever its frameworks
          const prerelease = boolParam('includePrerelease', q.includePrerelease, false);
          const entries = (await Promise.all(packages.map((p) => entriesOf(p, semVer2))))
            .flat()
            .filter((e) => e.row.meta.listed && (prerelease || !isPrerelease(e.row.meta.version)) && matches(terms, e));
          return collection(req, reply, u, fn, path, entries, byIdThenVersion, countOnly);
        }

        // GetUpdates: for each packageIds[i] at versions[i], the newer listed versions (only the newest unless
        // includeAllVersions), within versionConstraints[i] when given.
        const ids = (stringParam(q.packageIds) ?? '').split('|').filter(Boolean);
        const versions = (stringParam(q.versions) ?? '').split('|').filter(Boolean);
        const constraints = (stringParam(q.versionConstraints) ?? '').split('|');
        if (ids.length !== versions.length) throw invalid('GetUpdates needs as many versions as packageIds');
        if (ids.length > 1000) throw invalid('GetUpdates takes at most 1000 packages');
        const prerelease = boolParam('includePrerelease', q.includePrerelease, false);
        const all = boolParam('includeAllVersions', q.includeAllVersions, false);
        const found: V2Entry[] = [];
        for (let i = 0; i < ids.length; i++) {
          const current = parseVersion(versions[i]);
          if (!current) throw invalid(`"${versions[i].slice(0, 60)}" is not a NuGet version`);
          const pkg = packages.find((p) => p.lower_name === ids[i].toLowerCase());
          if (!pkg) continue;
          const newer = (await entriesOf(pkg, semVer2)).filter(
            (e) => e.row.meta.listed && (prerelease || !isPrerelease(e.row.meta.version)) && compareVersions(e.row.meta.version, current.normalized) > 0 && inRange(e.row.meta.version, constraints[i] ?? ''),
          );
          found.push(...(all ? newer : newer.slice(-1)));
        }
        return collection(req, reply, u, fn, path, found, byIdThenVersion, countOnly);
      });
    });
  }
}
