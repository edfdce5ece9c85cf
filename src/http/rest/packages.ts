// GitHub's packages API, for users and orgs: list, get, settings, access, delete/restore packages and versions.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { packageDownloadTotals } from '../../core/model/downloads.ts';
import type { Core } from '../../core/core.ts';
import { invalid, notFound } from '../../core/errors.ts';
import { checkRole, checkVisibility } from '../../core/identity/identity.ts';
import type { PackageRow } from '../../core/model/packages.ts';
import { packageSettings } from '../../core/package-settings.ts';
import { PUBLISHED_VIA } from '../../core/auth/trusted-publishers.ts';
import type { Owner } from '../../db/tables.ts';
import { formatOf } from '../../formats/index.ts';
import { baseUrlOf } from '../actor.ts';
import { bodyObject, idParam, packageJson, pageOf, requireUser, sendPage, str, versionJson } from './common.ts';

type P = Record<string, string>;
type Kind = 'users' | 'orgs' | 'user';

export async function packageRoutes(app: FastifyInstance, core: Core): Promise<void> {
  const settings = packageSettings(core);

  async function ownerFor(req: FastifyRequest, kind: Kind): Promise<Owner> {
    const p = req.params as P;
    if (kind === 'user') {
      const a = requireUser(req.actor);
      return core.identity.requireUser(a.user.name);
    }
    const owner = await core.identity.findOwner(p.owner);
    if (!owner || (kind === 'users' && owner.kind !== 'user') || (kind === 'orgs' && owner.kind !== 'org')) throw notFound();
    return owner;
  }

  /** The package named by the URL, if the actor may read it (404 otherwise, as GitHub does). */
  async function packageFor(req: FastifyRequest, kind: Kind, opts: { includeDeleted?: boolean } = {}): Promise<PackageRow> {
    const owner = await ownerFor(req, kind);
    const p = req.params as P;
    if (!formatOf(p.type)) throw notFound(`unknown package type "${p.type}"`);
    const pkg = await core.packages.find(owner.name, p.type, p.name, opts);
    if (!pkg) throw notFound('Package not found.');
    if (!(await core.authz.canRead(req.actor, pkg))) throw notFound('Package not found.');
    return pkg;
  }

  async function describe(req: FastifyRequest, pkg: PackageRow) {
    const [versions, totals] = await Promise.all([core.packages.versions(pkg.id), packageDownloadTotals(core, [pkg.id])]);
    const total = totals.get(pkg.id) ?? 0;
    // The latest recorded at publish may since have been deleted: never offer a version that does not install.
    let latest = (JSON.parse(pkg.metadata) as { latest?: string }).latest;
    if (latest !== undefined && !versions.some((v) => v.version === latest)) {
      const tag = (await core.packages.tags(pkg.id)).find((t) => t.name === 'latest');
      latest = tag?.version ?? versions.at(-1)?.version;
    }
    return packageJson(core, pkg, baseUrlOf(core, req), { versionCount: versions.length, downloads: total, latest: latest ?? null });
  }

  // Owners: /users/:owner, /orgs/:owner, and /user (the signed-in user).
  const prefixes: [string, Kind][] = [['/users/:owner', 'users'], ['/orgs/:owner', 'orgs'], ['/user', 'user']];
  for (const [pre, kind] of prefixes) {
    app.get(`${pre}/packages`, async (req, reply) => {
      const owner = await ownerFor(req, kind);
      const q = req.query as P;
      if (q.package_type && !formatOf(q.package_type)) throw invalid(`unknown package_type "${q.package_type}"`);
      if (q.visibility) checkVisibility(q.visibility);
      const p = pageOf(req);
      const all = await core.packages.listByOwner(owner.id, { type: q.package_type, limit: 100_000, offset: 0 });
      const visible: PackageRow[] = [];
      for (const pkg of all) {
        if (!(await core.authz.canRead(req.actor, pkg))) continue;
        if (q.visibility && (await core.authz.effectiveVisibility(pkg)) !== q.visibility) continue;
        visible.push(pkg);
      }
      const slice = visible.slice(p.offset, p.offset + p.limit);
      const rows = await Promise.all(slice.map((pkg) => describe(req, pkg)));
      return sendPage(req, reply, core, rows, p);
    });

    const one = `${pre}/packages/:type/:name`;
    app.get(one, async (req) => describe(req, await packageFor(req, kind)));

    // Settings: visibility, linked repository, access inheritance (admin on the package).
    app.patch(one, async (req) => {
      const pkg = await packageFor(req, kind);
      await core.authz.authorize(req.actor, 'admin', pkg);
      const b = bodyObject(req.body);
      await settings.update(pkg, {
        visibility: b.visibility !== undefined ? checkVisibility(str(b.visibility, 'visibility')) : undefined,
        repository: b.repository === undefined ? undefined : b.repository === null ? null : str(b.repository, 'repository'),
        inheritAccess: b.inherit_access === undefined ? undefined : !!b.inherit_access,
      }, req.actor);
      return describe(req, (await core.packages.byId(pkg.id))!);
    });

    app.delete(one, async (req, reply) => {
      const pkg = await packageFor(req, kind);
      await core.authz.authorize(req.actor, 'delete', pkg);
      await core.publisher.deletePackage(pkg.id, req.actor);
      return reply.code(204).send();
    });

    app.post(`${one}/restore`, async (req, reply) => {
      const pkg = await packageFor(req, kind, { includeDeleted: true });
      if (!pkg.deleted_at) throw notFound('the package is not deleted');
      await core.authz.authorize(req.actor, 'delete', pkg);
      await core.publisher.restorePackage(pkg.id, req.actor);
      return reply.code(204).send();
    });

    app.get(`${one}/versions`, async (req, reply) => {
      const pkg = await packageFor(req, kind);
      const state = (req.query as P).state ?? 'active';
      if (state !== 'active' && state !== 'deleted') throw invalid('state must be active or deleted');
      if (state === 'deleted') await core.authz.authorize(req.actor, 'delete', pkg);
      const p = pageOf(req);
      const [all, downloads, tags] = await Promise.all([core.packages.versions(pkg.id, { includeDeleted: true }), core.packages.downloadsByVersion(pkg.id), core.packages.tags(pkg.id)]);
      const list = all.filter((v) => (state === 'deleted' ? v.deleted_at : !v.deleted_at)).reverse();
      const base = baseUrlOf(core, req);
      const page = list.slice(p.offset, p.offset + p.limit);
      const via = await core.packages.versionProperty(page.map((v) => v.id), PUBLISHED_VIA);
      const rows = page.map((v) => ({
        ...versionJson(pkg, v, base, (downloads.get(v.id) ?? 0) + core.downloads.pendingFor(v.id), tags.filter((t) => t.version_id === v.id).map((t) => t.name)),
        published_via: via.has(v.id) ? JSON.parse(via.get(v.id)!) : null,
      }));
      return sendPage(req, reply, core, rows, p);
    });

    const oneVersion = `${one}/versions/:id`;
    const versionFor = async (req: FastifyRequest, pkg: PackageRow) => {
      const v = await core.packages.versionById(idParam((req.params as P).id));
      if (!v || v.package_id !== pkg.id) throw notFound('Version not found.');
      return v;
    };
    app.get(oneVersion, async (req) => {
      const pkg = await packageFor(req, kind);
      const v = await versionFor(req, pkg);
      if (v.deleted_at) await core.authz.authorize(req.actor, 'delete', pkg);
      const [downloads, tags, files] = await Promise.all([core.packages.downloadsByVersion(pkg.id), core.packages.tags(pkg.id), core.packages.files(v.id)]);
      const json = versionJson(pkg, v, baseUrlOf(core, req), (downloads.get(v.id) ?? 0) + core.downloads.pendingFor(v.id), tags.filter((t) => t.version_id === v.id).map((t) => t.name));
      const facts = (await formatOf(pkg.type)?.versionFacts?.(core, pkg, v)) ?? {};
      for (const [k, val] of Object.entries(facts)) {
        const cur = (json.metadata as Record<string, unknown>)[k];
        (json.metadata as Record<string, unknown>)[k] = cur && typeof cur === 'object' && val && typeof val === 'object' ? { ...cur, ...val } : val;
      }
      // A trusted publisher's workflow run (as npmjs shows "published via GitHub Actions"); null otherwise.
      const via = (await core.packages.versionProperty([v.id], PUBLISHED_VIA)).get(v.id);
      const promotions = (await core.promotions.list(v.id)).map((p) => ({ target: p.target, url: p.url, promoted_by: p.actor, created_at: p.created_at }));
      return { ...json, published_via: via ? JSON.parse(via) : null, files: files.map((f) => ({ name: f.name, size: f.size, digest: f.blob_digest, content_type: f.content_type })), promotions };
    });
    app.delete(oneVersion, async (req, reply) => {
      const pkg = await packageFor(req, kind);
      await core.authz.authorize(req.actor, 'delete', pkg);
      const v = await versionFor(req, pkg);
      await core.publisher.deleteVersion(pkg.id, v.id, req.actor);
      return reply.code(204).send();
    });
    app.post(`${oneVersion}/restore`, async (req, reply) => {
      const pkg = await packageFor(req, kind);
      await core.authz.authorize(req.actor, 'delete', pkg);
      const v = await versionFor(req, pkg);
      await core.publisher.restoreVersion(pkg.id, v.id, req.actor);
      return reply.code(204).send();
    });

    // Granular access (used when the package does not inherit from its repository).
    app.get(`${one}/access`, async (req) => {
      const pkg = await packageFor(req, kind);
      await core.authz.authorize(req.actor, 'admin', pkg);
      const rows = await core.packages.access(pkg.id);
      return {
        inherit_access: pkg.inherit_access === 1 && pkg.repository_id != null,
        users: rows.filter((r) => r.user_name).map((r) => ({ login: r.user_name, role: r.role })),
        repositories: rows.filter((r) => r.repository).map((r) => ({ full_name: r.repository, role: r.role })),
      };
    });
    const grant = async (req: FastifyRequest, who: string) => {
      const pkg = await packageFor(req, kind);
      const role = checkRole(str(bodyObject(req.body).role, 'role'));
      await settings.grant(pkg, who, role, req.actor);
      return { grantee: who, role };
    };
    const revoke = async (req: FastifyRequest, who: string) => {
      const pkg = await packageFor(req, kind);
      await settings.revoke(pkg, who, req.actor);
    };
    app.put(`${one}/access/users/:user`, (req) => grant(req, (req.params as P).user));
    app.put(`${one}/access/repos/:repoOwner/:repo`, (req) => grant(req, `${(req.params as P).repoOwner}/${(req.params as P).repo}`));
    app.delete(`${one}/access/users/:user`, async (req, reply) => {
      await revoke(req, (req.params as P).user);
      return reply.code(204).send();
    });
    app.delete(`${one}/access/repos/:repoOwner/:repo`, async (req, reply) => {
      await revoke(req, `${(req.params as P).repoOwner}/${(req.params as P).repo}`);
      return reply.code(204).send();
    });

    // Daily downloads, for charts (GitHub shows these only on web pages).
    app.get(`${one}/downloads`, async (req) => {
      const pkg = await packageFor(req, kind);
      const days = Math.min(365, Math.max(1, Number((req.query as P).days ?? 30) || 30));
      return { days, downloads: await core.packages.downloadsByDay(pkg.id, days) };
    });
  }
}
