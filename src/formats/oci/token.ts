// Docker token authentication: GET /v2/token?service=…&scope=repository:NAME:ACTIONS. The client may send Basic
// credentials (a user with a personal access token or password, or a job token) or none. The token grants
// only the requested actions the actor is allowed, and lives five minutes.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Actor } from '../../core/auth/actor.ts';
import type { Action } from '../../core/auth/authorize.ts';
import type { RegistryClaims, RepositoryAccess } from '../../core/auth/registry-tokens.ts';
import type { Core } from '../../core/core.ts';
import { parseOciName } from './names.ts';

const TTL_SECONDS = 300;
const ACTIONS: Record<string, Action> = { pull: 'read', push: 'write', delete: 'delete' };

export async function tokenEndpoint(app: FastifyInstance, core: Core): Promise<void> {
  /** The subset of `wanted` actions the actor may do on the repository. */
  async function allowed(actor: Actor, name: string, wanted: string[]): Promise<string[]> {
    let n;
    try {
      n = parseOciName(name);
    } catch {
      return [];
    }
    const all = wanted.includes('*') ? ['pull', 'push', 'delete'] : wanted.filter((a) => a in ACTIONS);
    const pkg = await core.packages.find(n.owner, 'container', n.name);
    const out: string[] = [];
    for (const a of all) {
      try {
        if (pkg) await core.authz.authorize(actor, ACTIONS[a], pkg);
        else if (a === 'push') {
          // A repository that does not exist yet: push means creating it under its owner.
          const owner = await core.identity.findOwner(n.owner);
          if (!owner) continue;
          if (actor.kind === 'job') {
            if (owner.id !== actor.repositoryOwnerId) continue;
          } else await core.authz.authorizeCreate(actor, owner, null);
        } else if (a !== 'pull') continue;
        else continue;
        out.push(a);
      } catch {
        // not allowed: left out of the token, as the Docker token spec says
      }
    }
    if (pkg === undefined && out.includes('push') && !out.includes('pull')) out.unshift('pull');
    return out;
  }

  const issue = async (req: FastifyRequest) => {
    const q = req.query as Record<string, string | string[] | undefined>;
    const scopes = ([] as string[]).concat(q.scope ?? []).flatMap((s) => s.split(' ')).filter(Boolean);
    const actor = req.actor;
    const access: RepositoryAccess[] = [];
    for (const scope of scopes) {
      const m = /^repository(?:\([^)]*\))?:(.+):([a-z*,]*)$/.exec(scope);
      if (!m) continue;
      const actions = await allowed(actor, m[1], m[2].split(',').filter(Boolean));
      const existing = access.find((a) => a.name === m[1]);
      if (existing) existing.actions = [...new Set([...existing.actions, ...actions])];
      else access.push({ type: 'repository', name: m[1], actions });
    }
    const who: RegistryClaims['wharf'] =
      actor.kind === 'user' ? { kind: 'user', uid: actor.user.id, tid: actor.tokenId } : actor.kind === 'job' ? { kind: 'job', tid: actor.tokenId } : { kind: 'anonymous' };
    const service = typeof q.service === 'string' ? q.service : req.headers.host ?? 'wharf';
    const subject = actor.kind === 'user' ? actor.user.name : actor.kind === 'job' ? `job:${actor.repositoryName}` : 'anonymous';
    const token = await core.registryTokens.issue({ wharf: who, access }, { service, subject, ttlSeconds: TTL_SECONDS });
    return { token, access_token: token, expires_in: TTL_SECONDS, issued_at: new Date().toISOString() };
  };

  app.get('/token', issue);
  // Some clients (podman login, OAuth2-capable clients) POST a form; credentials still arrive as Basic.
  app.post('/token', issue);
}
