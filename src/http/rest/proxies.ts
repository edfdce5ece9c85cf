// Pull-through proxies, for site administrators (core/proxy/proxies.ts decides): GET/POST /admin/proxies,
// GET/PATCH/DELETE /admin/proxies/:name, and the names that never fall through to a default proxy:
// GET /admin/proxy-blocks?format=npm, POST /admin/proxy-blocks {format, pattern}, DELETE /admin/proxy-blocks?format=&pattern=.
// A proxy's packages are an organization's: /orgs/:name/packages lists them like any other. The password is
// write-only (`has_password` says whether one is set).
import type { FastifyInstance } from 'fastify';
import type { Core } from '../../core/core.ts';
import { invalid, notFound } from '../../core/errors.ts';
import { checkVisibility } from '../../core/identity/identity.ts';
import { publicInfo, type ProxyInfo, type ProxyInput } from '../../core/proxy/proxies.ts';
import { baseUrlOf } from '../actor.ts';
import { bodyObject, str } from './common.ts';

type P = { name: string };

const json = (p: ProxyInfo, base: string) => ({
  name: p.name, format: p.format, upstream: p.upstream, username: p.username, has_password: p.hasPassword, visibility: p.visibility,
  ttl_seconds: p.ttlSeconds, timeout_seconds: p.timeoutMs / 1000, default: p.isDefault, created_at: p.createdAt,
  url: `${base}/api/v1/admin/proxies/${p.name}`, packages_url: `${base}/api/v1/orgs/${p.name}/packages`,
  registry_url: p.format === 'npm' ? `${base}/npm/${p.name}/` : p.format === 'container' ? `${base.replace(/^https?:\/\//, '')}/${p.name}` : null,
});

/** The settings in a body; each field optional, each checked. */
function inputOf(b: Record<string, unknown>): ProxyInput {
  const input: ProxyInput = {};
  const opt = (k: string) => (b[k] === undefined ? undefined : b[k] === null ? null : str(b[k], k));
  if (b.upstream !== undefined) input.upstream = str(b.upstream, 'upstream');
  if (b.username !== undefined) input.username = opt('username');
  if (b.password !== undefined) input.password = opt('password');
  if (b.visibility !== undefined) input.visibility = checkVisibility(str(b.visibility, 'visibility'));
  const num = (k: string) => {
    if (b[k] === undefined) return undefined;
    if (typeof b[k] !== 'number') throw invalid(`${k} must be a number`);
    return b[k] as number;
  };
  input.ttlSeconds = num('ttl_seconds');
  const timeout = num('timeout_seconds');
  if (timeout !== undefined) input.timeoutMs = Math.round(timeout * 1000);
  if (b.default !== undefined) {
    if (typeof b.default !== 'boolean') throw invalid('default must be true or false');
    input.isDefault = b.default;
  }
  return input;
}

export async function proxyRoutes(app: FastifyInstance, core: Core): Promise<void> {
  app.get('/admin/proxies', async (req) => (await core.proxies.listFor(req.actor)).map((p) => json(p, baseUrlOf(core, req))));

  app.post('/admin/proxies', async (req, reply) => {
    const b = bodyObject(req.body);
    const p = await core.proxies.create(req.actor, str(b.name, 'name'), { ...inputOf(b), format: str(b.format, 'format') });
    return reply.code(201).send(json(publicInfo(p), baseUrlOf(core, req)));
  });

  app.get('/admin/proxies/:name', async (req) => {
    const name = (req.params as P).name.toLowerCase();
    const p = (await core.proxies.listFor(req.actor)).find((x) => x.name.toLowerCase() === name);
    if (!p) throw notFound(`no proxy named "${(req.params as P).name}"`);
    return json(p, baseUrlOf(core, req));
  });

  app.patch('/admin/proxies/:name', async (req) => {
    const p = await core.proxies.update(req.actor, (req.params as P).name, inputOf(bodyObject(req.body)));
    return json(publicInfo(p), baseUrlOf(core, req));
  });

  app.delete('/admin/proxies/:name', async (req, reply) => {
    await core.proxies.remove(req.actor, (req.params as P).name);
    return reply.code(204).send();
  });

  app.get('/admin/proxy-blocks', async (req) => {
    const format = (req.query as Record<string, string | undefined>).format ?? 'npm';
    return (await core.proxies.blocksFor(req.actor, format)).map((pattern) => ({ format, pattern }));
  });

  app.post('/admin/proxy-blocks', async (req, reply) => {
    const b = bodyObject(req.body);
    const format = b.format === undefined ? 'npm' : str(b.format, 'format');
    const pattern = str(b.pattern, 'pattern');
    await core.proxies.block(req.actor, format, pattern);
    return reply.code(201).send({ format, pattern });
  });

  app.delete('/admin/proxy-blocks', async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    await core.proxies.unblock(req.actor, q.format ?? 'npm', str(q.pattern, 'pattern'));
    return reply.code(204).send();
  });
}
