// Personal access tokens: create (shown once), list, revoke. core.tokens decides who may (the `user` scope for
// one's own, `site_admin` for anyone's; a credential grants only scopes it holds).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { checkKnownTypes, parseResource, REACHES, type ResourceSpec } from '../../core/auth/selection.ts';
import { parseDuration, parseScopes } from '../../core/auth/tokens.ts';
import type { Core } from '../../core/core.ts';
import { invalid } from '../../core/errors.ts';
import { formats } from '../../formats/index.ts';
import { bodyObject, idParam, requireUser } from './common.ts';

type P = Record<string, string>;

/**
 * A fine-grained token's `resources`: `[{ owner, repository?, package?: { type, name }, permission? }]`, or the
 * text form the CLI takes (`"npm:alice/web=write"`). GitHub has no API to create a fine-grained PAT, and its
 * listing (`repository_selection` + one `permissions` map for all) cannot say "write here, read there"; a list
 * of resources, each with a `permission` as this API's collaborator grants have, can.
 */
const resourceSchema = z.object({
  owner: z.string().min(1).max(100),
  repository: z.string().min(1).max(100).nullish(),
  package: z.object({ type: z.string().min(1).max(32), name: z.string().min(1).max(300) }).strict().nullish(),
  permission: z.enum(REACHES as [string, ...string[]]).nullish(),
}).strict();
const resourcesSchema = z.array(z.unknown()).min(1, 'name at least one owner, repository or package').max(100, 'at most 100 resources').nullish();

const zodMessage = (e: z.ZodError, at: string) => {
  const issue = e.issues[0];
  return `${at}${issue.path.map((p) => `[${JSON.stringify(p)}]`).join('')}: ${issue.message}`;
};

/** The `resources` of a request body, checked; undefined when absent (a classic token). */
export function parseResources(body: unknown): ResourceSpec[] | undefined {
  const list = resourcesSchema.safeParse(body);
  if (!list.success) throw invalid(zodMessage(list.error, 'resources'));
  if (list.data == null) return undefined;
  const specs = list.data.map((item, i) => {
    if (typeof item === 'string') return parseResource(item);
    const r = resourceSchema.safeParse(item);
    if (!r.success) throw invalid(zodMessage(r.error, `resources[${i}]`));
    return r.data as ResourceSpec;
  });
  checkKnownTypes(specs, formats.map((f) => f.type));
  return specs;
}

export async function tokenRoutes(app: FastifyInstance, core: Core): Promise<void> {
  const create = async (req: FastifyRequest, userName: string) => {
    const b = bodyObject(req.body);
    const scopes = Array.isArray(b.scopes) ? b.scopes.join(',') : typeof b.scopes === 'string' ? b.scopes : '';
    let parsed;
    let expiresInMs: number | null = null;
    try {
      parsed = parseScopes(scopes);
      if (typeof b.expires_in === 'string') expiresInMs = parseDuration(b.expires_in);
      else if (typeof b.expires_at === 'string') {
        expiresInMs = Date.parse(b.expires_at) - Date.now();
        if (!(expiresInMs > 0)) throw new Error('expires_at must be a future date');
      }
    } catch (e) {
      throw invalid((e as Error).message);
    }
    const resources = parseResources(b.resources);
    const { token, info } = await core.tokens.createPersonal(req.actor, userName, { scopes: [...parsed].join(','), name: typeof b.name === 'string' ? b.name : undefined, expiresInMs, resources });
    return { ...info, token };
  };

  app.get('/user/tokens', async (req) => {
    const a = requireUser(req.actor);
    return core.tokens.listForUser(a, a.user.id);
  });
  app.post('/user/tokens', async (req, reply) => {
    const a = requireUser(req.actor);
    return reply.code(201).send(await create(req, a.user.name));
  });
  app.delete('/user/tokens/:id', async (req, reply) => {
    const a = requireUser(req.actor);
    await core.tokens.revoke(a, idParam((req.params as P).id), a.user.id);
    return reply.code(204).send();
  });
  // Admins mint tokens for others (what `wharf token create USER` does locally).
  app.post('/admin/users/:user/tokens', async (req, reply) => {
    return reply.code(201).send(await create(req, (req.params as P).user));
  });
  app.delete('/admin/tokens/:id', async (req, reply) => {
    await core.tokens.revoke(req.actor, idParam((req.params as P).id));
    return reply.code(204).send();
  });
}
