// Storage usage and quotas (core/usage.ts decides who sees and sets what). Under GitHub's billing paths, for those
// who manage the owner: GET /orgs/:org/settings/billing/packages, GET /users/:user/settings/billing/packages.
// Site admins set an owner's quota: GET/PUT/DELETE /admin/quotas/:owner, PUT {storage: "10GiB" | bytes | null,
// packages: n | null} (null: the instance default).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Core } from '../../core/core.ts';
import { invalid } from '../../core/errors.ts';
import { parseSize, type Quota, type UsageReport } from '../../core/usage.ts';
import { bodyObject } from './common.ts';

const quotaJson = (q: Quota) => ({ storage_bytes: q.storageBytes, packages: q.packages, source: q.override ? 'owner' : 'default' });

const reportJson = (r: UsageReport) => ({
  owner: r.owner.name,
  storage_bytes: r.usage.bytes,
  package_count: r.usage.packages,
  version_count: r.usage.versions,
  download_count: r.usage.downloads,
  quota: quotaJson(r.quota),
  packages: r.packages.map((p) => ({ package_type: p.type, name: p.name, storage_bytes: p.bytes, version_count: p.versions, download_count: p.downloads })),
});

/** A limit in a body: a number, a size string (storage), or null for the default; undefined leaves it. */
function limit(v: unknown, what: string, size: boolean): number | null | undefined {
  if (v === undefined || v === null) return v;
  if (typeof v === 'number') return v;
  if (size && typeof v === 'string' && parseSize(v) !== undefined) return parseSize(v);
  throw invalid(`${what} must be ${size ? 'a size such as "10GiB", a number of bytes' : 'a number'} or null`);
}

export async function usageRoutes(app: FastifyInstance, core: Core): Promise<void> {
  const usage = core.publisher.usage;
  for (const kind of ['orgs', 'users']) {
    app.get(`/${kind}/:owner/settings/billing/packages`, async (req: FastifyRequest) => reportJson(await usage.report(req.actor, (req.params as { owner: string }).owner)));
  }
  const owner = (req: FastifyRequest) => (req.params as { owner: string }).owner;
  app.get('/admin/quotas/:owner', async (req) => quotaJson((await usage.report(req.actor, owner(req))).quota));
  app.put('/admin/quotas/:owner', async (req) => {
    const b = bodyObject(req.body);
    return quotaJson(await usage.setQuotaAs(req.actor, owner(req), { storageBytes: limit(b.storage ?? b.storage_bytes, 'storage', true), packages: limit(b.packages, 'packages', false) }));
  });
  app.delete('/admin/quotas/:owner', async (req, reply) => {
    await usage.setQuotaAs(req.actor, owner(req), { storageBytes: null, packages: null });
    return reply.code(204).send();
  });
}
