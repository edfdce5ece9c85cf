// Registration hives under /nuget/OWNER/v3 (NuGet's "package metadata" resource), as nuget.org lays them out:
//   registration/ID/index.json, /ID/VERSION.json, /ID/page/LOWER/UPPER.json            SemVer 2.0.0 versions excluded
//   registration-semver2/ID/index.json, ...                                               SemVer 2.0.0 versions included
// The legacy RegistrationsBaseUrl variants (plain, 3.0.0-beta, 3.0.0-rc, 3.4.0) name the first hive, 3.6.0 and
// Versioned the second. Leaves are split into pages of 64 versions (lowest first); a package with up to 128
// versions has its pages inlined in the index, beyond that the index links each page (@id, count, lower, upper,
// no items) and the page is its own document. A version is SemVer 2.0.0 when its version is, or when a
// dependency's range names a SemVer 2.0.0 version (nuget.org's rule).
import type { FastifyInstance } from 'fastify';
import type { Core } from '../../core/core.ts';
import { notFound } from '../../core/errors.ts';
import { TYPE, type NuGetContext, type Params } from './context.ts';
import { registrationItem, registrationLeaf, sortVersions, type NuGetVersionRow, type Urls } from './documents.ts';
import type { NuGetProxy } from './proxy.ts';
import { compareVersions, isSemVer2, parseVersion } from './versions.ts';

export const PAGE_SIZE = 64;
export const MAX_INLINED = 128;

/** Is this a SemVer 2.0.0 package version (hidden from the legacy hive)? */
export function isSemVer2Version(v: NuGetVersionRow): boolean {
  if (v.meta.semVer2) return true;
  return v.meta.dependencyGroups.some((g) => g.dependencies.some((d) => d.range.split(/[[\](),\s]+/).some((b) => b !== '' && isSemVer2(b))));
}

/** The versions a hive shows, lowest first. */
export function hiveVersions(u: Urls, versions: NuGetVersionRow[]): NuGetVersionRow[] {
  return sortVersions(u.hive === 'registration-semver2' ? versions : versions.filter((v) => !isSemVer2Version(v)));
}

const lowerOf = (vs: NuGetVersionRow[]) => vs[0].meta.version.toLowerCase();
const upperOf = (vs: NuGetVersionRow[]) => vs.at(-1)!.meta.version.toLowerCase();
const pageUrl = (u: Urls, id: string, vs: NuGetVersionRow[]) => `${u.registration}${id.toLowerCase()}/page/${lowerOf(vs)}/${upperOf(vs)}.json`;

/** A page with its leaves (inlined in the index, or a page document of its own). */
function page(u: Urls, id: string, vs: NuGetVersionRow[], atId: string) {
  return { '@id': atId, '@type': 'catalog:CatalogPage', count: vs.length, lower: lowerOf(vs), upper: upperOf(vs), parent: u.regIndex(id), items: vs.map((v) => registrationItem(u, id, v)) };
}

/** The registration index: pages of PAGE_SIZE versions, inlined up to MAX_INLINED versions, else linked. */
export function registrationIndex(u: Urls, id: string, versions: NuGetVersionRow[]) {
  const vs = hiveVersions(u, versions);
  const pages: NuGetVersionRow[][] = [];
  for (let i = 0; i < vs.length; i += PAGE_SIZE) pages.push(vs.slice(i, i + PAGE_SIZE));
  const inline = vs.length <= MAX_INLINED;
  return {
    '@id': u.regIndex(id),
    '@type': ['catalog:CatalogRoot', 'PackageRegistration', 'catalog:Permalink'],
    count: pages.length,
    items: pages.map((p) =>
      inline
        ? page(u, id, p, `${u.regIndex(id)}#page/${lowerOf(p)}/${upperOf(p)}`)
        : { '@id': pageUrl(u, id, p), '@type': 'catalog:CatalogPage', count: p.length, lower: lowerOf(p), upper: upperOf(p) },
    ),
  };
}

/** A linked page: the hive's versions from `lower` to `upper` (inclusive), or null when none is there. */
export function registrationPage(u: Urls, id: string, versions: NuGetVersionRow[], lower: string, upper: string) {
  const vs = hiveVersions(u, versions).filter((v) => compareVersions(v.meta.version, lower) >= 0 && compareVersions(v.meta.version, upper) <= 0);
  return vs.length ? { ...page(u, id, vs, `${u.registration}${id.toLowerCase()}/page/${lower.toLowerCase()}/${upper.toLowerCase()}.json`) } : null;
}

export function registrationRoutes(app: FastifyInstance, core: Core, ctx: NuGetContext, proxy?: NuGetProxy): void {
  for (const hive of ['registration', 'registration-semver2'] as const) {
    /** The package's rows: a proxy's from its upstream's registration (with Wharf's URLs), else the model's. */
    const load = async (params: Params, req: import('fastify').FastifyRequest): Promise<{ pkg: { name: string }; u: ReturnType<NuGetContext['urls']>; rows: NuGetVersionRow[] }> => {
      const owner = await ctx.ownerOf(params.owner);
      const proxied = await proxy?.proxyOf(params.owner);
      if (proxied) {
        const { name, entries } = await proxy!.entries(req.actor, proxied, params.id);
        return { pkg: { name }, u: ctx.urls(req, owner).inHive(hive), rows: entries.map((e) => e.row) };
      }
      const pkg = await ctx.loadPackage(req.actor, owner, params.id, 'read');
      return { pkg, u: ctx.urls(req, owner).inHive(hive), rows: await ctx.versionRows(pkg) };
    };

    app.get(`/:owner/v3/${hive}/:id/:doc`, async (req) => {
      const p = req.params as Params;
      const { pkg, u, rows } = await load(p, req);
      if (p.doc === 'index.json') {
        const idx = registrationIndex(u, pkg.name, rows);
        if (!idx.count) throw notFound(`${pkg.name} has no version in this registration hive`);
        return idx;
      }
      if (!p.doc.endsWith('.json')) throw notFound(`${p.doc} not found`);
      const v = parseVersion(p.doc.slice(0, -5));
      const row = v && hiveVersions(u, rows).find((r) => r.meta.version.toLowerCase() === v.normalized.toLowerCase());
      if (!row) throw notFound(`version ${p.doc.slice(0, -5)} not found`);
      return registrationLeaf(u, pkg.name, row);
    });

    app.get(`/:owner/v3/${hive}/:id/page/:lower/:upper`, async (req) => {
      const p = req.params as Params;
      const { pkg, u, rows } = await load(p, req);
      const lower = parseVersion(p.lower);
      const upper = p.upper.endsWith('.json') ? parseVersion(p.upper.slice(0, -5)) : null;
      const doc = lower && upper && registrationPage(u, pkg.name, rows, lower.normalized, upper.normalized);
      if (!doc) throw notFound(`page ${p.lower}/${p.upper} not found`);
      return doc;
    });
  }
}
