// Personal access tokens: create (shown once), list, revoke. core.tokens decides who may (the `user` scope for
// one's own, `site_admin` for anyone's; a credential grants only scopes it holds).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseDuration, parseScopes } from '../../core/auth/tokens.ts';
import type { Core } from '../../core/core.ts';
import { forbidden, invalid } from '../../core/errors.ts';
import { bodyObject, idParam, requireAdmin, requireUser } from './common.ts';

type P = Record<string, string>;

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
    const { token, info } = await core.tokens.createPersonal(req.actor, userName, { scopes: [...parsed].join(','), name: typeof b.name === 'string' ? b.name : undefined, expiresInMs });
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
