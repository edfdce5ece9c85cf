// Personal access tokens: create (shown once), list, revoke. A token can mint only tokens with its own scopes.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseDuration, parseScopes } from '../../core/auth/tokens.ts';
import type { Core } from '../../core/core.ts';
import { forbidden, invalid } from '../../core/errors.ts';
import { bodyObject, idParam, requireAdmin, requireUser } from './common.ts';

type P = Record<string, string>;

export async function tokenRoutes(app: FastifyInstance, core: Core): Promise<void> {
  const create = async (req: FastifyRequest, userName: string, scopesCap: ReadonlySet<string>) => {
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
    for (const s of parsed) if (!scopesCap.has(s)) throw forbidden(`your credentials lack ${s}, so they cannot grant it`);
    const { token, info } = await core.tokens.createPersonal(userName, { scopes: [...parsed].join(','), name: typeof b.name === 'string' ? b.name : undefined, expiresInMs });
    return { ...info, token };
  };

  app.get('/user/tokens', async (req) => {
    const a = requireUser(req.actor);
    return core.tokens.listForUser(a.user.id);
  });
  app.post('/user/tokens', async (req, reply) => {
    const a = requireUser(req.actor);
    return reply.code(201).send(await create(req, a.user.name, a.scopes));
  });
  app.delete('/user/tokens/:id', async (req, reply) => {
    const a = requireUser(req.actor);
    await core.tokens.revoke(idParam((req.params as P).id), a.user.id);
    return reply.code(204).send();
  });
  // Admins mint tokens for others (what `wharf token create USER` does locally).
  app.post('/admin/users/:user/tokens', async (req, reply) => {
    const a = requireAdmin(req.actor);
    return reply.code(201).send(await create(req, (req.params as P).user, a.scopes));
  });
  app.delete('/admin/tokens/:id', async (req, reply) => {
    requireAdmin(req.actor);
    await core.tokens.revoke(idParam((req.params as P).id));
    return reply.code(204).send();
  });
}
