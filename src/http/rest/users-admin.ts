// Suspending, promoting and deleting users, at GitHub Enterprise's paths: PUT/DELETE /users/:user/suspended and
// PUT/DELETE /users/:user/site_admin (204), and
// DELETE /admin/users/:user (204; `?force=true` also deletes the packages the user owns). Site administrators only:
// the core verbs decide (core/identity/identity.ts).
import type { FastifyInstance } from 'fastify';
import type { Core } from '../../core/core.ts';

type P = { user: string };

export async function userAdminRoutes(app: FastifyInstance, core: Core): Promise<void> {
  app.put('/users/:user/suspended', async (req, reply) => {
    await core.identity.suspendUser(req.actor, (req.params as P).user);
    return reply.code(204).send();
  });

  app.delete('/users/:user/suspended', async (req, reply) => {
    await core.identity.unsuspendUser(req.actor, (req.params as P).user);
    return reply.code(204).send();
  });

  app.put('/users/:user/site_admin', async (req, reply) => {
    await core.identity.setSiteAdmin(req.actor, (req.params as P).user, true);
    return reply.code(204).send();
  });

  app.delete('/users/:user/site_admin', async (req, reply) => {
    await core.identity.setSiteAdmin(req.actor, (req.params as P).user, false);
    return reply.code(204).send();
  });

  app.delete('/admin/users/:user', async (req, reply) => {
    const force = (req.query as Record<string, string | undefined>).force === 'true';
    await core.identity.deleteUser(req.actor, (req.params as P).user, { force });
    return reply.code(204).send();
  });
}
